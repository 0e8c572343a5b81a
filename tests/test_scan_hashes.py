"""The local scan's content hashes, held to a brute-force oracle on generated trees.

A file is read only when its size collides with another non-empty regular file's; its prefix hash is the xxh3-128
of its first 4 KiB; its full hash is set only when another file has the same size and prefix hash (a file of at
most 4 KiB was read whole, so its prefix hash is its full hash).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import xxhash
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oslomig.shares import found, scan
from oslomig.shares.scan import scan_local
from oslomig.shares.store import ScanStore

SIZES = [1, 2, 4095, 4096, 4097, 9000]


def content(size: int, head: int, tail: int) -> bytes:
    """`size` bytes whose first and last byte vary: same size, different prefix; same prefix, different end."""
    body = bytearray((i * 7) % 251 for i in range(size))
    if not body:
        return b""
    body[0] = head
    body[-1] = (body[-1] + tail) % 256 if size > 1 else head
    return bytes(body)


files = st.lists(
    st.tuples(
        st.sampled_from(["", "a/", "a/b/", "c/"]), st.sampled_from(SIZES + [0]), st.integers(0, 2), st.integers(0, 2)
    ),
    min_size=1,
    max_size=14,
)


def oracle(root: Path) -> dict[bytes, tuple[str | None, str | None]]:
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                found[os.fsencode(p.relative_to(root))] = p.read_bytes()
    sizes: dict[int, int] = {}
    for data in found.values():
        if data:
            sizes[len(data)] = sizes.get(len(data), 0) + 1
    prefix = {rel: xxhash.xxh3_128_hexdigest(d[:4096]) for rel, d in found.items() if d and sizes[len(d)] > 1}
    pairs: dict[tuple[int, str], int] = {}
    for rel, h in prefix.items():
        pairs[len(found[rel]), h] = pairs.get((len(found[rel]), h), 0) + 1
    out = {}
    for rel, data in found.items():
        h = prefix.get(rel)
        full = xxhash.xxh3_128_hexdigest(data) if h and pairs[len(data), h] > 1 else None
        out[rel] = (h, full)
    return out


def build(root: Path, spec) -> None:
    for i, (folder, size, head, tail) in enumerate(spec):
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}").write_bytes(content(size, head, tail))
    (root / "link").symlink_to("f0")  # a symlink is listed, never read


SMALL_COPIES = [("", 9, 0, 0), ("a/", 9, 0, 0), ("c/", 9, 0, 0), ("d/", 9, 1, 0)]  # three the same, one apart


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=files,
    batch=st.sampled_from([2, 3, 5000]),
    pool=st.booleans(),
    early=st.sampled_from([0.0, 0.8, 2.0]),
    held=st.booleans(),
)
@example(spec=[("", 4097, 0, 0), ("a/", 4097, 0, 1), ("c/", 4097, 0, 0)], batch=2, pool=False, early=0.8, held=False)
@example(spec=[("", 4096, 0, 0), ("a/", 4096, 0, 0), ("", 1, 1, 0)], batch=3, pool=True, early=0.8, held=False)
@example(spec=[("", 4096, 0, 0), ("a/", 4096, 0, 0), ("", 1, 1, 0)], batch=3, pool=True, early=0.8, held=True)
# read during the walk (rows of a size seen before, in a batch written at once): larger files sharing a prefix are
# read whole at the end; small ones sharing it get their full hash as they are written
@example(spec=[("", 4097, 0, 0), ("a/", 4097, 0, 1), ("c/", 4097, 0, 0)], batch=5000, pool=False, early=0.0, held=True)
@example(spec=SMALL_COPIES, batch=5000, pool=False, early=0.0, held=True)
@example(
    spec=[("", 9000, 0, 0), ("a/", 9000, 0, 0), ("", 1, 1, 0), ("c/", 1, 1, 0)],
    batch=5000,
    pool=True,
    early=0.0,
    held=True,
)
def test_local_hashes_match_the_oracle(tmp_path_factory, monkeypatch, spec, batch, pool, early, held):
    base = tmp_path_factory.mktemp("tree")
    root = base / "share"
    build(root, spec)
    monkeypatch.setattr(scan, "BATCH", batch)  # rows spilled and read back in several batches
    monkeypatch.setattr(scan.SizeTally, "SIZES_AT_ONCE", batch + 1)  # sizes spilled and read back in chunks
    monkeypatch.setattr(scan.SizeTally, "COUNTED_AT_ONCE", batch)  # and counted in several slices
    monkeypatch.setattr(scan, "POOL_FROM", 0 if pool else 10**9)  # hashed by a worker process, or in this one
    monkeypatch.setattr(scan, "SORTED_FROM", 0 if pool else 10**9)  # shared keys sorted as numbers, or counted
    # rows of new sizes written during the walk and hashed by an UPDATE (0.0), only when most sizes are new, or
    # every row written once, with its hashes, after the walk (2.0)
    monkeypatch.setattr(scan._Listing, "EARLY_FROM", early)
    # the rows that waited for the walk's end held until their full hashes are known, or written with their prefix
    # hashes as they are read and given their full hashes by an UPDATE
    monkeypatch.setattr(scan, "HOLD", 10**9 if held else -1)
    store = ScanStore(base / "s.sqlite")
    result = scan_local(store, "s", str(root))
    got = {p: (h, f) for p, kind, h, f in store.db.execute("SELECT path, kind, prefix_hash, full_hash FROM files")}
    kinds = dict(store.db.execute("SELECT path, kind FROM files"))
    assert kinds.pop(b"link") == "symlink" and got.pop(b"link") == (None, None)
    assert got == oracle(root)
    assert result.files == len(spec) + 1
    # files read: every prefix hash, and again whole where a larger file's prefix collides (a small one's prefix
    # hash is its full hash)
    sizes = dict(store.db.execute("SELECT path, size FROM files"))
    reads = sum(1 for h, _ in got.values() if h) + sum(1 for p, (_, f) in got.items() if f and sizes[p] > 4096)
    assert result.hashed == reads
    assert sorted(os.listdir(base)) == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal", "share"]  # no spill file left


@pytest.mark.parametrize("held", [-1, 10**9])  # the waiting rows written as read, or held for their full hashes
@pytest.mark.parametrize("early", [0.0, 2.0])  # the first file of the size written during the walk, or none
@pytest.mark.parametrize("denied_name", ["a", "b", "c"])
def test_a_file_that_cannot_be_read_is_a_problem_not_a_hash(tmp_path, monkeypatch, early, denied_name, held):
    root = tmp_path / "share"
    root.mkdir()
    for name in ("a", "b", "c"):
        (root / name).write_bytes(b"same")
    real = scan._hash_path

    def denied(path: bytes, size: int, limit):
        if path.endswith(b"/" + denied_name.encode()):
            raise PermissionError(13, "Permission denied")
        return real(path, size, limit)

    monkeypatch.setattr(scan, "_hash_path", denied)
    monkeypatch.setattr(scan._Listing, "EARLY_FROM", early)
    monkeypatch.setattr(scan, "HOLD", held)
    store = ScanStore(tmp_path / "s.sqlite")
    result = scan_local(store, "s", str(root))
    rows = {p: (h, f) for p, h, f in store.db.execute("SELECT path, prefix_hash, full_hash FROM files")}
    denied_path = denied_name.encode()
    assert rows.pop(denied_path) == (None, None)
    assert [f for _h, f in rows.values()] == [xxhash.xxh3_128_hexdigest(b"same")] * 2
    assert store.db.execute("SELECT path, kind, message FROM problems").fetchall() == [
        (denied_path, "hash_failed", "cannot read content: Permission denied")
    ]
    assert result.problems == 1 and result.files == 3


def test_interrupted_while_hashing_keeps_the_previous_scan(tmp_path, monkeypatch):
    root = tmp_path / "share"
    root.mkdir()
    (root / "a").write_bytes(b"1")
    (root / "b").write_bytes(b"2")
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(root))

    def interrupt(path: bytes, size: int, limit):
        raise KeyboardInterrupt

    (root / "c").write_bytes(b"3")
    monkeypatch.setattr(scan, "_hash_path", interrupt)
    with pytest.raises(KeyboardInterrupt):
        scan_local(store, "s", str(root))
    scan_id = store.latest_scan("s")[0]
    assert [r[0] for r in store.iter_files(scan_id)] == [b"a", b"b"]
    assert sorted(os.listdir(tmp_path)) == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal", "share"]


_write_batch = scan._write_batch


def _disk_full(store, scan_id: int, batch) -> None:
    if threading.current_thread() is threading.main_thread():  # the first batch, written before the thread starts
        _write_batch(store, scan_id, batch)
        return
    raise RuntimeError("database or disk is full")


def _slow_write(store, scan_id: int, batch) -> None:
    if threading.current_thread() is not threading.main_thread():
        time.sleep(0.3)  # still writing when the scan is interrupted
    _write_batch(store, scan_id, batch)


@pytest.mark.parametrize("failure", [RuntimeError("database or disk is full"), KeyboardInterrupt()])
def test_a_writer_thread_that_fails_or_an_interrupt_during_the_walk_keeps_the_previous_scan(
    tmp_path, monkeypatch, failure
):
    """The rows written during the walk go in from a thread of their own: its failure reaches the scan, which is
    abandoned, as is one interrupted while that thread writes; the previous scan stays whole either way."""
    root = tmp_path / "share"
    for d in range(4):
        (root / f"d{d}").mkdir(parents=True)
        for f in range(5):
            (root / f"d{d}" / f"f{f}").write_bytes(b"x" * (d * 5 + f + 1))  # sizes all new: written at once
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(root))
    before = list(store.iter_files(store.latest_scan("s")[0]))
    monkeypatch.setattr(scan, "BATCH", 3)  # several batches, so the writer thread starts
    monkeypatch.setattr(found.FoundChunks, "CHUNK", 64)  # find's listing read a few records at a time
    written: list[int] = []
    real = scan.Writer.add

    def add(self, rows):
        written.append(len(rows))
        if len(written) == 3 and isinstance(failure, KeyboardInterrupt):
            raise failure  # interrupted with batches still with the writer
        real(self, rows)

    monkeypatch.setattr(scan.Writer, "add", add)
    monkeypatch.setattr(scan, "_write_batch", _disk_full if isinstance(failure, RuntimeError) else _slow_write)
    (root / "new.txt").write_bytes(b"new")
    with pytest.raises(type(failure)):
        scan_local(store, "s", str(root))
    assert len(written) >= 3
    # the batch being written was finished before the scan's rows went: its thread is gone, not still at work
    assert not [t for t in threading.enumerate() if t.name.startswith("oslomig-writer")]
    if isinstance(failure, KeyboardInterrupt):
        time.sleep(1)  # a writer left running would have written its batches by now
    assert list(store.iter_files(store.latest_scan("s")[0])) == before
    assert store.db.execute("SELECT count(*) FROM scans").fetchone()[0] == 1  # the failed one abandoned
    assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == len(before)


def test_only_a_walk_of_several_batches_starts_a_writer_thread(tmp_path, monkeypatch):
    root = tmp_path / "share"
    root.mkdir()
    for f in range(12):
        (root / f"f{f}").write_bytes(b"x" * (f + 1))
    started: list[int] = []
    monkeypatch.setattr(scan.Writer, "_start", lambda self: started.append(self.batches))  # rows then go in here
    store = ScanStore(tmp_path / "s.sqlite")
    assert scan_local(store, "s", str(root)).files == 12
    assert started == []  # one batch: written here, no thread
    monkeypatch.setattr(scan, "BATCH", 3)
    monkeypatch.setattr(found.FoundChunks, "CHUNK", 32)
    assert scan_local(store, "s", str(root)).files == 12
    assert started and started[0] == 2  # from the second batch
    assert len(list(store.iter_files(store.latest_scan("s")[0]))) == 12


HEXES = ["0123456789abcdef" * 2, "01234567" + "f" * 24, "01234567" + "0" * 24, "fedcba98" * 4, "00000000" * 4]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(HEXES)), max_size=40))
def test_shared_keys_sorted_as_numbers_or_counted_agree(items):
    """`_shared` sorts many files' keys as numbers (a hash of size and prefix hash) and counts only runs: hashes
    that share their first 32 bits and differ after, sizes that differ under one hash, must come out as the Counter
    over every key says, each file in its place."""
    hashed = [(f"f{i}".encode(), size, h) for i, (size, h) in enumerate(items)]
    counted = Counter((size, h) for _rel, size, h in hashed)
    expected = [item for item in hashed if counted[item[1:]] > 1]
    saved = scan.SORTED_FROM
    try:
        scan.SORTED_FROM = 0
        assert scan._shared(hashed) == expected
        scan.SORTED_FROM = 10**9
        assert scan._shared(hashed) == expected
    finally:
        scan.SORTED_FROM = saved


@pytest.mark.parametrize("walk", [None, lambda path, entries: None])  # listed by find, or walked
@pytest.mark.parametrize("hold, columns", [(4, ("prefix_hash", "full_hash")), (3, ("prefix_hash",))])
def test_only_a_few_waiting_rows_are_held_for_their_full_hashes(tmp_path, monkeypatch, hold, columns, walk):
    """Rows that wait for the walk's end are held in memory until their full hashes are known only up to HOLD of
    them (memory stays flat in the share); more go in as they are read, their full hashes by an UPDATE."""
    root = tmp_path / "share"
    root.mkdir()
    for name in "abcd":
        (root / name).write_bytes(b"same")  # one size: every row waits, all four are copies
    monkeypatch.setattr(scan, "HOLD", hold)
    written: list = []
    real = ScanStore.add_files
    monkeypatch.setattr(
        ScanStore, "add_files", lambda self, sid, rows, column: written.append(column) or real(self, sid, rows, column)
    )
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(root), after_listing=walk)
    assert {(column,) if isinstance(column, str) else column for column in written} == {columns}
    hashes = store.db.execute("SELECT DISTINCT prefix_hash, full_hash FROM files").fetchall()
    assert hashes == [(xxhash.xxh3_128_hexdigest(b"same"),) * 2]


def test_a_scan_runs_with_the_cycle_collector_off_and_turns_it_back_on(tmp_path, monkeypatch):
    """The collector is off while a local scan holds its rows (it rescanned them again and again: 0.3 s of a
    department-tree scan's 1.8 s), and on again after, when the scan ends and when it fails."""
    import gc

    from oslomig.shares import scan
    from oslomig.shares.store import ScanStore

    root = tmp_path / "share"
    root.mkdir()
    (root / "a.txt").write_text("same")
    (root / "b.txt").write_text("same")
    seen: list[bool] = []
    real = scan._store_listing

    def store_listing(*args):
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(scan, "_store_listing", store_listing)
    store = ScanStore(tmp_path / "s.sqlite")
    assert gc.isenabled()
    assert scan.scan_local(store, "s", str(root)).hashed == 2
    assert seen == [False] and gc.isenabled()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(scan, "_store_listing", fail)
    with pytest.raises(OSError, match="disk full"):
        scan.scan_local(store, "s", str(root))
    assert gc.isenabled()
    monkeypatch.setattr(scan, "_store_listing", real)
    gc.disable()
    try:  # a caller that had it off finds it off
        assert scan.scan_local(store, "t", str(root)).hashed == 2
        assert not gc.isenabled()
    finally:
        gc.enable()
    store.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, (1 << scan._Listing.SEEN_BITS) - 1), max_size=300), st.sampled_from([4, 1 << 24]))
