#!/usr/bin/env python3
"""The scan file's engine: the listing tree's rows stored by SQLite, as a scan stores them, and by DuckDB.

Not part of `make bench` (DuckDB and pyarrow are not oslomig's dependencies). To run it:

    .venv/bin/python bench/run.py share-local            # builds /tmp/oslomig-bench/tree-1000000
    .venv/bin/pip install --target /tmp/duckpkgs duckdb pyarrow
    .venv/bin/python bench/engines.py --packages /tmp/duckpkgs

Every engine gets the same rows: find's listing of the tree (`found.PRINTF`), parsed into chunks as a scan parses
it, before anything is timed. SQLite stores each chunk as the scan's writer does (`ScanStore.add_found`: one
statement a chunk, paths cut out of the chunk by SQLite, a commit every 8 chunks). DuckDB gets each chunk as Arrow
columns (made from the chunk without a Python object per row; that making is timed on its own line), a chunk at a
time as a scan would write it (memory flat), or all at once (memory grows with the tree), with the scan's primary
key on (scan_id, path) or without one. Each line gives wall time, CPU time (every thread of this process) and the
file's size.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

COLUMNS = (
    "scan_id INTEGER, path BLOB, kind VARCHAR, size BIGINT, mtime DOUBLE, owner VARCHAR, prefix_hash VARCHAR, "
    "full_hash VARCHAR, attributes INTEGER"
)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def store_sqlite(path: str, chunks: list, root: str) -> None:
    from oslomig.shares.store import _FOUND, ScanStore

    store = ScanStore(path)
    scan_id = store.begin_scan("s", root)
    store.db.execute("BEGIN")
    for i, found in enumerate(chunks):
        batch = found.batch(lambda _uid: "root")
        for owner, spans in batch.groups:
            store.db.execute(_FOUND, (scan_id, batch.data, owner, 1e-9, spans, batch.kind))
        if i % 8 == 7:
            store.db.execute("COMMIT")
            store.db.execute("BEGIN")
    store.db.execute("COMMIT")
    store.close()


def arrow_table(found):
    """A chunk's rows as Arrow columns: the paths gathered from the chunk by numpy into one buffer with offsets."""
    import numpy as np
    import pyarrow as pa

    from oslomig.shares.found import HEAD

    starts = found.heads + (HEAD + 1)
    lengths = found.ends - starts
    offsets = np.zeros(len(found) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
    values = np.frombuffer(found.data, dtype=np.uint8)[index]
    paths = pa.Array.from_buffers(pa.binary(), len(found), [None, pa.py_buffer(offsets), pa.py_buffer(values)])
    kinds = pa.DictionaryArray.from_arrays(
        pa.array((found.kinds != ord("f")).astype(np.int8)), pa.array(["file", "symlink"])
    )
    return pa.table({"path": paths, "kind": kinds, "size": found.sizes, "mtime": found.mtimes})


def store_duckdb(path: str, tables: list, key: bool) -> None:
    import duckdb

    con = duckdb.connect(path)
    con.execute(f"CREATE TABLE files ({COLUMNS}{', PRIMARY KEY (scan_id, path)' if key else ''})")
    con.execute("BEGIN")
    for i, table in enumerate(tables):
        con.register("chunk", table)
        con.execute("INSERT INTO files SELECT 1, path, kind::VARCHAR, size, mtime, 'root', NULL, NULL, NULL FROM chunk")
        con.unregister("chunk")
        if i % 8 == 7:
            con.execute("COMMIT")
            con.execute("BEGIN")
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default="/tmp/oslomig-bench/tree-1000000", help="a tree to list (bench/run.py's)")
    parser.add_argument("--packages", help="a folder holding duckdb and pyarrow (pip install --target)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.packages:
        sys.path.insert(0, args.packages)
    try:
        import duckdb  # noqa: F401
        import pyarrow
    except ImportError:
        print("needs duckdb and pyarrow: see this script's docstring", file=sys.stderr)
        return 2
    from oslomig.shares.found import PRINTF, FoundChunks

    listing = subprocess.run(["find", ".", "-mindepth", "1", "-printf", PRINTF], cwd=args.tree, capture_output=True)
    chunks = list(FoundChunks(io.BytesIO(listing.stdout).read))
    print(f"{args.tree}: {sum(map(len, chunks)):,} rows in {len(chunks)} chunks of find's listing")
    tables: list = []
    wall, cpu = timed(lambda: tables.extend(map(arrow_table, chunks)))
    print(f"  {'Arrow columns made from the chunks':<44} {wall:5.2f} s wall {cpu:5.2f} s CPU")
    whole = [pyarrow.concat_tables(tables)]
    engines: list[tuple[str, Callable[[str], None]]] = [
        ("SQLite, as a scan writes (add_found)", lambda p: store_sqlite(p, chunks, args.tree)),
        ("DuckDB, primary key, a chunk at a time", lambda p: store_duckdb(p, tables, True)),
        ("DuckDB, no key, a chunk at a time", lambda p: store_duckdb(p, tables, False)),
        ("DuckDB, primary key, all rows at once", lambda p: store_duckdb(p, whole, True)),
        ("DuckDB, no key, all rows at once", lambda p: store_duckdb(p, whole, False)),
    ]
    with tempfile.TemporaryDirectory(dir=Path(args.tree).parent) as tmp:
        for round_ in range(args.rounds):
            for k, (name, store) in enumerate(engines):
                path = os.path.join(tmp, f"{round_}-{k}")
                wall, cpu = timed(lambda store=store, path=path: store(path))
                size = sum(p.stat().st_size for p in Path(tmp).glob(f"{round_}-{k}*"))
                print(f"  {name:<44} {wall:5.2f} s wall {cpu:5.2f} s CPU {size / 1e6:5.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
