#!/usr/bin/env python3
"""Generate the demo department share used by `make demo` (deterministic; safe to run twice)."""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

OLD = 1262304000  # 2010-01-01


def generate(root: Path) -> int:
    if root.exists():
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(root)
    rng = random.Random(5)
    count = 0

    def put(rel: str | bytes, data: bytes, mtime: int | None = None) -> None:
        nonlocal count
        path = os.path.join(os.fsencode(root), rel if isinstance(rel, bytes) else rel.encode())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        if mtime:
            os.utime(path, (mtime, mtime))
        count += 1

    for dept in ("Budsjett", "Regnskap", "Innkjøp", "Lønn"):
        for year in range(2012, 2022):
            for n in range(rng.randint(3, 9)):
                stale = year < 2016
                ts = OLD + (year - 2010) * 31_557_600 if stale else None
                put(f"{dept}/{year}/dokument-{n:02d}.docx", f"{dept} {year} {n}".encode() * rng.randint(1, 50), ts)
        put(f"{dept}/Thumbs.db", b"thumbs")
        put(f"{dept}/~$utkast.docx", b"lock")
    put("Felles/rapport.pdf", b"same report" * 100)
    put("Felles/Kopi av rapport.pdf", b"same report" * 100)
    put("Felles/spørsmål?.txt", b"invalid character")
    put("Felles/ mellomrom foran.txt", b"leading space")
    put("Felles/CON", b"reserved name")
    put(b"Felles/gammel-\xe6\xf8\xe5.txt", b"cp1252 name")
    put("Felles/" + "Veldig langt mappenavn " * 10 + "/" + "og en lang fil " * 10 + ".txt", b"long path")
    put("Arkiv/2005/gammelt.doc", b"archived", OLD)
    put("Prosjekter/Bysykkel/plan.docx", b"project")
    put("Prosjekter/Bysykkel/tom.txt", b"")
    os.symlink("../Felles", root / "Prosjekter" / "snarvei")
    return count + 1


if __name__ == "__main__":
    target = Path(sys.argv[1])
    print(f"{generate(target)} entries in {target}")
