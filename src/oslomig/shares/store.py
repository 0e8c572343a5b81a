"""The scan database: one SQLite file, written in batched transactions so memory stays flat.

A share's rows belong to a scan; a new scan of the share writes its rows beside
the old ones and only when it completes does it replace them, so an
interrupted scan leaves the previous one intact.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

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
    kind TEXT NOT NULL,            -- file | symlink | unreadable
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    owner TEXT,
    prefix_hash TEXT,
    full_hash TEXT,
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


class ScanStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- writing a scan
    def begin_scan(self, share: str, source: str) -> int:
        cur = self.db.execute("INSERT INTO scans (share, source, started_at) VALUES (?, ?, ?)", (share, source, time.time()))
        return int(cur.lastrowid)

    def add_files(self, scan_id: int, rows: list[tuple]) -> None:
        """rows: (path, kind, size, mtime, owner)"""
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO files (scan_id, path, kind, size, mtime, owner) VALUES (?, ?, ?, ?, ?, ?)",
            [(scan_id, *r) for r in rows],
        )
        self.db.execute("COMMIT")

    def add_problems(self, scan_id: int, rows: list[tuple]) -> None:
        """rows: (path, kind, message)"""
        if rows:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO problems (scan_id, path, kind, message) VALUES (?, ?, ?, ?)", [(scan_id, *r) for r in rows])
            self.db.execute("COMMIT")

    def finish_scan(self, scan_id: int, share: str) -> None:
        """The new scan replaces the share's earlier ones, in one transaction."""
        self.db.execute("BEGIN")
        files = self.db.execute("SELECT count(*) FROM files WHERE scan_id = ?", (scan_id,)).fetchone()[0]
        problems = self.db.execute("SELECT count(*) FROM problems WHERE scan_id = ?", (scan_id,)).fetchone()[0]
        old = [r[0] for r in self.db.execute("SELECT id FROM scans WHERE share = ? AND id != ?", (share, scan_id))]
        for sid in old:
            self.db.execute("DELETE FROM files WHERE scan_id = ?", (sid,))
            self.db.execute("DELETE FROM problems WHERE scan_id = ?", (sid,))
            self.db.execute("DELETE FROM scans WHERE id = ?", (sid,))
        self.db.execute("UPDATE scans SET finished_at = ?, files = ?, problems = ? WHERE id = ?", (time.time(), files, problems, scan_id))
        self.db.execute("COMMIT")

    def abandon_scan(self, scan_id: int) -> None:
        self.db.execute("BEGIN")
        self.db.execute("DELETE FROM files WHERE scan_id = ?", (scan_id,))
        self.db.execute("DELETE FROM problems WHERE scan_id = ?", (scan_id,))
        self.db.execute("DELETE FROM scans WHERE id = ?", (scan_id,))
        self.db.execute("COMMIT")

    # -- duplicates, fclones-style: size, then prefix hash, then full hash
    def size_collisions(self, scan_id: int):
        return self.db.execute(
            "SELECT path, size FROM files WHERE scan_id = ? AND kind = 'file' AND size > 0 AND size IN "
            "(SELECT size FROM files WHERE scan_id = ? AND kind = 'file' AND size > 0 GROUP BY size HAVING count(*) > 1) ORDER BY size, path",
            (scan_id, scan_id),
        ).fetchall()

    def prefix_collisions(self, scan_id: int):
        return self.db.execute(
            "SELECT path, size FROM files WHERE scan_id = ? AND prefix_hash IS NOT NULL AND (size, prefix_hash) IN "
            "(SELECT size, prefix_hash FROM files WHERE scan_id = ? AND prefix_hash IS NOT NULL GROUP BY size, prefix_hash HAVING count(*) > 1) "
            "ORDER BY size, path",
            (scan_id, scan_id),
        ).fetchall()

    def set_hashes(self, scan_id: int, column: str, rows: list[tuple[str, bytes]]) -> None:
        assert column in ("prefix_hash", "full_hash")
        self.db.execute("BEGIN")
        self.db.executemany(f"UPDATE files SET {column} = ? WHERE scan_id = ? AND path = ?", [(h, scan_id, p) for p, h in rows])
        self.db.execute("COMMIT")

    # -- reading
    def latest_scan(self, share: str):
        return self.db.execute(
            "SELECT id, source, finished_at, files, problems FROM scans WHERE share = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            (share,),
        ).fetchone()

    def iter_files(self, scan_id: int):
        return self.db.execute(
            "SELECT path, kind, size, mtime, owner, full_hash FROM files WHERE scan_id = ? ORDER BY path", (scan_id,)
        )