def test_first_of_each_is_what_np_unique_gives(values, spread):
    """`_first_of_each` packs each value with its index and sorts once: the distinct values and the index of each
    one's first occurrence, as `np.unique(..., return_index=True)` gives them, with many repeats or few."""
    import numpy as np

    buckets = np.array([v % spread for v in values], dtype=np.uint64)
    want_values, want_first = np.unique(buckets, return_index=True)
    got_values, got_first = scan._first_of_each(buckets, np)
    assert got_values.tolist() == want_values.tolist() and got_first.tolist() == want_first.tolist()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunks=st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=8),
    spill=st.sampled_from([3, 1 << 17]),
)
def test_the_sizes_that_collide_are_the_same_counted_through_the_map_of_repeats(tmp_path, monkeypatch, chunks, spill):
    """Sizes go through `_Listing._new` a chunk at a time (within a chunk and across chunks, a size repeats or
    not); counted through its map of repeats (`hit`), the sizes that collide and their files are those a count of
    every size gives, whether the tally spilled to its file or not."""
    import numpy as np

    monkeypatch.setattr(scan.SizeTally, "SIZES_AT_ONCE", spill)
    result = scan.ScanResult("s", 1)
    listing = scan._Listing(str(tmp_path), result, write=lambda rows: None)
    every: list[int] = []
    try:
        for sizes in chunks:
            array = np.array(sizes, dtype=np.int64)
            listing.tally.extend_array(array[array > 0])
            listing._new(array > 0, array)  # the non-empty files, as count_found gives them
            every.extend(s for s in sizes if s > 0)
        counts = Counter(every)
        want = {s for s, n in counts.items() if n > 1}
        assert listing.colliding_sizes() == (want, sum(counts[s] for s in want))
    finally:
        listing.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 2**62), max_size=60).flatmap(
        lambda base: (
            st.lists(st.sampled_from(base), max_size=60).map(lambda again: base + again) if base else st.just([])
        )
    ),
    by_counter=st.sampled_from([0, 10**9]),
    spill=st.sampled_from([5, 1 << 17]),
)
def test_the_tally_counts_colliding_sizes_alike_every_way(tmp_path, monkeypatch, sizes, by_counter, spill):
    """The sizes that collide and their files, as a count of every size gives them: held and counted by a Counter,
    held and sorted by numpy, or spilled to the tally's file."""
    import numpy  # noqa: F401 (imported: the held sizes may be sorted by it)

    monkeypatch.setattr(scan.SizeTally, "COUNTED_BY_COUNTER", by_counter)
    monkeypatch.setattr(scan.SizeTally, "SIZES_AT_ONCE", spill)
    tally = scan.SizeTally(str(tmp_path))
    try:
        for k in range(0, len(sizes), 7):
            tally.extend(sizes[k : k + 7])
        counts = Counter(sizes)
        want = {s for s, n in counts.items() if n > 1}
        assert tally.colliding() == (want, sum(counts[s] for s in want))
    finally:
        tally.close()


