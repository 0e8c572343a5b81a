"""Walk a share once, never following symlinks, streaming entries into the scan store.

Local sources are listed by GNU find in a second process (NUL-separated
records, read while it walks) and, where find is missing or complains about
anything, walked with `os.scandir` on bytes paths, which records unreadable and
vanished entries exactly; names that are not UTF-8 survive either way. SSH
sources are listed by one `find -printf` on the server in the same format and
hashed there with coreutils' `b2sum -z` — files are never downloaded to be listed or
hashed.
"""

from __future__ import annotations

import itertools
import marshal
import os
import pwd
import stat
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import add, itemgetter
from typing import IO, TYPE_CHECKING, Any

import xxhash

from oslomig.collector import without_cycle_collector
from oslomig.heap import keep_freed_memory, keeping_freed_memory
from oslomig.shares.found import HEAD, SPAN_BITS, Found, FoundBatch, FoundChunks, distinct, find_expression
from oslomig.shares.store import BATCH, ScanStore

if TYPE_CHECKING:
    import threading

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


class Spool:
    """Batches of rows in an unlinked temporary file (marshal, each after its length), read back in order: memory
    stays flat in the size of the share, and an interrupted scan leaves nothing."""

    def __init__(self, directory: str | None = None):
        import tempfile

        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())

    def append(self, rows: list[tuple]) -> None:
        data = marshal.dumps(rows)
        self.file.write(len(data).to_bytes(8, "little"))
        self.file.write(data)

    def __iter__(self) -> Iterator[list[tuple]]:
        self.file.seek(0)
        while header := self.file.read(8):
            yield marshal.loads(self.file.read(int.from_bytes(header, "little")))

    def close(self) -> None:
        self.file.close()


