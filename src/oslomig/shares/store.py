"""The scan database: one SQLite file, written in batched transactions so memory stays flat.

A share's rows belong to a scan; a new scan of the share writes its rows beside
the old ones and only when it completes does it replace them, so an
interrupted scan leaves the previous one intact.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from oslomig.errors import OslomigError
from oslomig.shares import found

if TYPE_CHECKING:
    import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY,
    share TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    files INTEGER DEFAULT 0,
    problems INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    scan_id INTEGER NOT NULL,
    path BLOB NOT NULL,            -- relative to the share root, '/' separated, raw bytes
    kind TEXT NOT NULL,            -- file | symlink | unreadable | offline (an HSM stub, never read)
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    owner TEXT,
    prefix_hash TEXT,
    full_hash TEXT,
    attributes INTEGER,            -- SMB sources: Windows file attributes (hidden 0x2, system 0x4, offline 0x1000 ...)
    PRIMARY KEY (scan_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS problems (
    scan_id INTEGER NOT NULL,
    path BLOB NOT NULL,
    kind TEXT NOT NULL,            -- unreadable | vanished | not_utf8 | hash_failed
    message TEXT
);
"""

BATCH = 5000
PAGE_SIZE = 1 << 16  # of a new scan file (see docs/performance.md)
WAL_BYTES = 1 << 24  # written to the write-ahead log before it is copied into the file
FEW_SIZES = 64  # sizes `files_of_sizes` binds in its statement, at most
# Rows written by one INSERT statement: binding and stepping a statement per row cost more than SQLite's own work
# (1,000,000 listing-tree rows: 3.1-3.3 s one row a statement, 2.2-2.6 s with 250 rows a statement, same runs)
ROWS_PER_STATEMENT = 250


def _batches(cursor: sqlite3.Cursor, batch: int) -> Iterator[list]:
    """A query's rows, `batch` at a time."""
    while rows := cursor.fetchmany(batch):
        yield rows