@pytest.mark.parametrize("early", [0.0, 2.0])  # first files of their size written during the walk, or none
@pytest.mark.parametrize("keys_held", [0, 10**9])  # the keys grouped by SQLite in the rows, or held in memory
def test_shared_prefixes_found_in_the_rows_are_those_found_in_memory(tmp_path, monkeypatch, early, keys_held):
    """Past KEYS_HELD files read, the files whose size and prefix hash another file has are found by SQLite in the
    rows (`ScanStore.shared_prefixes`), not from keys held in memory: the hashes are the oracle's either way."""
    root = tmp_path / "share"
    spec = [
        *SMALL_COPIES,
        ("", 4097, 0, 0),  # three larger files of one size: two the same, one with the same prefix, another tail
        ("a/", 4097, 0, 0),
        ("c/", 4097, 0, 1),
        ("d/", 4097, 1, 0),  # the same size, another prefix
        ("", 5000, 2, 0),  # a size of its own
    ]
    build(root, spec)
    monkeypatch.setattr(scan, "BATCH", 3)
    monkeypatch.setattr(scan._Listing, "EARLY_FROM", early)
    monkeypatch.setattr(scan, "HOLD", -1)  # rows written with their prefix hashes as they are read
    monkeypatch.setattr(scan, "KEYS_HELD", keys_held)
    used: list[int] = []
    real = ScanStore.shared_prefixes
    monkeypatch.setattr(ScanStore, "shared_prefixes", lambda self, scan_id: used.append(1) or real(self, scan_id))
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(root))
    got = {p: (h, f) for p, h, f in store.db.execute("SELECT path, prefix_hash, full_hash FROM files")}
    assert got.pop(b"link") == (None, None)
    assert got == oracle(root)
    assert bool(used) == (keys_held == 0)