class SizeTally:
    """The sizes of a listing's non-empty files, to find those more than one file has (the only files worth reading
    for a hash). Held a megabyte at a time, then in an unlinked temporary file, and counted a slice of the size range
    at a time (`colliding`), so memory stays flat in the size of the share."""

    SIZES_AT_ONCE = 1 << 17  # sizes held before they go to their file (1 MiB), and read back at a time
    COUNTED_AT_ONCE = 1 << 18  # sizes counted at a time: 2 MiB, and as much again to sort them
    COUNTED_BY_COUNTER = 4096  # sizes held, at most, counted by a Counter when numpy is imported

    def __init__(self, directory: str | None = None):
        import tempfile

        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())
        self.sizes = array("q")
        self.sized = 0

    def extend(self, sizes) -> None:
        self.sizes.extend(sizes)
        if len(self.sizes) >= self.SIZES_AT_ONCE:
            self._spill()

    def extend_array(self, sizes) -> None:
        """`extend` from a numpy array of int64, copied at once."""
        self.sizes.frombytes(sizes.tobytes())
        if len(self.sizes) >= self.SIZES_AT_ONCE:
            self._spill()

    def _spill(self) -> None:
        self.sizes.tofile(self.file)
        self.sized += len(self.sizes)
        self.sizes = array("q")

    def colliding(self, keep=None) -> tuple[set[int], int]:
        """Sizes more than one non-empty file has, and how many files have them. Counted one slice at a time: the
        sizes whose hash falls in the slice, read back from their file, sorted, neighbours compared (all sizes at
        once took 8 bytes a file and np.unique as much again: +25 MB at 1,000,000 files). Sizes that never left
        memory are counted by a Counter, without importing numpy (0.1 s: a tenth of a small SSH scan), unless numpy
        is imported already (an SSH scan's listing is read by it) and they are many (100,000 sizes: 1 ms sorted by
        numpy, 14-18 ms by the Counter, a wait at the end of an SSH listing).

        `keep`: a test (a numpy array of sizes -> a mask) that passes every size more than one file has, and may
        pass others; the sizes it fails are not counted. When few pass, they are counted at once after one read."""
        if not self.sized and len(self.sizes) > self.COUNTED_BY_COUNTER and "numpy" in sys.modules:
            import numpy as np

            return self._count([np.frombuffer(self.sizes, dtype=np.int64)], np)
        if not self.sized:
            counts = Counter(self.sizes)
            colliding = {size for size, n in counts.items() if n > 1}
            return colliding, sum(counts[size] for size in colliding)
        import numpy as np

        self._spill()
        if keep is not None:
            kept, total = [], 0
            for chunk in self._read_back(np):
                kept.append(chunk[keep(chunk)])
                total += len(kept[-1])
                if total > self.COUNTED_AT_ONCE:  # many pass: counted a slice at a time below
                    break
            else:
                return self._count(kept, np)
        slices = max(1, -(-self.sized // self.COUNTED_AT_ONCE))
        colliding: set[int] = set()
        files = 0
        for part in range(slices):
            chosen = []
            for chunk in self._read_back(np):
                if keep is not None:
                    chunk = chunk[keep(chunk)]
                if slices > 1:  # a multiplicative hash: sizes that are all multiples of 4 KiB still spread
                    chunk = chunk[
                        (chunk.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % slices == part
                    ]
                chosen.append(chunk)
            found, n = self._count(chosen, np)
            colliding.update(found)
            files += n
        return colliding, files

    def _read_back(self, np) -> Iterator:
        self.file.seek(0)
        while len(chunk := np.fromfile(self.file, dtype=np.int64, count=self.SIZES_AT_ONCE)):
            yield chunk

    @staticmethod
    def _count(chosen: list, np) -> tuple[set[int], int]:
        """The sizes in `chosen` (arrays) more than one has, and how many have them."""
        sizes = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
        sizes.sort()
        repeats = sizes[1:] == sizes[:-1]
        found = distinct(sizes[1:][repeats])
        return set(found.tolist()), int(np.count_nonzero(repeats)) + len(found)

    def close(self) -> None:
        self.file.close()


def count_found(found: Found, result: ScanResult, tally: SizeTally):
    """A chunk of find's listing counted into the result (files, bytes) and its non-empty files' sizes into the
    tally; which of its rows those are (a boolean mask: the files whose size may collide)."""
    is_file = found.kinds == ord("f")
    result.files += len(found)
    result.bytes += int(found.sizes[is_file].sum())
    sized = is_file & (found.sizes > 0)
    tally.extend_array(found.sizes[sized])
    return sized


def _first_of_each(buckets, np):
    """The distinct values of an array of numbers below 2^SEEN_BITS, sorted, and the index of each one's first
    occurrence: `np.unique(buckets, return_index=True)`, by one sort of each value with its index packed below it
    (numpy's unstable sort of plain integers, not the stable sort of indexes np.unique does: 95 us against 721 us
    for a chunk of 11,000 files)."""
    if not len(buckets):
        return buckets, np.zeros(0, dtype=np.int64)
    shift = np.uint64(max(1, len(buckets).bit_length()))
    packed = (buckets.astype(np.uint64) << shift) | np.arange(len(buckets), dtype=np.uint64)
    packed.sort()
    values = packed >> shift
    first = np.concatenate(([True], values[1:] != values[:-1]))
    return values[first], (packed[first] & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64)


def _byte_bit(buckets, np):
    """Each bucket's byte in a map of bits (`_Listing.seen`, `_Listing.hit`) and its bit in that byte."""
    return buckets >> np.uint64(3), np.left_shift(1, buckets & np.uint64(7)).astype(np.uint8)


class _Places:
    """Where the files written at once during the walk (`_Listing._new`: the first file of each size) are in find's
    listing file: each file's size and its path's place there, kept in an unlinked temporary file (16 bytes a file;
    memory stays flat). At the walk's end the files of the sizes that collide are read from there (`files_of`):
    SQLite had to look at every row for them, 80 ms at 1,000,000 listing-tree files, to find the one early file of
    the one size that collides there."""

    AT_ONCE = 1 << 17  # places read back at a time (2 MiB)

    def __init__(self, listing: IO[bytes], directory: str):
        import tempfile

        self.listing = listing
        self.file: IO[bytes] | None = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())
        self.placed = 0

    def add(self, found: Found, chosen) -> None:
        """The chosen rows' places (a boolean mask over the chunk's rows), counted in `placed`."""
        import numpy as np

        if self.file is None:
            return
        pick = np.flatnonzero(chosen)
        heads = found.heads[pick]
        lengths = found.ends[pick] - heads - (HEAD + 1)
        heads = heads + found.offset  # in the listing file
        if len(pick) and (heads[-1] >= 1 << (62 - SPAN_BITS) or lengths.max() >= 1 << SPAN_BITS):
            self.close()  # a place that does not fit in a number: SQLite finds the files instead
            return
        places = np.empty((len(pick), 2), dtype=np.int64)
        places[:, 0] = found.sizes[pick]
        places[:, 1] = (heads << SPAN_BITS) | lengths
        places.tofile(self.file)
        self.placed += len(pick)

    def files_of(self, sizes: set[int]) -> list[tuple[bytes, int]] | None:
        """(path, size) of the placed files of those sizes, in key order, each path read from the listing; None when
        some files could not be placed."""
        import numpy as np

        if self.file is None:
            return None
        wanted = np.fromiter(sizes, dtype=np.int64, count=len(sizes))
        files = []
        self.file.seek(0)
        while len(chunk := np.fromfile(self.file, dtype=np.int64, count=2 * self.AT_ONCE)):
            places = chunk.reshape(-1, 2)
            for size, at in places[np.isin(places[:, 0], wanted)].tolist():
                length = at & ((1 << SPAN_BITS) - 1)
                files.append((os.pread(self.listing.fileno(), length, (at >> SPAN_BITS) + HEAD + 1), size))
        files.sort()
        return files

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _Listing:
    """The local walk's rows, held in a temporary file until the walk is done: which sizes collide is known only
    then, and a file's prefix hash goes into its row when the row is first written (filling it in afterwards, one
    UPDATE over every hashed row, cost a department-tree scan a fifth of its time). The rows wait in a `Spool`, the
    sizes are counted by a `SizeTally`."""

    SEEN_BITS = 24  # sizes seen so far, as bits of a 2 MiB map (a size that only shares a bit waits: no harm)
    EARLY_FROM = 0.8  # of a batch's files new sizes, for the batch's new sizes to be written at once

    def __init__(self, directory: str, result: ScanResult, progress=None, write=None, root: bytes | None = None):
        """`write(rows)`, when given, writes rows at once: those of a batch whose files are mostly of sizes not seen
        before (`_write_new`), and, with the share's `root`, the batch's other files with their hashes
        (`_read_now`)."""
        self.directory = directory
        self.spool = Spool(directory)
        self.tally = SizeTally(directory)
        self.result, self.progress, self.write = result, progress, write
        self.rows: list[tuple] = []
        self.waiting: list[tuple] = []  # rows that wait for the walk's end, gathered a batch at a time
        self.seen: Any = None
        self.hit: Any = None  # sizes a file had that an earlier file had too, as bits of a map like `seen`
        self.marked = 0  # files whose sizes went through `_new` (all of the tally's: `hit` holds every repeat)
        self.early = 0  # files of a size > 0 written at once
        self.waited = 0  # rows that wait for the walk's end
        self.root = root
        self.hashed: list[tuple[bytes, int, str]] = []  # files read during the walk: (path, size, prefix hash)
        self.read: set[bytes] = set()  # every file read during the walk, whether its read failed or not
        self.problems: list[tuple] = []  # reads that failed during the walk
        self.keys: set[tuple[int, str]] = set()  # (size, prefix hash) of the files read during the walk
        self.full: set[bytes] = set()  # files written during the walk with their full hash
        self.listed: IO[bytes] | None = None  # find's listing file (`listing_file`)
        self.releasing: threading.Thread | None = None  # the thread that closes it (`release_listing`)
        self.places: _Places | None = None  # where the files counted in `early` are in it

    def add(self, rel: bytes, kind: str, size: int, mtime: float, owner: str | None) -> None:
        self.rows.append((rel, kind, size, mtime, owner))
        self.result.files += 1
        if kind == "file":
            self.result.bytes += size
            if size > 0:
                self.tally.extend((size,))
        if len(self.rows) >= BATCH:
            self._spill()

    def extend_found(self, found: Found, owners: _Owners) -> None:
        """A chunk of find's listing: its counts and sizes taken a column at a time, the rows of new sizes written at
        once as SQLite reads them from the chunk (`Found.batch`), only the rest made into tuples to wait."""
        if self.rows:
            self._spill()
        if not len(found):
            return
        sized = count_found(found, self.result, self.tally)
        now = self._new(sized, found.sizes) if self.write is not None else None
        if now is None:
            wait = found.rows(owners)
        else:
            if now.any():
                self.write(found.batch(owners, now))
                if self.places is not None:
                    self.places.add(found, now & sized)  # the early files: now's other rows are of no size
            wait = self._write_read(found.rows(owners, ~now))
        self._wait(wait)
        if self.progress:
            self.progress.advance(len(found))

    def _wait(self, rows: list[tuple], last: bool = False) -> None:
        """Rows that wait for the walk's end, to the spool a batch of at least BATCH rows at a time (the `last` one
        apart)."""
        self.waiting.extend(rows)
        self.waited += len(rows)
        if self.waiting and (last or len(self.waiting) >= BATCH):
            self.spool.append(self.waiting)
            self.waiting = []

    def _spill(self, last: bool = False) -> None:
        """The batch's rows to the file, but those written at once. What waits is gathered into batches of at least
        BATCH rows (the `last` one apart): the listing tree left ~100 rows a batch, and writing each such batch in
        a transaction of its own cost 0.7 s at 1,000,000 files."""
        self._wait(self._write_new(self.rows) if self.write is not None and self.rows else self.rows, last)
        if self.progress:
            self.progress.advance(len(self.rows))
        self.rows = []

    def _write_new(self, rows: list[tuple]) -> list[tuple]:
        """Writes at once the rows no hash can be wanted for yet, and returns the rest to wait for the walk's end.
        When most of a batch's files have sizes not seen before (a tree of unique sizes), the first file of each
        such size, and the symlinks and empty files, are written now, while find is still walking on the other
        core; if a later file shares the size, the row gets its hashes by an UPDATE (`_store_listing`), and the
        later file is read now (`_read_now`). When sizes repeat (a department tree) the whole batch waits, so each
        row is written once, with its hash."""
        import numpy as np

        _paths, kinds, listed, _mtimes, _owners = zip(*rows, strict=True)
        now = self._new(np.fromiter(map("file".__eq__, kinds), bool, len(rows)), np.array(listed, dtype=np.int64))
        if now is None:
            return rows
        self.write(list(itertools.compress(rows, now.tolist())))
        return self._write_read(list(itertools.compress(rows, (~now).tolist())))

    def _write_read(self, rows: list[tuple]) -> list[tuple]:
        """The rows `_read_now` reads written at once; those it leaves, to wait."""
        read = self._read_now(rows) if rows else None
        if read is None:
            return rows
        self.write(HashedRows(read))
        return []

    def _read_now(self, rows: list[tuple]) -> list[tuple] | None:
        """The files of sizes seen before in a batch of mostly new sizes (a tree of unique sizes, a few repeating)
        read now for their prefix hashes, each row with (prefix hash, full hash): the full hash where a file read
        before has the same size and prefix hash and the file is small (its prefix hash is its whole hash), else
        None. So they are written during the walk, once, and the scan's end gives a full hash only to the first
        file of each such group (held to the end, those rows cost every page of the table once: 0.78 s of a
        1,000,000-file scan). None, and the rows wait, without the share's root or once the walk has read HOLD
        files (memory stays flat)."""
        if self.root is None or len(self.read) + len(rows) > HOLD:
            return None
        out = []
        for row in rows:
            rel, size = row[0], row[2]
            self.read.add(rel)
            try:
                h = _hash_path(self.root + b"/" + rel, size, PREFIX_BYTES)
            except OSError as exc:
                self.problems.append(_hash_failed(rel, exc))
                out.append((*row, None, None))
                continue
            self.hashed.append((rel, size, h))
            full = None
            if (size, h) in self.keys and size <= PREFIX_BYTES:
                full = h
                self.full.add(rel)
            self.keys.add((size, h))
            out.append((*row, h, full))
        self.result.hashed += len(rows)
        return out

    def _new(self, sized, sizes):
        """Which rows to write at once (a boolean mask), or None when the whole batch waits (`_write_new`). `sized`:
        which rows are non-empty files (`count_found`'s mask)."""
        import numpy as np

        if self.seen is None:
            self.seen = np.zeros(1 << (self.SEEN_BITS - 3), dtype=np.uint8)
            self.hit = np.zeros_like(self.seen)
        files = np.flatnonzero(sized)
        every = self._buckets(sizes[files], np)
        buckets, first = _first_of_each(every, np)
        byte, bit = _byte_bit(buckets, np)
        new = first[(self.seen[byte] & bit) == 0]
        np.bitwise_or.at(self.seen, byte, bit)
        repeated = np.ones(len(files), dtype=bool)  # a size an earlier file had, in this chunk or before
        repeated[new] = False
        np.bitwise_or.at(self.hit, *_byte_bit(every[repeated], np))
        self.marked += len(files)
        if len(new) < self.EARLY_FROM * len(files):
            return None
        now = np.ones(len(sizes), dtype=bool)
        now[files] = False
        now[files[new]] = True
        self.early += len(new)
        return now

    def spill(self) -> None:
        """The rows listed so far to the file, or written at once."""
        self._spill()

    def colliding_sizes(self) -> tuple[set[int], int]:
        """The tally's `colliding`, once the last rows are spilled: those it writes at once must be in the table
        before `files_of_sizes`. When every size went through `_new`, only the sizes whose bit is set in `hit` are
        counted (a size's second file sets it): at a million listing-tree files a few thousand, not a million."""
        self._spill()
        whole = self.hit is not None and self.marked == self.tally.sized + len(self.tally.sizes)
        return self.tally.colliding(self._maybe_repeated if whole else None)

    def _buckets(self, sizes, np):
        """Each size's place in the maps `seen` and `hit` (a multiplicative hash: sizes that are all multiples of
        4 KiB still spread)."""
        return (sizes.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - self.SEEN_BITS)

    def _maybe_repeated(self, sizes):
        """Which sizes may have had more than one file: their bit in `hit` is set."""
        import numpy as np

        byte, bit = _byte_bit(self._buckets(sizes, np), np)
        return (self.hit[byte] & bit) != 0

    def batches(self) -> Iterator[list[tuple]]:
        self._spill(last=True)
        yield from self.spool

    def listing_file(self) -> IO[bytes]:
        """An unlinked file for find to write its listing to, kept open until `close`: the files written at once are
        found there again at the walk's end (`files_of_sizes`)."""
        import tempfile

        self.listed = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115 (closed by close())
        self.places = _Places(self.listed, self.directory)
        return self.listed

    def files_of_sizes(self, store: ScanStore, scan_id: int, sizes: set[int]) -> list[tuple[bytes, int]]:
        """(path, size) of the files of those sizes that may have been written during the walk without a hash, in
        key order: read from find's listing where every early file was placed there, else found by SQLite in the
        rows (which gives the files read during the walk too)."""
        files = None
        if self.places is not None and self.places.placed == self.early:
            files = self.places.files_of(sizes)
        return store.files_of_sizes(scan_id, sizes) if files is None else files

    def release_listing(self) -> None:
        """find's listing file closed by a thread while the scan goes on: freeing its pages (70 MB at 1,000,000
        files) took 13-15 ms of the scan's end, while the other core was idle."""
        import threading

        if self.listed is not None:
            self.releasing = threading.Thread(target=self.listed.close, name="oslomig-release")
            self.releasing.start()
            self.listed = None

    def close(self) -> None:
        self.spool.close()
        self.tally.close()
        if self.places is not None:
            self.places.close()
        if self.listed is not None:
            self.listed.close()
        if self.releasing is not None:
            self.releasing.join()


@without_cycle_collector  # the rows held as tuples would be rescanned again and again
def scan_local(store: ScanStore, share: str, root: str, progress=None, after_listing=None) -> ScanResult:
    root_b = os.fsencode(root.rstrip("/") or "/")
    if not os.path.isdir(root_b):
        raise FileNotFoundError(f"{root} is not a directory")
    scan_id = store.begin_scan(share, root)
    result = ScanResult(share, scan_id)
    owners = _Owners()
    directory = str(store.path.parent)

    writer = Writer(store, scan_id)
    listing = _Listing(directory, result, progress, writer.add, root_b)
    problems: list[tuple] = []
    try:
        listed = after_listing is None and list_with_find(root_b, listing, owners)
        listing.spill()  # the last rows written at once go to the writer too
        writer.close()  # every row written at once is in: the database is this process's again
        if not listed:
            listing.close()  # find could not list it cleanly: the walk below lists it again, exactly
            store.drop_files(scan_id)  # and what was written of find's listing goes
            result.files = result.bytes = result.hashed = 0  # counted again by the walk
            if progress is not None:  # the rows find listed are counted again by the walk
                progress.update(completed=0)
            listing = _Listing(directory, result, progress, writer.add, root_b)  # the writer is closed: rows go in here
            for item in walk_local(root_b, after_listing):
                if item[0] == "problem":
                    problems.append(item[1:])
                    continue
                kind, rel, size, mtime, uid = item
                listing.add(rel, kind, size, mtime, owners(uid) if uid >= 0 else None)
        _store_listing(store, scan_id, root_b, listing, result, problems)
        store.add_problems(scan_id, problems)
        store.finish_scan(scan_id, share)
    except BaseException:
        writer.abort()  # the batch being written is finished first: then the scan's rows go
        store.abandon_scan(scan_id)
        raise
    finally:
        listing.close()
    result.problems = len(problems)
    return result


def list_with_find(root: bytes, listing: _Listing, owners: _Owners) -> bool:
    """Lists the tree with GNU find in a second process, reading its records (`found.PRINTF`) a megabyte at a time
    while it walks (measured at 1,000,000 files: the Python walk took 8 s, find under 3 s on the other core). True
    when find listed it all without a word on stderr. False when find is missing, is not GNU find, or complained
    about anything (a directory it could not read, a file that vanished): then the caller walks the tree itself,
    which records each such entry exactly as the spec says."""
    import shutil
    import subprocess
    import tempfile

    find = shutil.which("find")
    if find is None:
        return False
    try:
        owner: int | None = os.stat(root).st_uid  # the owner most of its entries are expected to have
    except OSError:
        owner = None
    # find writes to an unlinked file, not a pipe: it never waits for this process (numpy's import, the writer's
    # start), and the listing is read behind it
    with tempfile.TemporaryFile() as errors:
        out = listing.listing_file()  # kept by the listing: its early files' paths are read from it at the end
        try:
            proc = subprocess.Popen(
                [find, ".", "-mindepth", "1", *find_expression(owner)],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=errors,  # a file, not a pipe: find never blocks on a full pipe we are not reading
                env=keeping_freed_memory({**os.environ, "LC_ALL": "C"}),
            )
        except OSError:
            return False
        keep_freed_memory()  # while find starts: the chunks' arrays reuse one another's memory
        chunks = FoundChunks(_Behind(out.fileno(), proc).read)
        try:
            for found in chunks:
                listing.extend_found(found, owners)
            status = proc.wait()
        except ValueError:  # a field that is not what -printf was asked for: not a find to trust
            return False
        finally:
            if proc.poll() is None:  # interrupted: find goes too
                proc.kill()
                proc.wait()
        return status == 0 and not chunks.pending and errors.tell() == 0


class _Behind:
    """Reads a file that a process is still writing: what it has written so far, at least a quarter of what was asked
    for while it runs (waiting a moment when this reader has caught up), and everything once it has ended; b"" once
    the process has ended and everything is read.

    (Returning whatever had arrived, this reader caught up with `find` and cut its listing into pieces of a few
    kilobytes: ~4,000 reads a 100,000-file tree, each piece parsed and written as a chunk of its own, and each read
    and wait letting go of the GIL while the writer's thread wanted it.)"""

    def __init__(self, fd: int, proc):
        self.fd, self.proc, self.at = fd, proc, 0

    def read(self, n: int) -> bytes:
        import time

        data = b""
        while True:
            done = self.proc.poll() is not None  # before the read: what it wrote before ending is then in the file
            data += os.pread(self.fd, n - len(data), self.at + len(data))
            if done or len(data) >= n // 4:
                self.at += len(data)
                return data
            time.sleep(0.002)


# files read during the walk, and rows waiting for its end that are held until their full hashes are known, at most
# (memory stays flat; see docs/performance.md)
HOLD = 50_000
# files read for their prefix hashes whose keys are held in memory to find those another file shares, at most; past
# that (a share of millions of files) SQLite groups the keys in the rows (`ScanStore.shared_prefixes`)
KEYS_HELD = 1 << 18


class _Keys:
    """(path, size, prefix hash) of the files read, to find those whose size and prefix hash another file has
    (`shared`): held in memory up to KEYS_HELD files, past that left to SQLite, which finds them in the rows (they
    must carry their prefix hashes by then). `spill=False`: always held (rows waiting for their full hashes are
    not in the table yet)."""

    def __init__(self, first: list[tuple[bytes, int, str]] | None = None, spill: bool = True):
        self.held: list[tuple[bytes, int, str]] | None = list(first or ())
        self.spill = spill

    @property
    def in_rows(self) -> bool:
        return self.held is None

    def add(self, read: list[tuple[bytes, int, str]]) -> None:
        if self.held is not None:
            self.held.extend(read)
            if self.spill and len(self.held) > KEYS_HELD:
                self.held = None

    def shared(self, store: ScanStore, scan_id: int) -> list[tuple[bytes, int, str]]:
        return _shared(self.held) if self.held is not None else store.shared_prefixes(scan_id)


def _store_listing(
    store: ScanStore, scan_id: int, root: bytes, listing: _Listing, result: ScanResult, problems: list[tuple]
) -> None:
    """Writes the rows, a file whose size collides with another's read for its prefix hash on the way (size, then
    prefix hash, then full hash, as `hash_collisions` does), then the full hashes where prefixes collide too. With
    many files to read, a worker process reads a batch's files while this one writes the batch before it. Files
    read during the walk (`_Listing._read_now`) are not read again."""
    colliding, to_read = listing.colliding_sizes()
    held: list[tuple] | None = [] if listing.waited <= HOLD else None  # written after the full hashes, with them
    keys = _Keys(listing.hashed, spill=held is None)  # rows held for their full hashes keep their keys in memory
    problems.extend(listing.problems)
    written = listing.files_of_sizes(store, scan_id, colliding) if listing.early and colliding else []
    listing.release_listing()
    if listing.read:  # rows written during the walk with their hashes: read already
        written = [item for item in written if item[0] not in listing.read]

    def keep(items: list[tuple[bytes, int]], outcomes: list) -> Iterator[str | None]:
        for (rel, _size), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, OSError):
                problems.append(_hash_failed(rel, outcome))
                yield None
            else:
                yield outcome
        result.hashed += len(items)

    def write(rows: list[tuple], items: list[tuple[bytes, int]], outcomes) -> None:
        hashes = outcomes.result()
        paths = list(map(itemgetter(0), items))
        if any(map(OSError.__instancecheck__, hashes)):  # a failed read: that batch goes through `keep`
            hashes = list(keep(items, hashes))
            read = [(rel, size, h) for (rel, size), h in zip(items, hashes) if h is not None]
        else:  # the usual batch, every file read: its columns zipped in C
            result.hashed += len(items)
            read = list(zip(paths, map(itemgetter(1), items), hashes))
        prefixes = dict(zip(paths, hashes, strict=True))
        keys.add(read)
        # each row with its prefix hash (None: not read) appended by map over C functions, not a comprehension
        rows = list(map(add, rows, zip(map(prefixes.get, map(itemgetter(0), rows)))))
        if held is None:
            store.add_files(scan_id, rows, "prefix_hash")
        else:
            held.extend(rows)

    # the batches committed a few at a time, the last ones with the hashes filled in after them (the pages both
    # change are written to the log once)
    with store.commits_every(Writer.COMMIT_EVERY) as batch_done:
        with _Reader(root, to_read - len(listing.read) >= POOL_FROM) as reader:
            prefixes: list[tuple[bytes, str]] = []  # of rows written during the walk, before their size collided
            for i in range(0, len(written), BATCH):
                items = written[i : i + BATCH]
                outcomes = reader.submit(items, PREFIX_BYTES, 0.5).result()
                for (rel, size), h in zip(items, keep(items, outcomes), strict=True):
                    if h is not None:
                        keys.add([(rel, size, h)])
                        prefixes.append((rel, h))
            pending: list[tuple] = []
            for rows in listing.batches():
                items = [(rel, size) for rel, kind, size, _mt, _owner in rows if kind == "file" and size in colliding]
                pending.append((rows, items, reader.submit(items, PREFIX_BYTES, OWN_SHARE)))
                if len(pending) > 1:  # the worker reads this batch while the one before is written
                    write(*pending.pop(0))
                    batch_done()
            for args in pending:
                write(*args)
            if keys.in_rows:  # every row's prefix hash in the table first, then SQLite finds the shared ones
                store.set_hashes(scan_id, "prefix_hash", prefixes)
                prefixes = []
            full, again = _split_shared(keys.shared(store, scan_id))
            if listing.full:  # those written during the walk with their full hash already
                full = [(rel, h) for rel, h in full if rel not in listing.full]
            for i in range(0, len(again), BATCH):
                items = again[i : i + BATCH]
                outcomes = reader.submit(items, None, 0.5).result()  # nothing else to do here meanwhile
                full.extend((rel, h) for (rel, _size), h in zip(items, keep(items, outcomes), strict=True) if h)
        if held is not None:  # the held rows with their full hashes; those of rows written during the walk by UPDATE
            fulls = dict(full)
            for i in range(0, len(held), BATCH):
                rows = [(*row, fulls.pop(row[0], None)) for row in held[i : i + BATCH]]
                store.add_files(scan_id, rows, ("prefix_hash", "full_hash"))
            full = list(fulls.items())
        store.set_hashes(scan_id, "prefix_hash", prefixes)
        store.set_hashes(scan_id, "full_hash", full)


def _split_shared(shared: list[tuple[bytes, int, str]]) -> tuple[list[tuple[bytes, str]], list[tuple[bytes, int]]]:
    """Files (path, size, prefix hash) whose size and prefix hash another file has: (path, full hash) of the small
    ones, read whole, whose prefix hash is their full hash, and (path, size) of the larger ones, which must be read
    whole."""
    small = [(rel, h) for rel, size, h in shared if size <= PREFIX_BYTES]
    again = [(rel, size) for rel, size, h in shared if size > PREFIX_BYTES]
    return small, again


SORTED_FROM = 1 << 16  # hashed files from which their keys are sorted as numbers, not counted in a dict


def _shared(hashed: list[tuple[bytes, int, str]]) -> list[tuple[bytes, int, str]]:
    """The files (path, size, prefix hash) whose size and prefix hash another file has too, in their order. Many
    files: each file's key as one number (Python's hash of the pair), sorted by numpy, neighbours compared; only the
    files in a run of equal numbers are counted by their whole key, and only they are looked at after (the other
    files' keys looked up in a set took 0.1 s per 200,000 department-tree files). A Counter over every key took
    160 MB and 1.0-1.2 s at 950,000 files (the scan's peak); the numbers take 8 bytes each. Few files: that Counter
    (counted in C, without importing numpy)."""
    if len(hashed) >= SORTED_FROM:
        import numpy as np

        n = len(hashed)
        keys = np.fromiter(map(hash, zip(map(itemgetter(1), hashed), map(itemgetter(2), hashed))), np.int64, n)
        order = np.argsort(keys)
        same = keys[order[1:]] == keys[order[:-1]]  # a file and the one before it in that order
        in_run = np.zeros(n, dtype=bool)
        in_run[1:] |= same
        in_run[:-1] |= same
        hashed = list(map(hashed.__getitem__, np.sort(order[in_run]).tolist()))
    count = Counter(zip(map(itemgetter(1), hashed), map(itemgetter(2), hashed)))
    shared = {key for key, k in count.items() if k > 1}
    return [item for item in hashed if (item[1], item[2]) in shared]


def _hash_failed(rel: bytes, exc: OSError) -> tuple[bytes, str, str]:
    return rel, "hash_failed", f"cannot read content: {exc.strerror or exc}"


# of a batch's files read here, not by the worker, after writing the batch before (see docs/performance.md)
OWN_SHARE = 1 / 6
POOL_FROM = 20_000  # files to read before a worker process pays for itself (starting it: ~30 ms)


def _hash_many(root: bytes, items: list[tuple[bytes, int]], limit: int | None) -> list[str | OSError]:
    out: list[str | OSError] = []
    for rel, size in items:
        try:
            out.append(_hash_path(root + b"/" + rel, size, limit))
        except OSError as exc:
            out.append(exc)
    return out


def _quiet_worker() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scan's to handle: no traceback from a worker


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class _Shared:
    def __init__(self, future, root: bytes, rest: list[tuple[bytes, int]], limit: int | None):
        self.future, self.root, self.rest, self.limit = future, root, rest, limit

    def result(self) -> list[str | OSError]:
        own = _hash_many(self.root, self.rest, self.limit)  # while the worker reads its part
        return self.future.result() + own


class HashedRows:
    """Rows written during the walk with (prefix hash, full hash) after the owner (`_Listing._read_now`)."""

    def __init__(self, rows: list[tuple]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)


Batch = list[tuple] | FoundBatch | HashedRows  # rows without hashes, rows SQLite reads from a chunk, hashed rows


def _write_batch(store: ScanStore, scan_id: int, batch: Batch) -> None:
    if isinstance(batch, FoundBatch):
        store.add_found(scan_id, batch.data, batch.groups, batch.kind)
    elif isinstance(batch, HashedRows):
        store.add_files(scan_id, batch.rows, ("prefix_hash", "full_hash"))
    else:
        store.add_files(scan_id, batch, column=None)


class Writer:
    """Writes the rows of a local walk that go in at once (`_Listing._write_new`), and an SSH listing's rows, from a
    thread with its own connection, while this one parses find's output: SQLite's inserts are half the scan's work
    besides find's, and SQLite lets go of the GIL while it runs a statement (a chunk of find's listing is one
    statement). The first batch is written here and the thread started at the second (a tree of one batch starts
    none), at most `AHEAD` batches ahead. Once closed, rows are written here. The caller must not write to the
    database itself while it is open; `close()` waits for every batch and raises the first failure.

    (A forked process did this before, sent each batch as marshal bytes through a pipe: 1,000,000 listing-tree
    files 0.93x the time with the thread, median of ten interleaved pairs; department and SSH scans the same.)"""

    AHEAD = 2
    COMMIT_EVERY = 8  # batches of BATCH rows a transaction of the local scan's hashing spans
    # rows a transaction of the thread's spans: ~8 chunks of a local listing. Counted in rows, not batches: an SSH
    # listing's chunks are what has arrived, 40 KB on a tree of small folders, and a commit every 8 of those wrote
    # the B-tree's pages to the log ~30 times (100,000 files over SSH: the writer's CPU 0.27 s)
    COMMIT_ROWS = 100_000

    def __init__(self, store: ScanStore, scan_id: int):
        self.store, self.scan_id = store, scan_id
        self.pool = None
        self.own: ScanStore | None = None  # the thread's connection
        self.pending: list = []
        self.closed = False
        self.batches = 0
        self.uncommitted = 0  # rows the thread has written since its last commit

    def add(self, rows: Batch) -> None:
        self.batches += 1
        if self.pool is None and not self.closed and self.batches > 1:
            self._start()
        if self.pool is None:
            _write_batch(self.store, self.scan_id, rows)
            return
        self.pending.append(self.pool.submit(self._write_own, rows))
        while len(self.pending) > self.AHEAD:
            self.pending.pop(0).result()

    def _write_own(self, rows: Batch) -> None:
        """In the thread: the batch written inside a transaction that spans COMMIT_ROWS rows (a commit writes every
        page the transaction changed, to the write-ahead log or, in a new file's first scan, to the file: the
        B-tree's upper pages each time)."""
        assert self.own is not None
        db = self.own.db
        if not db.in_transaction:
            db.execute("BEGIN")
        _write_batch(self.own, self.scan_id, rows)
        self.uncommitted += len(rows)
        if self.uncommitted >= self.COMMIT_ROWS:
            db.execute("COMMIT")
            self.uncommitted = 0

    def _start(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.own = ScanStore(self.store.path, threads=True, bare=self.store.bare)
        if self.store.unsynced:  # a file this run creates: synced once, when the scan's store closes it
            self.own.db.execute("PRAGMA synchronous=OFF")
        # it only inserts: an INSERT OR REPLACE inside a transaction keeps a statement journal (the pages it changes,
        # to undo it alone), and SQLite moves one of more than 64 KiB, so of any of our pages, to a temporary file it
        # creates and deletes, a statement at a time. Kept in memory: at most the pages one statement changes
        self.own.db.execute("PRAGMA temp_store=MEMORY")
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="oslomig-writer")

    def close(self) -> None:
        """Every batch written (the first failure raised); from now on rows are written here. The rows go on to the
        disk behind the scan (`ScanStore.flush_behind`) while it does what is left."""
        try:
            while self.pending:
                self.pending.pop(0).result()
            if self.own is not None and self.own.db.in_transaction:  # the thread is idle: its last batches
                self.own.db.execute("COMMIT")
        finally:
            self.abort()
        self.store.flush_behind()

    def abort(self) -> None:
        """No more batches; the one being written is finished (so the caller can drop the scan's rows after)."""
        self.closed = True
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.own is not None:
            if self.own.db.in_transaction:  # batches not committed: they go (so does the scan, with its rows)
                self.own.db.execute("ROLLBACK")
            self.own.close()
            self.own = None
        self.pending = []


def _one_worker(initializer: Callable[..., None], *initargs):
    """A pool of one forked worker process (it starts at once, with the code and a test's patches already loaded),
    or None where none can be started (no /dev/shm, no fork)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        return ProcessPoolExecutor(1, multiprocessing.get_context("fork"), initializer=initializer, initargs=initargs)
    except (OSError, ImportError, ValueError):
        return None


class _Reader:
    """Reads files for their hashes, in one worker process when asked (threads do not pay here: each read of a
    small file gives up and takes back the GIL twice, and the hashing thread then waits on the writing one; measured
    slower than one thread), else in this process, and where a worker cannot be started (no /dev/shm)."""

    def __init__(self, root: bytes, worker: bool):
        self.root = root
        self.pool = _one_worker(_quiet_worker) if worker else None

    def submit(self, items: list[tuple[bytes, int]], limit: int | None, own: float = 0.0):
        """The hashes of `items` (or the OSError reading one), when `.result()` is asked for. With a worker, the
        worker reads all but the `own` share at the end, which this process reads when the result is asked for."""
        if self.pool is None or not items:
            return _Done(_hash_many(self.root, items, limit))
        cut = len(items) - int(len(items) * own)
        return _Shared(self.pool.submit(_hash_many, self.root, items[:cut], limit), self.root, items[cut:], limit)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _hash_path(path: bytes, size: int, limit: int | None) -> str:
    """xxh3-128 of a local file's first `limit` bytes (whole when None or when the file is no longer), read with
    os.open/os.read: a buffered file object per file cost twice the read itself on a tree of small files."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a file swapped for a fifo since the walk: no wait
    try:
        if limit is not None and size <= limit:
            data = os.read(fd, limit)
            while len(data) < size and (more := os.read(fd, limit - len(data))):  # a short read before the end
                data += more
            return xxhash.xxh3_128_hexdigest(data)
        h = xxhash.xxh3_128()
        want = limit if limit is not None else -1
        while want and (chunk := os.read(fd, min(1 << 20, want) if want > 0 else 1 << 20)):
            h.update(chunk)
            if want > 0:
                want -= len(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _hash_file(open_file: Callable[[], IO[bytes]], limit: int | None) -> str:
    h = xxhash.xxh3_128()
    with open_file() as handle:
        if limit is not None:
            h.update(handle.read(limit))
        else:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


READ_AT_ONCE = 1 << 16  # bytes `hash_collisions`' `read_head` is asked for at most (one SMB credit)


def _hash_head(
    read_head: Callable[[bytes, int], bytes], open_file: Callable[[bytes], IO[bytes]], rel: bytes, size: int, limit
) -> str:
    """`_hash_file` of a file, its head read in one call where that is all that is wanted: the prefix, or a file
    smaller than READ_AT_ONCE whole (one byte more than its listed size is asked for: a file that grew since is
    read to its end by `open_file`)."""
    if limit is not None:
        return xxhash.xxh3_128_hexdigest(read_head(rel, limit))
    if size < READ_AT_ONCE:
        data = read_head(rel, size + 1)
        if len(data) <= size:  # the whole file (it may have shrunk since it was listed)
            return xxhash.xxh3_128_hexdigest(data)
    return _hash_file(partial(open_file, rel), None)


def hash_collisions(
    store: ScanStore,
    scan_id: int,
    result: ScanResult,
    open_file: Callable[[bytes], IO[bytes]],
    workers: int = 1,
    read_head: Callable[[bytes, int], bytes] | None = None,
) -> None:
    """Hashes only where sizes collide: size, then a 4 KiB prefix hash, then the full hash where prefixes collide
    too. A file of at most 4 KiB is read once: its prefix hash is its full hash. `open_file` opens a scanned path
    for reading (a file on an SMB share; a local scan reads as it writes, `_store_listing`); `read_head(path, n)`,
    where given, reads a file's first n bytes (n at most READ_AT_ONCE) in one call (one round trip over SMB), for
    the prefixes and the files small enough; `workers` > 1 reads that many files at a time. The prefix hashes are
    written a batch at a time as they are read (`store_hashes`); the files whose prefix another file shares are found
    from their keys held in memory, or past KEYS_HELD files by SQLite in the rows (`shared_prefixes`), so memory
    stays flat; their full hashes are written last."""
    from concurrent.futures import ThreadPoolExecutor

    failures: list[tuple] = []
    pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def read_all(items: list[tuple[bytes, int]], limit: int | None) -> list[tuple[bytes, int, str]]:
        def one(item: tuple[bytes, int]) -> tuple[bytes, int, str | OSError]:
            rel, size = item
            wanted = limit if size > PREFIX_BYTES else None
            try:
                if read_head is not None:
                    return rel, size, _hash_head(read_head, open_file, rel, size, wanted)
                return rel, size, _hash_file(partial(open_file, rel), wanted)
            except OSError as exc:
                return rel, size, exc

        done = []
        for rel, size, outcome in pool.map(one, items) if pool else map(one, items):
            if isinstance(outcome, OSError):
                failures.append(_hash_failed(rel, outcome))
            else:
                done.append((rel, size, outcome))
        result.hashed += len(items)
        return done

    try:
        keys = _Keys()
        for items in store.size_collisions(scan_id, BATCH):
            read = read_all(items, PREFIX_BYTES)
            store.store_hashes(scan_id, [(rel, h, None) for rel, _size, h in read])
            keys.add(read)
        small, again = _split_shared(keys.shared(store, scan_id))
        full = dict(small)
        full.update((rel, h) for rel, _size, h in read_all(again, None))
        store.set_hashes(scan_id, "full_hash", list(full.items()))
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    store.add_problems(scan_id, failures)
    result.problems += len(failures)
