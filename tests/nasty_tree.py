"""A share tree with everything SharePoint refuses, and what the manifest must say about each entry."""

from __future__ import annotations

import os
from pathlib import Path

SITE = "https://tenant.sharepoint.com/sites/" + "S" * 50  # site path: 56 characters
LIBRARY_URL = "Shared Documents"  # the default Documents library
PREFIX = len("sites/" + "S" * 50) + 1 + len(LIBRARY_URL) + 1

OLD = 1262304000  # 2010-01-01: stale by 2021


def build(root: Path) -> dict[bytes, tuple[str, set[str]]]:
    """Create the tree under `root`; return {relative path bytes: (action, reasons that must be there)}."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[bytes, tuple[str, set[str]]] = {}

    def file(
        rel: str | bytes,
        content: bytes = b"x",
        action: str = "migrate",
        reasons: set[str] = frozenset(),
        mtime: int | None = None,
    ) -> None:
        raw = rel if isinstance(rel, bytes) else rel.encode()
        path = os.path.join(os.fsencode(root), raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
        if mtime:
            os.utime(path, (mtime, mtime))
        expect[raw] = (action, set(reasons) | ({"EMPTY_FILE"} if not content else set()))

    file("ok/plain.txt", b"plain content")
    # every one of these becomes chars/a_b.txt: the first in path order keeps the name, the others collide
    for i, ch in enumerate(sorted('"*:<>?\\|')):
        if i == 0:
            file(f"chars/a{ch}b.txt", f"char {ch}".encode(), "migrate", {"INVALID_CHARS"})
        else:
            file(f"chars/a{ch}b.txt", f"char {ch}".encode(), "review", {"INVALID_CHARS", "TARGET_COLLISION"})
    file("chars/ctl\x01.txt", b"control", "migrate", {"INVALID_CHARS"})
    for name in (".lock", "CON", "prn", "AUX", "NUL", "COM1", "LPT9", "COM0"):
        file(f"reserved/{name}", f"reserved {name}".encode(), "review", {"RESERVED_NAME"})
    file("reserved/x_vti_y.txt", b"vti", "review", {"RESERVED_NAME"})
    file("reserved/deep/forms/ok.txt", b"forms deeper than the root is fine")
    file("forms/at-root.txt", b"forms at the library root", "review", {"RESERVED_NAME"})
    file("formsfile/forms", b"a file named forms is fine")
    file("~$owner/inside.txt", b"a folder starting with ~$", "review", {"RESERVED_NAME"})
    file("~tilde-dir/inside.txt", b"a folder starting with ~", "review", {"RESERVED_NAME"})
    file("tilde/~file.txt", b"a file starting with ~ is fine")
    # collisions SharePoint would merge: case, trims, renames, a file where a folder lands
    file("Rapporter/Budsjett.xlsx", b"budget, upper case")
    file("rapporter/budsjett.xlsx", b"budget, lower case", "review", {"TARGET_COLLISION"})
    file("trim/x.txt", b"x plain")
    file("trim/x.txt ", b"x with a trailing space", "review", {"LEADING_TRAILING_SPACE", "TARGET_COLLISION"})
    file("clash/a:b.txt", b"renamed to a_b, first in path order (':' sorts before '_')", "migrate", {"INVALID_CHARS"})
    file("clash/a_b.txt", b"already named a_b, but later", "review", {"TARGET_COLLISION"})
    file("fileorfolder/Name", b"a file called Name")
    file("fileorfolder/name/inner.txt", b"a folder landing on the file Name", "review", {"TARGET_COLLISION"})
    file("reserved/desktop.ini", b"[.ShellClassInfo]", "skip", {"JUNK", "RESERVED_NAME"})
    file(" lead.txt", b"lead", "migrate", {"LEADING_TRAILING_SPACE"})
    file("trail.txt ", b"trail", "migrate", {"LEADING_TRAILING_SPACE"})
    file("space dir /inner.txt", b"inner", "migrate", {"LEADING_TRAILING_SPACE"})
    file(b"latin/caf\xe9.txt", b"latin-1 name", "review", {"NOT_UTF8"})
    file("empty/zero.txt", b"", "migrate", set())
    file("junk/Thumbs.db", b"thumbs", "skip", {"JUNK"})
    file("junk/~$report.docx", b"lock", "skip", {"JUNK", "RESERVED_NAME"})
    file("junk/scratch.TMP", b"tmp", "skip", {"JUNK"})
    file("junk/.DS_Store", b"ds", "skip", {"JUNK"})
    file("old/ancient.doc", b"from 2010", "review", {"STALE"}, mtime=OLD)
    file("dups/a-first.txt", b"same content twice", "migrate", set())
    file("dups/b-second.txt", b"same content twice", "review", {"DUPLICATE"})
    file("dups/c-same-size.txt", b"SAME CONTENT TWICE", "migrate", set())  # same size, other bytes
    file("Arkiv/2019/report.pdf", b"archived", "skip", {"ROUTED_SKIP"})
    # a path that passes 400 characters only once the site and library are added
    long_rel = "L" * 200 + "/" + "f" * (399 - PREFIX - 201 + 40) + ".txt"
    assert len(long_rel) <= 400 < PREFIX + len(long_rel)
    file(long_rel, b"long", "review", {"PATH_TOO_LONG"})
    short_rel = "M" * 200 + "/" + "g" * (400 - PREFIX - 201 - 4) + ".txt"
    assert PREFIX + len(short_rel) == 400
    file(short_rel, b"just fits")
    # a sparse file over 250 GiB: no disk used
    big = root / "big" / "disk.vhdx"
    big.parent.mkdir()
    with open(big, "wb") as handle:
        handle.truncate(251 * 1024**3)
    expect[b"big/disk.vhdx"] = ("review", {"FILE_TOO_LARGE"})
    with open(big.parent / "exactly-250GB.vhdx", "wb") as handle:
        handle.truncate(250 * 10**9)  # Microsoft's 250 GB, read as 10^9 bytes: the limit itself is allowed
    expect[b"big/exactly-250GB.vhdx"] = ("migrate", set())
    # a symlink loop, never followed
    os.symlink("..", root / "ok" / "loop")
    expect[b"ok/loop"] = ("skip", {"SYMLINK"})
    return expect


def add_unreadable(root: Path) -> dict[bytes, tuple[str, set[str]]]:
    locked = root / "locked"
    (locked / "inside").mkdir(parents=True)
    (locked / "inside" / "secret.txt").write_bytes(b"cannot be listed")
    os.chmod(locked, 0)
    return {b"locked": ("review", {"UNREADABLE"})}


def plan_yaml(source: str, extra: str = "") -> str:
    return f"""kind: share-migration
name: Nasty
policy: {{stale_after_years: 5, stale_action: review, duplicates: review, invalid_chars: replace, replacement: "_"}}
shares:
  - id: nasty
    source: "{source}"
    department: Test
    target: {{site: "{SITE}", library: Documents, folder: ""}}
    read_only_from: 2021-09-01
    delete_after_days: 90
    routes:
      - {{match: "Arkiv/**", action: skip}}
{extra}"""