@pytest.mark.parametrize("placed", [True, False])
def test_early_files_of_colliding_sizes_are_read_from_finds_listing_or_found_by_sqlite(tmp_path, monkeypatch, placed):
    """The first file of each size is written during the walk without a hash; if a later file has its size, the walk's
    end finds it again: by its place in find's listing file (`_Places`), or by SQLite in the rows where a place did not
    fit in its number. The hashes are the oracle's either way, and SQLite is searched only in the second case. find's
    listing is read a few hundred bytes at a time, so most places are in chunks after the first."""
    root = tmp_path / "share"
    spec = [(f"d{i % 3}/", 100 + i, i % 2, 0) for i in range(40)]  # sizes of their own: written at once
    spec += [("e/", 105, 1, 0), ("e/", 133, 0, 0), ("e/", 133, 1, 0)]  # the sizes of earlier files
    build(root, spec)
    monkeypatch.setattr(scan._Listing, "EARLY_FROM", 0.0)
    monkeypatch.setattr(found.FoundChunks, "CHUNK", 512)
    if not placed:
        monkeypatch.setattr(scan, "SPAN_BITS", 2)  # no path's length (5-6 bytes) fits: the places are given up
    searched: list[set[int]] = []
    real = ScanStore.files_of_sizes
    monkeypatch.setattr(
        ScanStore, "files_of_sizes", lambda self, scan_id, sizes: searched.append(sizes) or real(self, scan_id, sizes)
    )
    store = ScanStore(tmp_path / "s.sqlite")
    result = scan_local(store, "s", str(root))
    got = {p: (h, f) for p, h, f in store.db.execute("SELECT path, prefix_hash, full_hash FROM files")}
    assert got.pop(b"link") == (None, None)
    assert got == oracle(root)
    assert sum(1 for h, _f in got.values() if h) == 5 and result.files == len(spec) + 1
    assert searched == ([] if placed else [{105, 133}])
    assert sorted(os.listdir(tmp_path)) == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal", "share"]  # no file left