def _check_db_path(path: Path, create: bool) -> bool:
    """True when the file exists already. Refuses devices, directories and links (SPEC §8) before SQLite
    creates a journal beside them."""
    from oslomig.atomic import ensure_dir

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise OslomigError(f"no scan database at {path}; run `oslomig share scan` first") from None
        ensure_dir(path.parent)
        return False
    except OSError as exc:
        raise OslomigError(f"cannot use {path} as the scan database: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OslomigError(f"cannot use {path} as the scan database: it is a directory; give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise OslomigError(f"refusing to use {path} as the scan database: it is not a regular file")
    return True


def _sync(path: Path) -> None:
    """A file's or a folder's data on the disk (fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same(column: tuple) -> bool:
    """Every value of the column is the first one, of its type too (1 == 1.0 == True in a count)."""
    first = column[0]
    return isinstance(first, str | bytes | None) and column.count(first) == len(column)


@functools.lru_cache(maxsize=16)
def _values(scan_id: int, width: int, shared: tuple[int, ...], rows: int) -> str:
    """The VALUES of an INSERT of `rows` rows of `width` columns after the scan's id: the `shared` columns bound once,
    as ?1.., and each row's other columns numbered after them. Made once per scan and shape: made for each batch, it
    cost 0.18 s per 1,000,000 rows."""
    each = [k for k in range(width) if k not in shared]
    place = {k: f"?{i + 1}" for i, k in enumerate(shared)}
    values = []
    for r in range(rows):
        first = len(shared) + r * len(each)
        place.update({k: f"?{first + i + 1}" for i, k in enumerate(each)})
        values.append(f"({scan_id}," + ",".join(place[k] for k in range(width)) + ")")
    return ",".join(values)


_HEAD = f"(value >> {found.SPAN_BITS})"  # of a span from json_each: its header's offset in the chunk ?2
# the span's path, cut from the chunk ?2 as a BLOB
FOUND_PATH = f"substr(?2, {_HEAD} + {found.HEAD + 2}, (value & {(1 << found.SPAN_BITS) - 1}))"


def _found_insert() -> str:
    """The INSERT of `add_found`: ?1 the scan, ?2 the chunk, ?3 the owner, ?4 1e-9, ?5 the spans, ?6 every row's
    kind or NULL (each row's read from its header: 6% of the statement's time for a chunk of files)."""

    def column(columns: slice) -> str:
        return f"CAST(substr(?2, {_HEAD} + {columns.start + 1}, {columns.stop - columns.start}) AS INTEGER)"

    return (
        "INSERT OR REPLACE INTO files (scan_id, path, kind, size, mtime, owner) SELECT ?1, "
        f"{FOUND_PATH}, "
        f"coalesce(?6, CASE substr(?2, {_HEAD} + 1, 1) WHEN x'66' THEN 'file' ELSE 'symlink' END), "
        f"{column(found.SIZE)}, {column(found.SECONDS)} + {column(found.NANOS)} * ?4, ?3 FROM json_each(?5)"
    )


_FOUND = _found_insert()


class ScanStore:
    def __init__(self, path: Path | str, create: bool = True, threads: bool = False, bare: bool | None = None):
        """`threads`: the connection may be used from a thread other than this one (one thread at a time: the
        scan's `Writer`). `bare`: written without a journal (the writer's connection to a store that is `bare`);
        by default a file this command creates is, until its first scan is finished."""
        self.path = Path(path)
        self.existed = _check_db_path(self.path, create)
        # a file this run creates is written without waiting for the disk, and made durable once, when it is closed
        # (`close`): until then it holds nothing that was not this run's (see `flush_behind`)
        self.unsynced = not self.existed
        # and without a journal until its first scan is finished: then it holds nothing that scan's failure could
        # lose, and a failed first scan starts the file over (`abandon_scan`), where a journal would roll it back.
        # The write-ahead log had every page written twice, to the log and then into the file: 5% of a local scan
        # (docs/performance.md)
        self.bare = (create and not self.existed) if bare is None else bare
        self.threads = threads
        self.flusher: threading.Thread | None = None
        self._connect(create)

    def _connect(self, create: bool) -> None:
        path, threads = self.path, self.threads
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=not threads)
            if self.existed:
                self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not tables and not create:
                    self.db.close()
                    raise OslomigError(f"{path} holds no scan yet; run `oslomig share scan` first")
                if tables and not {"scans", "files", "problems"} <= tables:
                    self.db.close()
                    raise OslomigError(
                        f"{path} is an SQLite database, but not an oslomig scan database; give another --db"
                    )
            if create:
                self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file's; one that exists keeps its own
                self.db.execute(f"PRAGMA journal_mode={'OFF' if self.bare else 'WAL'}")
                self.db.execute(f"PRAGMA synchronous={'OFF' if self.unsynced else 'NORMAL'}")
                # 8 MB of pages: rows are written once, a batch at a time, and hashes in key order (neighbouring
                # pages), so more cache only grew memory with the share (measured on the 1,000,000-file listing tree:
                # peak 175 MB with 64 MB of pages, 60 MB with 8 MB, same time; department tree no slower)
                self.db.execute("PRAGMA cache_size=-8192")
                page = self.db.execute("PRAGMA page_size").fetchone()[0]
                self.db.execute(f"PRAGMA wal_autocheckpoint={max(1, WAL_BYTES // page)}")
                self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(files)")}
            if columns and "attributes" not in columns and create:  # a scan file from before SMB sources
                self.db.execute("ALTER TABLE files ADD COLUMN attributes INTEGER")
                columns.add("attributes")
            self.attributes = "attributes" if "attributes" in columns else "NULL"
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                self.db.close()
            if "not a database" in str(exc):
                raise OslomigError(f"{path} is not an SQLite scan database; give another --db") from None
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise OslomigError(f"cannot write the scan database {path}: {exc}") from None
            if "malformed" in str(exc):  # a new scan file the machine stopped while writing is left so (`unsynced`)
                raise OslomigError(
                    f"cannot use the scan database {path}: {exc}; a scan file the machine stopped in the middle of "
                    "its first scan is left so: remove it and scan again"
                ) from None
            raise OslomigError(f"cannot use the scan database {path}: {exc}") from None

    def flush_behind(self) -> None:
        """For a file this run creates: what is in the write-ahead log copied into the file (none in its first scan,
        written without a journal: `bare`), and the file's pages written to the disk, by a thread while the scan goes
        on (its last rows and hashes), so that `close` finds little left to wait for. Each sync of the log and the
        file at a checkpoint (every 16 MB) and at the close had cost the scan its wait for the disk: 3-5% of a
        million-file local scan and of an SSH scan."""
        import threading

        if not self.unsynced:
            return
        self._join_flusher()
        self.flusher = threading.Thread(target=self._flush, args=(not self.bare,), name="oslomig-flush")
        self.flusher.start()

    def _flush(self, logged: bool) -> None:
        """In the flusher's thread: a checkpoint that waits for no one (its own connection) where the file has a
        write-ahead log (`logged`), then the file synced. A failure here is left to `close`, whose own sync is the
        one that counts."""
        with contextlib.suppress(sqlite3.Error, OSError):
            if logged:
                db = sqlite3.connect(self.path, isolation_level=None)
                try:
                    db.execute("PRAGMA synchronous=OFF")  # the log is not synced: only the file's pages count
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    db.close()
            _sync(self.path)

    def _join_flusher(self) -> None:
        if self.flusher is not None:
            self.flusher.join()
            self.flusher = None

    def close(self) -> None:
        """Closed; a file this run created is then synced to the disk, its folder too (its name is new), before the
        command says it is written."""
        self._join_flusher()
        self.db.close()
        if self.unsynced:
            self.unsynced = False
            try:
                _sync(self.path)
            except OSError as exc:
                raise OslomigError(f"cannot write the scan database {self.path}: {exc.strerror or exc}") from None
            with contextlib.suppress(OSError):  # a folder some file systems cannot sync: as SQLite, not an error
                _sync(self.path.parent)

    def _start_over(self) -> None:
        """The file this command created, removed and created again, empty (`abandon_scan` of its first scan)."""
        self._remove_file()
        self.existed = _check_db_path(self.path, True)
        self._connect(True)

    def _remove_file(self) -> None:
        """The file this command created closed and removed, with what SQLite keeps beside it."""
        self._join_flusher()
        self.db.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def discard_if_empty(self) -> None:
        """A database this run created and left without a finished scan is removed, not left as an empty file."""
        if self.existed:
            return
        if self.db.execute("SELECT count(*) FROM scans WHERE finished_at IS NOT NULL").fetchone()[0]:
            return
        self.unsynced = False  # nothing of it is left to sync
        self._remove_file()

    @contextlib.contextmanager
    def transaction(self):
        """BEGIN … COMMIT, rolled back on any exception, Ctrl-C included, so the next statement never finds
        a transaction still open ("cannot start a transaction within a transaction"). Inside a transaction the
        caller holds (the scan's writer commits several batches at once), the statements join it."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def commits_every(self, batches: int):
        """One transaction over `batches` of the caller's writes at a time: yields a function the caller calls after
        each batch, which commits every `batches` calls and begins the next transaction. The last ones are
        committed at the end, rolled back on any exception, Ctrl-C included, by `transaction`. (A commit writes every
        page the transaction changed to the write-ahead log, the B-tree's upper pages each time.)"""
        assert not self.db.in_transaction  # its commits would end the caller's transaction
        done = 0

        def written() -> None:
            nonlocal done
            done += 1
            if done % batches == 0:
                self.db.execute("COMMIT")
                self.db.execute("BEGIN")

        with self.transaction():
            yield written

    # -- writing a scan
    def begin_scan(self, share: str, source: str) -> int:
        cur = self.db.execute(
            "INSERT INTO scans (share, source, started_at) VALUES (?, ?, ?)", (share, source, time.time())
        )
        return int(cur.lastrowid)

    def add_files(self, scan_id: int, rows: list[tuple], column: str | tuple[str, ...] | None = "attributes") -> None:
        """rows: (path, kind, size, mtime, owner, attributes); with `column="prefix_hash"` (path, kind, size, mtime,
        owner, prefix_hash) for a local scan, which hashes before it writes, and ("prefix_hash", "full_hash") when
        it held the rows until both were known; with `column=None` (path, kind, size, mtime, owner) and nothing
        else yet.

        Rows go in ROWS_PER_STATEMENT at a time, in key order. A text column the same in every row of the batch
        (kind, owner, the last: a share's files mostly have one owner and no attributes yet) is bound once per
        statement, as its first parameters, and each row binds only the rest (1,000,000 listing-tree rows: SQLite
        took 2.8-3.4 s of CPU instead of 3.6-4.1 s). Paths are bound as bytearrays: pysqlite looks for an adapter
        for every `bytes` (and None) it binds, 1.36 s per 1,000,000 paths here against 0.37 s for a bytearray (0.28 s
        to make them); SQLite stores the same BLOB."""
        extra = (column,) if isinstance(column, str) else column or ()
        assert extra in (("attributes",), ("prefix_hash",), ("prefix_hash", "full_hash"), ())
        names = ["path", "kind", "size", "mtime", "owner", *extra]
        width = len(names)
        insert = f"INSERT OR REPLACE INTO files (scan_id, {', '.join(names)}) VALUES "
        rows = sorted(rows, key=itemgetter(0))  # key order: the table's B-tree grows at its edge (by the path alone,
        # unique: as tuples two comparisons a pair, 124 against 85 ms per 200,000 department-tree rows)
        if not rows:
            return
        whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
        columns = list(zip(*rows, strict=True))
        shared = tuple(k for k in range(1, width) if names[k] not in ("size", "mtime") and _same(columns[k]))
        each = [k for k in range(width) if k not in shared]
        per_row = len(each)
        flat: list = [None] * (per_row * len(rows))
        for i, k in enumerate(each):
            flat[i::per_row] = list(map(bytearray, columns[k])) if k == 0 else columns[k]  # paths: BLOB
        step = per_row * ROWS_PER_STATEMENT
        head = [columns[k][0] for k in shared]
        with self.transaction() as db:
            if whole:
                db.executemany(
                    insert + _values(int(scan_id), width, shared, ROWS_PER_STATEMENT),
                    [[*head, *flat[i : i + step]] for i in range(0, whole * per_row, step)],
                )
            if whole < len(rows):  # the rest by one statement too: an INSERT OR REPLACE inside a transaction keeps a
                # statement journal, and SQLite moves one of a 64 KiB page to a temporary file it creates and deletes
                # (a row a statement cost a file a row: 4,001 at 200,000 department-tree files)
                db.execute(
                    insert + _values(int(scan_id), width, shared, len(rows) - whole), [*head, *flat[whole * per_row :]]
                )

    def add_found(self, scan_id: int, data: bytes, groups: list[tuple[str, str]], kind: str | None = None) -> None:
        """Rows SQLite reads from a chunk of find's fixed-width listing (`found.Found.batch`): `groups` of (owner,
        JSON array of spans), a span being a header's offset << SPAN_BITS | its path's length. Each row's path is a
        slice of the chunk (a BLOB, as bound), its size and time cast from their columns; the time is seconds +
        nanoseconds * 1e-9, the same two float operations as `found._fixed`, with 1e-9 bound from Python. One
        statement per owner: no Python object is made per row."""
        with self.transaction() as db:
            for owner, spans in groups:
                db.execute(_FOUND, (int(scan_id), data, owner, 1e-9, spans, kind))

    def add_problems(self, scan_id: int, rows: list[tuple]) -> None:
        """rows: (path, kind, message)"""
        if rows:
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO problems (scan_id, path, kind, message) VALUES (?, ?, ?, ?)",
                    [(scan_id, *r) for r in rows],
                )

    def finish_scan(self, scan_id: int, share: str) -> None:
        """The new scan replaces the share's earlier ones, in one transaction."""
        with self.transaction() as db:
            old = [r[0] for r in db.execute("SELECT id FROM scans WHERE share = ? AND id != ?", (share, scan_id))]
            for sid in old:
                db.execute("DELETE FROM files WHERE scan_id = ?", (sid,))
                db.execute("DELETE FROM problems WHERE scan_id = ?", (sid,))
                db.execute("DELETE FROM scans WHERE id = ?", (sid,))
            files = self._count_files(scan_id)  # after the earlier scans' rows are gone: often the table's only rows
            problems = db.execute("SELECT count(*) FROM problems WHERE scan_id = ?", (scan_id,)).fetchone()[0]
            db.execute(
                "UPDATE scans SET finished_at = ?, files = ?, problems = ? WHERE id = ?",
                (time.time(), files, problems, scan_id),
            )
        if self.bare:  # the file holds a finished scan: the next ones are written with the log, and can roll back
            self.db.execute("PRAGMA journal_mode=WAL")
            self.bare = False

    def _count_files(self, scan_id: int) -> int:
        """The scan's rows. When the table holds no other scan's (its first and last keys are this scan's: two
        seeks), SQLite counts the whole table a page at a time without reading a row (1,000,000 rows: ~45 ms with
        the scan's id compared in each row)."""
        first = self.db.execute("SELECT min(scan_id) FROM files").fetchone()[0]  # one aggregate a statement: a seek
        last = self.db.execute("SELECT max(scan_id) FROM files").fetchone()[0]
        if first == last == scan_id:
            return self.db.execute("SELECT count(*) FROM files").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM files WHERE scan_id = ?", (scan_id,)).fetchone()[0]

    def abandon_scan(self, scan_id: int) -> None:
        if self.bare:  # the file's first scan, without a journal to roll back what it wrote: the file starts over
            self._start_over()
            return
        if self.db.in_transaction:  # interrupted inside a batch: that batch goes too
            self.db.execute("ROLLBACK")
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE scan_id = ?", (scan_id,))
            db.execute("DELETE FROM problems WHERE scan_id = ?", (scan_id,))
            db.execute("DELETE FROM scans WHERE id = ?", (scan_id,))

    # -- duplicates, fclones-style: size, then prefix hash, then full hash
    def size_collisions(self, scan_id: int, batch: int) -> Iterator[list[tuple[bytes, int]]]:
        """(path, size) of every file whose size another file shares, `batch` at a time: one pass and one sort (a
        window count), where `size IN (SELECT … GROUP BY …)` read the table twice. The sort is done before the first
        row comes, so the caller may write hashes to the rows between batches."""
        yield from _batches(
            self.db.execute(
                "SELECT path, size FROM (SELECT path, size, count(*) OVER (PARTITION BY size) AS n FROM files "
                "WHERE scan_id = ? AND kind = 'file' AND size > 0) WHERE n > 1 ORDER BY size, path",
                (scan_id,),
            ),
            batch,
        )

    def store_hashes(self, scan_id: int, rows: list[tuple[bytes, str, str | None]]) -> None:
        """(path, prefix hash, full hash or None) for every hashed file, in one statement: the rows go to a
        temporary table in key order and one UPDATE … FROM joins them in (per-row UPDATEs from Python cost a
        third of a department-tree scan)."""
        with self.transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS new_hashes (path BLOB PRIMARY KEY, prefix TEXT, full TEXT)")
            db.execute("DELETE FROM new_hashes")
            db.executemany("INSERT INTO new_hashes VALUES (?, ?, ?)", [(bytearray(p), *h) for p, *h in sorted(rows)])
            db.execute(
                "UPDATE files SET prefix_hash = h.prefix, full_hash = h.full FROM new_hashes AS h "
                "WHERE files.scan_id = ? AND files.path = h.path",
                (scan_id,),
            )
            db.execute("DELETE FROM new_hashes")

    def files_of_sizes(self, scan_id: int, sizes: set[int]) -> list[tuple[bytes, int]]:
        """(path, size) of the scan's files of a size in `sizes`, in key order (`batches_of_sizes`)."""
        return list(itertools.chain.from_iterable(self.batches_of_sizes(scan_id, sizes, BATCH)))

    def batches_of_sizes(self, scan_id: int, sizes: set[int], batch: int) -> Iterator[list[tuple[bytes, int]]]:
        """`files_of_sizes` a batch at a time, each as soon as SQLite has found it (an SSH scan sends each to the
        server at once). One pass over the table in SQLite. A few sizes are bound in the statement, compared to each
        row's size before its kind; more go to a temporary table, which SQLite searches once per row (1,000,000
        rows, one size: 0.16 s bound, 0.27 s in the table)."""
        if len(sizes) <= FEW_SIZES:
            marks = ",".join("?" * len(sizes))
            yield from _batches(
                self.db.execute(
                    f"SELECT path, size FROM files WHERE scan_id = ? AND size IN ({marks}) AND kind = 'file' "
                    "ORDER BY path",
                    (scan_id, *sorted(sizes)),
                ),
                batch,
            )
            return
        with self.transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_sizes (size INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM wanted_sizes")
            db.executemany("INSERT INTO wanted_sizes VALUES (?)", ((size,) for size in sorted(sizes)))
            yield from _batches(
                db.execute(
                    "SELECT path, size FROM files WHERE scan_id = ? AND kind = 'file' "
                    "AND size IN (SELECT size FROM wanted_sizes) ORDER BY path",
                    (scan_id,),
                ),
                batch,
            )
            db.execute("DELETE FROM wanted_sizes")

    def shared_prefixes(self, scan_id: int) -> list[tuple[bytes, int, str]]:
        """(path, size, prefix hash) of the scan's files whose size and prefix hash another of its files has, in key
        order. SQLite groups the keys (a sort it spills to a temporary file when large), where holding every key in
        memory grew with the share (~250 bytes a file read)."""
        return self.db.execute(
            "SELECT path, size, prefix_hash FROM files WHERE scan_id = ?1 AND prefix_hash IS NOT NULL "
            "AND (size, prefix_hash) IN (SELECT size, prefix_hash FROM files WHERE scan_id = ?1 "
            "AND prefix_hash IS NOT NULL GROUP BY size, prefix_hash HAVING count(*) > 1) ORDER BY path",
            (scan_id,),
        ).fetchall()

    def drop_files(self, scan_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE scan_id = ?", (scan_id,))

    def set_hashes(self, scan_id: int, column: str, rows: list[tuple[bytes, str]]) -> None:
        """Hashes by path, written in key order (neighbouring pages, not a random walk over the table)."""
        assert column in ("prefix_hash", "full_hash")
        with self.transaction() as db:
            db.executemany(
                f"UPDATE files SET {column} = ? WHERE scan_id = ? AND path = ?",
                [(h, scan_id, bytearray(p)) for p, h in sorted(rows)],
            )

    # -- reading
    def latest_scan(self, share: str):
        return self.db.execute(
            "SELECT id, source, finished_at, files, problems FROM scans WHERE share = ? AND finished_at IS NOT NULL "
            "ORDER BY id DESC LIMIT 1",
            (share,),
        ).fetchone()

    def file_columns(self, scan_id: int, batch: int) -> Iterator[tuple[list, ...]]:
        """The manifest's read: (paths, kinds, sizes, mtimes, full hashes, attributes) as columns, `batch` rows at a
        time in path order. Most rows are files without a full hash or attributes: those three columns come from the
        few rows that have one (a second query over the batch's range of paths, filtered by SQLite), not as three
        Python objects per row (1,000,000 rows: 0.85 s of CPU instead of 1.14 s, medians of five)."""
        cursor = self.db.execute("SELECT path, size, mtime FROM files WHERE scan_id = ? ORDER BY path", (scan_id,))
        rare = (
            f"SELECT path, kind, full_hash, {self.attributes} FROM files WHERE scan_id = ? AND path BETWEEN ? AND ? "
            f"AND (kind != 'file' OR full_hash IS NOT NULL OR {self.attributes} IS NOT NULL)"
        )
        for rows in _batches(cursor, batch):
            paths, sizes, mtimes = (list(column) for column in zip(*rows, strict=True))
            n = len(paths)
            kinds: list = ["file"] * n
            hashes: list = [None] * n
            attributes: list = [None] * n
            for path, kind, full_hash, attribute in self.db.execute(rare, (scan_id, paths[0], paths[-1])):
                i = bisect.bisect_left(paths, path)  # SQLite orders BLOBs as Python orders bytes
                kinds[i], hashes[i], attributes[i] = kind, full_hash, attribute
            yield paths, kinds, sizes, mtimes, hashes, attributes

    def iter_files(self, scan_id: int):
        """(path, kind, size, mtime, owner, full_hash, attributes) in path order; attributes is None but for SMB."""
        return self.db.execute(
            f"SELECT path, kind, size, mtime, owner, full_hash, {self.attributes} FROM files "
            "WHERE scan_id = ? ORDER BY path",
            (scan_id,),
        )
