"""SMB share sources (SPEC §5.3) against a real Samba server on loopback: the scan of a tree over SMB gives the same
manifest as a local scan of it; Windows attributes (hidden, system, offline stubs) are recorded and acted on;
every failure to reach a share is one sentence, without the password."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import nasty_tree
import pytest
from conftest import run_cli
from servers import SMB_PASSWORD, free_port

TODAY = "2021-04-20"
RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)


def representable(rel: bytes) -> bool:
    """A path a Windows file server can hold, so Samba shows it as it is (others it mangles to 8.3 aliases)."""
    try:
        text = rel.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for seg in text.split("/"):
        if re.search(r'["*:<>?\\|\x00-\x1f]', seg) or seg.endswith((" ", ".")) or RESERVED.match(seg):
            return False
    return True


def windows_tree(root: Path) -> None:
    """The nasty tree without what cannot exist on a Windows share (and without the symlink, which Samba hides)."""
    expect = nasty_tree.build(root)
    os.unlink(root / "ok" / "loop")
    for rel in sorted(expect, key=len, reverse=True):
        if not representable(rel):
            os.unlink(os.path.join(os.fsencode(root), rel))
    for dirpath, _dirs, _files in os.walk(root, topdown=False):
        if not os.listdir(dirpath):
            os.rmdir(dirpath)


def share_plan(path: Path, source: str, extra: str = "") -> Path:
    secret = "    password_env: OSLOMIG_TEST_SMB_PW\n" if source.startswith("smb://") else ""
    path.write_text(nasty_tree.plan_yaml(source, secret + extra), encoding="utf-8")
    return path


def scan_and_manifest(plan: Path, work: Path, name: str) -> Path:
    db, out = work / f"{name}.sqlite", work / name
    env = {"OSLOMIG_TEST_SMB_PW": SMB_PASSWORD}
    proc = run_cli("share", "scan", "--plan", str(plan), "--db", str(db), env=env)
    assert proc.returncode == 0, proc.stderr
    assert SMB_PASSWORD not in proc.stderr + proc.stdout
    proc = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    return out


def test_an_smb_scan_gives_the_manifest_of_a_local_scan_of_the_same_tree(smb_server, tmp_path):
    tree = smb_server.root / "nasty"
    windows_tree(tree)
    os.chmod(tree, 0o755)
    local = scan_and_manifest(share_plan(tmp_path / "local.yaml", str(tree)), tmp_path, "local")
    over_smb = scan_and_manifest(share_plan(tmp_path / "smb.yaml", smb_server.url("dept", "nasty")), tmp_path, "smb")
    for name in ("manifest.csv", "summary.csv", "review-nasty.csv"):
        assert (over_smb / name).read_text(encoding="utf-8") == (local / name).read_text(encoding="utf-8"), name
    rows = (over_smb / "manifest.csv").read_text(encoding="utf-8")
    # the rules did run over SMB: duplicates by content (read over SMB), stale by time, SharePoint's names
    assert "dups/b-second.txt" in rows and ",review,DUPLICATE," in rows
    assert "old/ancient.doc,9,2010-01-01T01:00:00+01:00,review,STALE," in rows
    assert "reserved/COM0" not in rows or ",review,RESERVED_NAME," in rows
    # the share's UNC path is where SPMT reads it (spmt_source defaults from the URL)
    proc = run_cli("validate", str(tmp_path / "smb.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_size_collisions_are_read_and_hidden_and_system_files_are_recorded(smb_server, tmp_path):
    tree = smb_server.root / "attrs"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"same size 1")
    (tree / "b.txt").write_bytes(b"same size 2")
    (tree / "unique.txt").write_bytes(b"a size nobody else has")
    (tree / ".hidden-notes.txt").write_bytes(b"hidden, of a size of its own")
    (tree / "sub" / "boot.sys").write_bytes(b"system")
    os.chmod(tree / "sub" / "boot.sys", 0o654)  # group-execute: Samba shows it with the system attribute
    for d in (tree, tree / "sub"):
        os.chmod(d, 0o755)
    out = scan_and_manifest(share_plan(tmp_path / "p.yaml", smb_server.url("dept", "attrs")), tmp_path, "out")
    con = sqlite3.connect(tmp_path / "out.sqlite")
    rows = {r[0].decode(): r[1:] for r in con.execute("SELECT path, kind, attributes, prefix_hash FROM files")}
    assert rows[".hidden-notes.txt"][1] & 0x2 and not rows["a.txt"][1] & 0x2
    assert rows["sub/boot.sys"][1] & 0x4
    assert rows["a.txt"][2] is not None and rows["b.txt"][2] is not None  # sizes collide: read
    assert rows["unique.txt"][2] is None and rows[".hidden-notes.txt"][2] is None  # never opened
    manifest = (out / "manifest.csv").read_text(encoding="utf-8")
    assert "sub/boot.sys,6," in manifest and ",review,SYSTEM_FILE," in manifest
    assert ".hidden-notes.txt,28," in manifest and "HIDDEN" not in manifest  # SPMT moves hidden files


def test_offline_stubs_go_to_review_and_are_never_opened(smb_server, tmp_path):
    tree = smb_server.archive / "Arkiv2009"
    tree.mkdir()
    for name in ("rapport-a.pdf", "rapport-b.pdf"):
        (tree / name).write_bytes(b"twins, same size")  # a size collision: a file scan would read both
    os.chmod(tree, 0o755)
    plan = share_plan(tmp_path / "p.yaml", smb_server.url("archive", "Arkiv2009"))
    out = scan_and_manifest(plan, tmp_path, "out")
    con = sqlite3.connect(tmp_path / "out.sqlite")
    kinds = {
        r[0].decode(): (r[1], r[2], r[3]) for r in con.execute("SELECT path, kind, attributes, prefix_hash FROM files")
    }
    assert kinds == {
        "rapport-a.pdf": ("offline", kinds["rapport-a.pdf"][1], None),
        "rapport-b.pdf": ("offline", kinds["rapport-b.pdf"][1], None),
    }
    assert all(v[1] & 0x1000 for v in kinds.values())
    rows = (out / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 2 and all(",review,OFFLINE," in r for r in rows)
    assert "OFFLINE" in (out / "review-nasty.csv").read_text(encoding="utf-8-sig")


def test_an_unreadable_folder_over_smb_is_recorded_for_review(smb_server, tmp_path):
    tree = smb_server.root / "locked-case"
    tree.mkdir()
    (tree / "open.txt").write_bytes(b"open")
    nasty_tree.add_unreadable(tree)
    os.chmod(tree, 0o755)
    try:
        out = scan_and_manifest(share_plan(tmp_path / "p.yaml", smb_server.url("dept", "locked-case")), tmp_path, "o")
    finally:
        os.chmod(tree / "locked", 0o755)
    manifest = (out / "manifest.csv").read_text(encoding="utf-8")
    assert "locked,0," in manifest and ",review,UNREADABLE," in manifest


def test_failures_to_reach_a_share_are_one_sentence_without_the_password(smb_server, tmp_path):
    env = {"OSLOMIG_SMB_PASSWORD": SMB_PASSWORD}
    cases = {
        smb_server.url("dept").replace(smb_server.user, "nobody-here"): "refused the log-on of nobody-here",
        smb_server.url("no-such-share", "x"): "there is no share named 'no-such-share'",
        smb_server.url("dept", "no/such/folder"): "there is no folder",
        f"smb://someone@127.0.0.1:{free_port()}/dept": "cannot connect to 127.0.0.1:",
    }
    for url, sentence in cases.items():
        proc = run_cli("share", "scan", url, "--db", str(tmp_path / "s.sqlite"), env=env)
        assert proc.returncode == 1, (url, proc.stderr)
        assert sentence in proc.stderr, (url, proc.stderr)
        assert "Traceback" not in proc.stderr and SMB_PASSWORD not in proc.stderr + proc.stdout
    wrong = run_cli("share", "scan", smb_server.url("dept"), "--db", str(tmp_path / "s.sqlite"),
                    env={"OSLOMIG_SMB_PASSWORD": "not-it"})  # fmt: skip
    assert wrong.returncode == 1 and "wrong user name or password" in wrong.stderr
    unset = run_cli("share", "scan", smb_server.url("dept"), "--db", str(tmp_path / "s.sqlite"))
    assert unset.returncode == 1 and "OSLOMIG_SMB_PASSWORD" in unset.stderr
    assert not (tmp_path / "s.sqlite").exists()  # nothing scanned, no empty database left behind


def test_smb_urls_and_plans_are_checked_before_anything_connects(tmp_path):
    from oslomig.smburl import parse_smb_url

    u = parse_smb_url("smb://OSLO;kari@filsrv01:4455/INE/Felles/Økonomi%20og%20lønn")
    assert (u.username, u.server, u.port, u.share, u.path) == ("OSLO\\kari", "filsrv01", 4455, "INE",
                                                               "Felles\\Økonomi og lønn")  # fmt: skip
    assert u.unc("a/b.txt") == "\\\\filsrv01\\INE\\Felles\\Økonomi og lønn\\a\\b.txt"
    for bad, why in (
        ("smb://kari:hemmelig@filsrv01/INE", "a password never goes in an smb:// URL"),
        ("smb://filsrv01/INE", "is not an SMB source"),
        ("smb://kari@filsrv01/", "is not an SMB source"),
        ("smb://kari@filsrv01/INE/../x", "'.' and '..' are not allowed"),
    ):
        try:
            parse_smb_url(bad)
        except ValueError as exc:
            assert why in str(exc) and "hemmelig" not in str(exc), (bad, exc)
        else:
            raise AssertionError(bad)
    plan = tmp_path / "p.yaml"
    plan.write_text(nasty_tree.plan_yaml("smb://kari@filsrv01/INE/Felles"), encoding="utf-8")
    proc = run_cli("validate", str(plan))
    assert proc.returncode == 1 and "needs exactly one of `password_env` or `password_file`" in proc.stdout
    plan.write_text(nasty_tree.plan_yaml("/srv/x", "    password_env: X\n"), encoding="utf-8")
    proc = run_cli("validate", str(plan))
    assert proc.returncode == 1 and "`password_env` is for smb:// sources" in proc.stdout


def test_the_spmt_source_of_an_smb_share_is_its_unc_path():
    from oslomig.models import ShareSpec

    spec = ShareSpec.model_validate(
        {
            "id": "x",
            "source": "smb://kari@filsrv01/INE/Felles",
            "password_env": "PW",
            "target": {"site": "https://t.sharepoint.com/sites/x", "library": "Documents"},
        }
    )
    assert spec.spmt_source == "\\\\filsrv01\\INE\\Felles"
    given = spec.model_copy(update={"spmt_source": "\\\\dfs\\x"})
    assert given.spmt_source == "\\\\dfs\\x"


def test_local_scans_still_read_scan_files_from_before_the_attributes_column(tmp_path):
    from oslomig.shares.store import ScanStore

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE scans (id INTEGER PRIMARY KEY, share TEXT NOT NULL, source TEXT NOT NULL, started_at REAL NOT "
        "NULL, finished_at REAL, files INTEGER DEFAULT 0, problems INTEGER DEFAULT 0);"
        "CREATE TABLE files (scan_id INTEGER NOT NULL, path BLOB NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL, "
        "mtime REAL NOT NULL, owner TEXT, prefix_hash TEXT, full_hash TEXT, PRIMARY KEY (scan_id, path)) WITHOUT ROWID;"
        "CREATE TABLE problems (scan_id INTEGER NOT NULL, path BLOB NOT NULL, kind TEXT NOT NULL, message TEXT);"
        "INSERT INTO scans VALUES (1, 's', '/x', 1, 2, 1, 0);"
        "INSERT INTO files VALUES (1, X'612e747874', 'file', 3, 5.0, 'kari', NULL, NULL);"
    )
    con.close()
    reading = ScanStore(db, create=False)
    assert list(reading.iter_files(1)) == [(b"a.txt", "file", 3, 5.0, "kari", None, None)]
    reading.close()
    writing = ScanStore(db)  # a new scan into it: the column is added
    assert writing.attributes == "attributes"
    writing.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_fast_directory_parser_agrees_with_smbprotocols_own(smb_server):
    """listdir parses QUERY_DIRECTORY responses itself (struct, 1 MiB at a time); smbprotocol's scandir parses the
    same responses its own way. Over a folder of 3,000 entries (several responses) and a folder of odd names."""
    from oslomig.shares.smb import SmbShare

    big = smb_server.root / "many"
    big.mkdir()
    for i in range(3000):
        (big / f"dokument med et ganske langt navn nummer {i:05d} æøå.docx").write_bytes(b"x" * (i % 17))
    odd = smb_server.root / "odd"
    odd.mkdir()
    for name in (" lead.txt", "#hash%.txt", "€uro—dash.txt", "日本語.txt", "emoji 📁.txt", ".dot"):
        (odd / name).write_bytes(b"odd")
    for d in (big, odd):
        os.chmod(d, 0o755)
    share = SmbShare(smb_server.url("dept"), SMB_PASSWORD)
    share.connect()
    try:
        for rel in ("many", "odd"):
            fast = sorted(share.listdir(rel))
            slow = sorted(share._listdir_scandir(rel))
            assert len(fast) == len(slow) == len(os.listdir(smb_server.root / rel))
            for (name, attrs, size, mtime, tag), theirs in zip(fast, slow):
                assert (name, attrs, size, tag) == (theirs[0], theirs[1], theirs[2], theirs[4])
                assert abs(mtime - theirs[3]) < 2e-6  # theirs a datetime (microseconds), ours 100 ns ticks
            assert {name for name, *_ in fast} == set(os.listdir(smb_server.root / rel))
    finally:
        share.close()


def test_an_smb_share_is_staged_by_stage_ps1_on_its_server(smb_server, tmp_path):
    tree = smb_server.root / "stage-me"
    (tree / "Prosjekt").mkdir(parents=True)
    (tree / "Prosjekt" / "plan.docx").write_bytes(b"plan")
    (tree / "notat.txt").write_bytes(b"notat")
    for d in (tree, tree / "Prosjekt"):
        os.chmod(d, 0o755)
    unc = "\\\\127.0.0.1\\dept\\.staging\\nasty"
    extra = f"    staging: '{unc}'\n"
    plan = share_plan(tmp_path / "p.yaml", smb_server.url("dept", "stage-me"), extra)
    out = scan_and_manifest(plan, tmp_path, "out")
    db = tmp_path / "out.sqlite"
    args = ["share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out)]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    ps1 = (out / "stage.ps1").read_text(encoding="utf-8-sig")
    # sources by their UNC path on the server (spmt_source from the URL), into the UNC staging root
    assert "'\\\\127.0.0.1\\dept\\stage-me'" in ps1 and unc in ps1
    assert "'Prosjekt\\plan.docx'" in ps1 or "'Prosjekt/plan.docx'" in ps1
    tasks = (out / "spmt.csv").read_text(encoding="utf-8")
    assert tasks.startswith(unc + "\\")  # SPMT reads the staging root by UNC
    applied = run_cli(*args, "--apply")
    assert applied.returncode == 2 and "staged on its Windows file server: run" in applied.stderr


def test_a_connection_lost_mid_listing_is_a_sentence_not_a_traceback():
    import pytest

    from oslomig.errors import ConnectError
    from oslomig.shares.smb import SmbShare, walk_smb

    share = SmbShare("smb://kari@filsrv01/INE/Felles", "pw-not-shown")

    class Dropped(Exception):
        pass

    def listdir(rel):
        raise Dropped("Connection to filsrv01 was closed by the remote end (pw-not-shown)")

    share.listdir = listdir
    with pytest.raises(ConnectError) as caught:
        list(walk_smb(share))
    text = str(caught.value)
    assert text.startswith("listing \\\\filsrv01\\INE\\Felles: ") and "closed by the remote end" in text
    assert "pw-not-shown" not in text


def test_passwords_come_from_the_variable_or_the_file_the_plan_names(tmp_path, monkeypatch):
    """One reader for scan targets and smb:// shares: the variable, else the file's one line; a sentence naming the
    target or share when neither is there."""
    import pytest

    from oslomig.commands.shares import smb_password
    from oslomig.errors import ConnectError
    from oslomig.models import ShareSpec
    from oslomig.scanning.connectors import read_secret

    secret = tmp_path / "pw"
    secret.write_bytes(b"from-the-file\r\n")
    spec = ShareSpec.model_validate(
        {
            "id": "lonn",
            "source": "smb://kari@filsrv01/INE/Lonn",
            "password_file": str(secret),
            "target": {"site": "https://t.sharepoint.com/sites/x"},
        }  # fmt: skip
    )
    assert smb_password("lonn", spec) == "from-the-file"
    monkeypatch.setenv("OSLOMIG_TEST_PW", "from-the-variable")
    assert smb_password("lonn", spec.model_copy(update={"password_env": "OSLOMIG_TEST_PW"})) == "from-the-variable"
    monkeypatch.delenv("OSLOMIG_TEST_PW")
    with pytest.raises(ConnectError, match="^lonn: environment variable OSLOMIG_TEST_PW is not set$"):
        smb_password("lonn", spec.model_copy(update={"password_env": "OSLOMIG_TEST_PW", "password_file": None}))
    with pytest.raises(ConnectError, match="^lonn: cannot read password file .*missing"):
        smb_password("lonn", spec.model_copy(update={"password_file": str(tmp_path / "missing")}))
    with pytest.raises(ConnectError, match="needs `password_env` or `password_file`"):
        smb_password("lonn", spec.model_copy(update={"password_file": None}))

    class Target:
        name, password_env, password_file = "pg01", None, str(secret)

    assert read_secret(Target()) == "from-the-file"


@pytest.mark.parametrize("keys_held", [0, 10**9])  # shared prefixes found by SQLite in the rows, or in memory
def test_files_read_over_smb_hash_as_the_same_files_read_locally(smb_server, tmp_path, monkeypatch, keys_held):
    """Files whose sizes collide: small ones (read whole in one round trip), larger ones whose first 4 KiB differ
    or agree (prefix in one round trip, then whole), and two of 100 KiB whose prefixes agree (too big for one read:
    opened and read to the end). The SMB scan's prefix and full hashes are the local scan's, file by file, with
    the prefix hashes written two files at a time and the shared ones found from keys in memory or by SQLite."""
    from oslomig.shares import scan
    from oslomig.shares.scan import PREFIX_BYTES, READ_AT_ONCE
    from oslomig.shares.smb import scan_smb
    from oslomig.shares.store import ScanStore

    monkeypatch.setattr(scan, "BATCH", 2)
    monkeypatch.setattr(scan, "KEYS_HELD", keys_held)
    used: list[int] = []
    real = ScanStore.shared_prefixes
    monkeypatch.setattr(ScanStore, "shared_prefixes", lambda self, scan_id: used.append(1) or real(self, scan_id))
    tree = smb_server.root / f"hashes-{keys_held}"
    tree.mkdir()
    os.chmod(tree, 0o755)
    head = bytes(range(256)) * (PREFIX_BYTES // 256)
    contents = {
        "small-a.txt": b"abc",
        "small-b.txt": b"abc",
        "small-c.txt": b"xyz",
        "mid-a.bin": head + b"tail one",
        "mid-b.bin": head + b"tail two",
        "mid-c.bin": b"x" * PREFIX_BYTES + b"tail one",
        "big-a.bin": head + b"A" * (READ_AT_ONCE + 40_000),
        "big-b.bin": head + b"B" * (READ_AT_ONCE + 40_000),
    }
    for name, data in contents.items():
        (tree / name).write_bytes(data)
    hashes = {}
    for kind, source in (("local", str(tree)), ("smb", smb_server.url("dept", tree.name))):
        store = ScanStore(tmp_path / f"{kind}.sqlite")
        if kind == "smb":
            scan_smb(store, "s", source, SMB_PASSWORD)
        else:
            from oslomig.shares.scan import scan_local

            scan_local(store, "s", source)
        hashes[kind] = dict(
            (r[0].decode(), r[1:]) for r in store.db.execute("SELECT path, prefix_hash, full_hash FROM files")
        )
        store.close()
    assert hashes["smb"] == hashes["local"]
    assert bool(used) == (keys_held == 0)  # the SMB scan's; the local scan's rows are held (fewer than HOLD)
    assert hashes["smb"]["small-a.txt"][1] == hashes["smb"]["small-b.txt"][1] != hashes["smb"]["small-c.txt"][1]
    assert hashes["smb"]["mid-a.bin"][0] == hashes["smb"]["mid-b.bin"][0]  # one prefix, then read whole
    assert None not in hashes["smb"]["big-a.bin"] and hashes["smb"]["big-a.bin"][1] != hashes["smb"]["big-b.bin"][1]


def test_a_head_read_in_one_call_falls_back_to_reading_a_file_that_grew():
    """`_hash_head`: the prefix and a small file's whole content come from one read of its head; a file longer than
    its listed size (it grew) or too big for one read is opened and read to its end."""
    import io

    import xxhash

    from oslomig.shares.scan import READ_AT_ONCE, _hash_head

    files = {b"same": b"12345", b"grew": b"12345678", b"shrank": b"12", b"big": b"z" * (READ_AT_ONCE + 5)}
    asked: list[tuple[bytes, int]] = []
    opened: list[bytes] = []

    def read_head(rel: bytes, n: int) -> bytes:
        asked.append((rel, n))
        return files[rel][:n]

    def open_file(rel: bytes):
        opened.append(rel)
        return io.BytesIO(files[rel])

    whole = {rel: xxhash.xxh3_128_hexdigest(data) for rel, data in files.items()}
    assert _hash_head(read_head, open_file, b"same", 5, None) == whole[b"same"]
    assert _hash_head(read_head, open_file, b"grew", 5, None) == whole[b"grew"]
    assert _hash_head(read_head, open_file, b"shrank", 5, None) == whole[b"shrank"]
    assert _hash_head(read_head, open_file, b"big", READ_AT_ONCE + 5, None) == whole[b"big"]
    assert _hash_head(read_head, open_file, b"big", READ_AT_ONCE + 5, 4) == xxhash.xxh3_128_hexdigest(b"zzzz")
    assert asked == [(b"same", 6), (b"grew", 6), (b"shrank", 6), (b"big", 4)]
    assert opened == [b"grew", b"big"]


def test_folders_are_listed_ahead_and_walked_in_the_same_order():
    """The next folders are listed while one is walked (several listings on the wire at once), and what the walk
    yields is what a walk one folder at a time yields: the same rows, problems and order; a folder that vanished or
    cannot be read is recorded in its turn."""
    import errno as errno_
    import threading
    import time

    from oslomig.shares.smb import DIRECTORY, SmbShare, walk_smb

    tree = {"": ["a", "b", "c", "gone", "shut"], "b": ["b1", "b2"], "b\\b2": ["deep"]}
    files = {"": ["top.txt"], "a": ["a.txt"], "b\\b1": ["x.txt", "y.txt"], "b\\b2\\deep": ["z.txt"], "c": []}
    busy, most = [0], [0]
    lock = threading.Lock()

    def listdir(rel):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.02)  # a round trip
        with lock:
            busy[0] -= 1
        if rel == "gone":
            raise FileNotFoundError(errno_.ENOENT, "gone")
        if rel == "shut":
            raise PermissionError(errno_.EACCES, "Permission denied")
        folders = [(name, DIRECTORY, 0, 0.0, 0) for name in tree.get(rel, [])]
        return folders + [(name, 0x20, 7, 1.5, 0) for name in files.get(rel, [])]

    share = SmbShare("smb://kari@filsrv01/INE/Felles", "pw")
    share.listdir = listdir
    one_at_a_time = list(walk_smb(share, ahead=1))
    assert most[0] == 1
    ahead = list(walk_smb(share, ahead=4))
    assert most[0] > 1
    assert ahead == one_at_a_time
    assert ("problem", b"gone", "vanished", "directory vanished during the scan") in ahead
    assert ("unreadable", b"shut", 0, 0.0, None) in ahead
    assert {item[1] for item in ahead if item[0] == "file"} == {
        b"top.txt",
        b"a/a.txt",
        b"b/b1/x.txt",
        b"b/b1/y.txt",
        b"b/b2/deep/z.txt",
    }