def test_objects_made_with_the_collector_on_for_a_while_are_not_left_young():
    """`collector_on` inside `without_cycle_collector`: what is made inside it (an SSH scan's imports, while the client
    connects) is collected young as it is made and moved on, so the collector's first pass when the command ends does
    not go over it again; what is made after, with the collector off again, stays young until then."""
    import gc

    from oslomig.collector import collector_on, without_cycle_collector

    @without_cycle_collector
    def made() -> tuple[int, int, bool, bool]:
        with collector_on():
            during = gc.isenabled()
            inside = [[] for _ in range(5000)]
        after = gc.isenabled()
        outside = [[] for _ in range(5000)]
        young = {id(o) for o in gc.get_objects(generation=0)}
        return sum(id(o) in young for o in inside), sum(id(o) in young for o in outside), during, after

    assert gc.isenabled()
    inside_young, outside_young, during, after = made()
    assert during and not after and gc.isenabled()
    assert outside_young == 5000
    assert inside_young < 1000  # a young collection every 700 allocations, at most


def test_the_collectors_pass_over_what_a_call_made_comes_after_it_returns():
    """`without_cycle_collector` turns the collector back on and returns without making anything: its first pass
    over the call's objects (0.47 s after a million databases' groups) comes at the caller's next allocation, not
    inside the call."""
    import gc

    from oslomig.collector import without_cycle_collector

    events: list[str] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            events.append("collected")

    @without_cycle_collector
    def make() -> list[list[int]]:
        return [[i] for i in range(50_000)]

    assert gc.isenabled()
    gc.callbacks.append(seen)
    try:
        made = make()
        events.append("returned")
        more = [[i] for i in range(1000)]  # the caller's next allocations
    finally:
        gc.callbacks.remove(seen)
    assert len(made) == 50_000 and len(more) == 1000
    assert events[0] == "returned" and "collected" in events
