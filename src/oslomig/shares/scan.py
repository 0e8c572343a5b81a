"""Walk a share once, never following symlinks, streaming entries into the scan store.

Local sources are walked with `os.scandir` on bytes paths (so names that are
not UTF-8 survive); SSH sources are listed by one `find -printf` on the server
with NUL-separated fields and hashed there with `sha256sum -z` — files are
never downloaded to be listed or hashed.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO

import xxhash

from oslomig.shares.store import BATCH, ScanStore

PREFIX_BYTES = 4096


@dataclass
class ScanResult:
    share: str
    scan_id: int
    files: int = 0
    bytes: int = 0
    problems: int = 0
    hashed: int = 0
    notes: list[str] = field(default_factory=list)


class FileBatch:
    """Rows for the store, flushed in batched transactions so memory stays flat."""

    def __init__(self, store: ScanStore, result: ScanResult, progress=None):
        self.store, self.result, self.progress = store, result, progress
        self.rows: list[tuple] = []

    def add(
        self, rel: bytes, kind: str, size: int, mtime: float, owner: str | None, attributes: int | None = None
    ) -> None:
        self.rows.append((rel, kind, size, mtime, owner, attributes))
        self.result.files += 1
        self.result.bytes += size if kind in ("file", "offline") else 0
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.store.add_files(self.result.scan_id, self.rows)
        if self.progress:
            self.progress.advance(len(self.rows))
        self.rows.clear()


class _Owners:
    def __init__(self):
        self.cache: dict[int, str] = {}

    def __call__(self, uid: int) -> str:
        name = self.cache.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self.cache[uid] = name
        return name


def _unreadable(rel: bytes, what: str, exc: OSError) -> Iterator[tuple]:
    yield ("unreadable", rel, 0, 0.0, -1)
    yield ("problem", rel, "unreadable", f"{what}: {exc.strerror or exc}")


def walk_local(root: bytes, after_listing: Callable[[bytes, list], None] | None = None) -> Iterator[tuple]:
    """Yield ("file"|"symlink"|"unreadable", relpath, size, mtime, uid) and ("problem", relpath, kind, message)."""
    stack = [b""]
    while stack:
        rel = stack.pop()
        path = root + b"/" + rel if rel else root
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except FileNotFoundError:
            yield ("problem", rel, "vanished", "directory vanished during the scan")
            continue
        except OSError as exc:  # PermissionError and the rest: the directory is recorded as unreadable
            yield from _unreadable(rel, "cannot list directory", exc)
            continue
        if after_listing is not None:  # a test seam: lets a test change the tree mid-scan
            after_listing(path, entries)
        entries.sort(key=lambda e: e.name)
        for entry in entries:
            child = rel + b"/" + entry.name if rel else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                yield ("problem", child, "vanished", "vanished between listing and reading its metadata")
                continue
            except OSError as exc:
                yield from _unreadable(child, "cannot read metadata", exc)
                continue
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                stack.append(child)
            elif stat.S_ISLNK(mode):
                yield ("symlink", child, st.st_size, st.st_mtime, st.st_uid)
            elif stat.S_ISREG(mode):
                yield ("file", child, st.st_size, st.st_mtime, st.st_uid)
            # sockets, fifos and devices are not documents: not moved, not listed


def scan_local(store: ScanStore, share: str, root: str, progress=None, after_listing=None) -> ScanResult:
    root_b = os.fsencode(root.rstrip("/") or "/")
    if not os.path.isdir(root_b):
        raise FileNotFoundError(f"{root} is not a directory")
    scan_id = store.begin_scan(share, root)
    result = ScanResult(share, scan_id)
    owners = _Owners()
    batch = FileBatch(store, result, progress)
    problems: list[tuple] = []
    try:
        for item in walk_local(root_b, after_listing):
            if item[0] == "problem":
                problems.append(item[1:])
                continue
            kind, rel, size, mtime, uid = item
            batch.add(rel, kind, size, mtime, owners(uid) if uid >= 0 else None)
        batch.flush()
        store.add_problems(scan_id, problems)
        hash_local(store, scan_id, root_b, result)
        store.finish_scan(scan_id, share)
    except BaseException:
        store.abandon_scan(scan_id)
        raise
    result.problems = len(problems) + result.problems
    return result


def _hash_file(open_file: Callable[[], IO[bytes]], limit: int | None) -> str:
    h = xxhash.xxh3_128()
    with open_file() as handle:
        if limit is not None:
            h.update(handle.read(limit))
        else:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def hash_local(store: ScanStore, scan_id: int, root: bytes, result: ScanResult) -> None:
    def open_local(rel: bytes) -> IO[bytes]:
        return open(root + b"/" + rel, "rb")

    hash_collisions(store, scan_id, result, open_local)


def hash_collisions(
    store: ScanStore,
    scan_id: int,
    result: ScanResult,
    open_file: Callable[[bytes], IO[bytes]],
    workers: int = 1,
) -> None:
    """Hashes only where sizes collide: size, then a 4 KiB prefix hash, then the full hash where prefixes collide
    too. A file of at most 4 KiB is read once: its prefix hash is its full hash. `open_file` opens a scanned path
    for reading (a local file, a file on an SMB share); `workers` > 1 reads that many files at a time. The
    hashes are kept in memory (only colliding files have any) and written once, in key order (`store_hashes`)."""
    from concurrent.futures import ThreadPoolExecutor

    failures: list[tuple] = []
    pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def read_all(items: list[tuple[bytes, int]], limit: int | None) -> list[tuple[bytes, int, str]]:
        def one(item: tuple[bytes, int]) -> tuple[bytes, int, str | OSError]:
            rel, size = item
            try:
                return rel, size, _hash_file(partial(open_file, rel), limit if size > PREFIX_BYTES else None)
            except OSError as exc:
                return rel, size, exc

        done = []
        for rel, size, outcome in pool.map(one, items) if pool else map(one, items):
            if isinstance(outcome, OSError):
                failures.append((rel, "hash_failed", f"cannot read content: {outcome.strerror or outcome}"))
            else:
                done.append((rel, size, outcome))
        result.hashed += len(items)
        return done

    try:
        prefixes = read_all(store.size_collisions(scan_id), PREFIX_BYTES)
        count: dict[tuple[int, str], int] = {}
        for _rel, size, h in prefixes:
            count[size, h] = count.get((size, h), 0) + 1
        # small files were read whole: their prefix hash is their full hash
        full = {rel: h for rel, size, h in prefixes if count[size, h] > 1 and size <= PREFIX_BYTES}
        again = [(rel, size) for rel, size, h in prefixes if count[size, h] > 1 and size > PREFIX_BYTES]
        full.update((rel, h) for rel, _size, h in read_all(again, None))
        store.store_hashes(scan_id, [(rel, h, full.get(rel)) for rel, _size, h in prefixes])
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    store.add_problems(scan_id, failures)
    result.problems += len(failures)
