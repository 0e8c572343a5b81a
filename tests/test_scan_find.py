"""A local scan lists the tree with GNU find when it can, and walks it itself when find cannot list it cleanly;
either way the scan database holds the same rows, byte for byte (times to the last bit)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oslomig import heap
from oslomig.shares import found, scan, ssh
from oslomig.shares.scan import scan_local
from oslomig.shares.store import ScanStore

NAMES = st.one_of(
    st.sampled_from([b"a", b"B", b"with space ", b"new\nline", b"tab\tx", b"quote'\"", b"back\\slash", b"~$lock.docx"]),
    st.sampled_from([b"\xff\xfe", b"caf\xc3\xa9", b"caf\xe9", b"-dash", b".hidden", b"x" * 200]),
)
TIMES_NS = st.one_of(
    st.sampled_from([0, 1, 999_999_999, 1_000_000_000, -1, -1_500_000_000, 1_700_000_000_123_456_789]),
    st.integers(-(10**18), 4 * 10**18),
)
OWNERS = st.sampled_from([None, None, 4321, 54321, 4294967294])  # None: the process's; others when run as root
ENTRIES = st.lists(
    st.tuples(
        st.lists(NAMES, min_size=1, max_size=3),
        st.sampled_from(["file", "link", "dangling", "fifo", "dir"]),
        st.integers(0, 5000),
        TIMES_NS,
        OWNERS,
    ),  # fmt: skip
    min_size=1,
    max_size=12,
)


def build(root: Path, entries, owner: int | None = None) -> None:
    """The entries under `root`, each owned by its owner where one is given and the process may give it (root)."""
    root.mkdir()
    base = os.fsencode(root)
    give = os.geteuid() == 0
    if owner is not None and give:
        os.chown(root, owner, -1)
    for parts, kind, size, mtime_ns, *owned in entries:
        path = os.path.join(base, *parts)
        parent = os.path.dirname(path)
        if os.path.lexists(path):
            continue  # a name already taken (writing into a fifo taken for a file would wait for a reader)
        try:
            os.makedirs(parent, exist_ok=True)
            if kind == "file":
                with open(path, "wb") as handle:
                    handle.write(b"z" * size)
                os.utime(path, ns=(mtime_ns, mtime_ns))
            elif kind == "link":
                os.symlink(b"x" * (size % 7 + 1), path)
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            elif kind == "dangling":
                os.symlink(b"nowhere", path)
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                os.makedirs(path, exist_ok=True)
            if owned and owned[0] is not None and give:
                os.lchown(path, owned[0], -1)
        except OSError:
            continue  # a name already taken by another kind of entry


def rows(store: ScanStore) -> list[tuple]:
    return store.db.execute(
        "SELECT hex(path), kind, size, quote(mtime), owner, prefix_hash, full_hash FROM files ORDER BY path"
    ).fetchall()


def walked(tmp: Path, root: Path) -> tuple[list[tuple], scan.ScanResult]:
    store = ScanStore(tmp / "walked.sqlite")
    result = scan_local(store, "s", str(root), after_listing=lambda path, entries: None)  # the walk, not find
    return rows(store), result


@pytest.mark.skipif(shutil.which("find") is None, reason="needs find")
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, owner=OWNERS)
@example(
    entries=[([b"d", b"f"], "file", 10, -1_500_000_000, None), ([b"g"], "file", 10, 1_700_000_000_000_000_001, None)],
    owner=None,
)
@example(  # the root's owner is most files' (printed as text by find) and not the others' (printed by %U)
    entries=[([b"a"], "file", 1, 0, 4321), ([b"b"], "link", 1, 0, 4321), ([b"c"], "file", 1, 0, None)], owner=4321
)
def test_find_and_the_walk_store_the_same_rows(tmp_path_factory, entries, owner):
    """The same rows from find's listing as from the walk, owners too: those of the root's owner, whose id find
    prints as text, and the others."""
    tmp = tmp_path_factory.mktemp("t")
    root = tmp / "share"
    build(root, entries, owner)
    listing = scan._Listing(str(tmp), scan.ScanResult("s", 0))
    assert scan.list_with_find(os.fsencode(root), listing, scan._Owners())  # find listed it, no fallback
    listing.close()
    store = ScanStore(tmp / "found.sqlite")
    found = scan_local(store, "s", str(root))
    expected, result = walked(tmp, root)
    assert rows(store) == expected
    assert (found.files, found.bytes, found.hashed) == (result.files, result.bytes, result.hashed)


FAKE = """#!/bin/sh
{body}
"""


def fake_find(tmp: Path, monkeypatch, body: str) -> None:
    bindir = tmp / "bin"
    bindir.mkdir()
    script = bindir / "find"
    script.write_text(FAKE.format(body=body.replace("REAL", shutil.which("find") or "find")))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


@pytest.mark.parametrize(
    "body",
    [
        'REAL "$@"; echo "find: \'./gone\': No such file or directory" >&2; exit 1',  # a complaint, status 1
        'REAL "$@" 2>/dev/null; echo "find: warning: something" >&2',  # a complaint, status 0
        "exit 1",  # fails, lists nothing
        'REAL "$@" | head -c 45',  # a record cut short
        "printf 'f %20s %22s %11s\\0a\\0' 1 1700000000.123456789 0",  # nine digits: not the format read
        "printf 'f %20s %22s %11s\\0a\\0' x 1700000000.1234567890 0",  # a size that is not a number
        # lists a file the walk does not find (gone since), then complains: what it listed is not kept
        "printf 'f %20s %22s %11s\\0ghost\\0' 1 1700000000.1234567890 0; echo 'find: ./x: gone' >&2; exit 1",
    ],
)
def test_a_find_that_cannot_list_cleanly_leaves_it_to_the_walk(tmp_path, monkeypatch, body):
    root = tmp_path / "share"
    # mostly new sizes, so find's listing reads the second file of size 3 as it goes (`_read_now`)
    entries = [([b"a"], "file", 3, 10**18), ([b"d", b"b"], "file", 3, 5), ([b"c"], "file", 9, 7)]
    build(root, [*entries, ([b"e"], "file", 1, 7), ([b"f"], "file", 2, 7)])
    expected, walk = walked(tmp_path, root)
    fake_find(tmp_path, monkeypatch, body)
    listing = scan._Listing(str(tmp_path), scan.ScanResult("s", 0))
    assert not scan.list_with_find(os.fsencode(root), listing, scan._Owners())
    listing.close()
    store = ScanStore(tmp_path / "s.sqlite")
    progress = Counted()
    monkeypatch.setattr(scan, "BATCH", 1)  # what find lists is counted as it comes
    result = scan_local(store, "s", str(root), progress=progress)
    assert rows(store) == expected and result.files == 5 and result.bytes == 18
    assert progress.completed == 5  # what find listed before it failed is not counted twice
    assert result.hashed == walk.hashed == 2  # nor what it read


def test_a_fake_find_of_the_right_format_is_read(tmp_path, monkeypatch):
    """The fake finds above print records of the format asked for: each is refused for what its comment says."""
    root = tmp_path / "share"
    root.mkdir()
    fake_find(tmp_path, monkeypatch, "printf 'f %20s %22s %11s\\0ghost\\0' 1 1700000000.1234567890 0")
    result = scan.ScanResult("s", 0)
    listing = scan._Listing(str(tmp_path), result)
    assert scan.list_with_find(os.fsencode(root), listing, scan._Owners())
    assert [row[:4] for batch in listing.batches() for row in batch] == [(b"ghost", "file", 1, 1700000000.123456789)]
    listing.close()


def test_find_keeps_the_memory_it_frees(tmp_path, monkeypatch):
    """find is run with glibc's heap settings (`heap.keeping_freed_memory`) and the C locale; the scan's own heap
    is set too."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "a").write_bytes(b"x")
    seen = tmp_path / "env"
    fake_find(tmp_path, monkeypatch, f'env > "{seen}"; exec REAL "$@"')
    monkeypatch.setattr(scan, "keep_freed_memory", lambda: kept.append(True))
    kept: list[bool] = []
    listing = scan._Listing(str(tmp_path), scan.ScanResult("s", 0))
    assert scan.list_with_find(os.fsencode(root), listing, scan._Owners())
    listing.close()
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["LC_ALL"] == "C" and kept == [True]
    assert {k: env[k] for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")} == {
        k: v for k, v in heap.keeping_freed_memory({}).items()
    }


class Counted:
    def __init__(self):
        self.completed = 0

    def advance(self, n: int = 1) -> None:
        self.completed += n

    def update(self, completed: int) -> None:
        self.completed = completed


def test_without_find_the_walk_lists_it(tmp_path, monkeypatch):
    root = tmp_path / "share"
    build(root, [([b"a"], "file", 3, 10**18), ([b"b"], "file", 3, 5)])
    expected, _ = walked(tmp_path, root)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(root))
    assert rows(store) == expected


FIELD = st.binary(max_size=12).filter(lambda b: b"\0" not in b)


def _pieces(stream: bytes, reads: list[int]):
    """A pipe's read: the stream in pieces of the given sizes, over and over."""
    pieces = iter(reads * (len(stream) + 1))
    at = 0

    def read(_limit: int) -> bytes:
        nonlocal at
        piece = stream[at : at + next(pieces)]
        at += len(piece)
        return piece

    return read


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(FIELD, max_size=30),
    reads=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    cut=st.integers(0, 1),
    ahead=st.integers(0, 40),
)
def test_sha256sums_lines_come_whole_however_the_stream_is_cut(lines, reads, cut, ahead):
    """sha256sum's NUL-terminated lines read in pieces that cut them anywhere, some read already with the owners'
    names (`ahead`): every whole line comes out once, in order, and a line cut short by the end is left over."""
    stream = b"".join(line + b"\0" for line in lines) + b"x" * cut
    chunks = ssh.FieldChunks(_pieces(stream[ahead:], reads), 1)
    chunks.pending = stream[:ahead]
    assert [field for fields, n in chunks for field in fields[:n]] == lines
    assert chunks.pending == b"x" * cut


def _status(status: int) -> bytes:
    """The record the SSH script prints after find's listing (`ssh.SCRIPT`)."""
    return b"E %20d %22s %11d\0\0" % (status, b"0.0000000000", 0)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.tuples(FIELD.filter(lambda head: not head.startswith(b"E")), FIELD), max_size=30),
    reads=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    ahead=st.integers(0, 80),
    status=st.sampled_from([0, 1, 2, 255]),
)
def test_an_ssh_listing_ends_at_finds_status_without_reading_on(records, reads, ahead, status):
    """The server's listing, read in pieces that cut records anywhere, some read already with the owners' names
    (`ahead`), ends at find's status record: every record is parsed once, in order, the status is find's, and
    nothing is read after it (the script then waits for the owners' line: one more read would wait forever). Each
    chunk's offset is where it starts in the stream."""
    stream = b"".join(head + b"\0" + path + b"\0" for head, path in records) + _status(status)
    pieces = _pieces(stream[ahead:], reads)

    def read(limit: int) -> bytes:
        piece = pieces(limit)
        assert piece, "read on past the status record"
        return piece

    parsed: list[bytes] = []
    chunks = found.FoundChunks(read, until=b"E")
    chunks.pending = stream[:ahead]
    with mock.patch.object(found, "parse", lambda data, nuls: parsed.append(data) or SimpleNamespace(nuls=len(nuls))):
        got = list(chunks)
    assert sum(chunk.nuls for chunk in got) == 2 * len(records) + 2
    assert b"".join(parsed) == stream
    assert [chunk.offset for chunk in got] == [sum(map(len, parsed[:i])) for i in range(len(parsed))]
    assert chunks.status == status and chunks.pending == b""


def test_the_writers_thread_commits_every_commit_rows_rows_however_the_batches_come(tmp_path, monkeypatch):
    """The thread's transaction spans COMMIT_ROWS rows, not a number of batches (an SSH listing's batches are what
    has arrived, often small): a reader sees the rows at each commit, and all of them once the writer is closed."""
    import sqlite3

    from oslomig.shares.scan import Writer

    monkeypatch.setattr(Writer, "COMMIT_ROWS", 5)
    store = ScanStore(tmp_path / "scan.sqlite")
    scan_id = store.begin_scan("s", "ssh://x/y")
    writer = Writer(store, scan_id)
    writer.batches = 1  # the thread starts at the first batch
    reader = sqlite3.connect(tmp_path / "scan.sqlite")
    seen, n = [], 0
    for size in (2, 2, 2, 3, 1, 4):
        writer.add([(b"f%03d" % (n + k), "file", 1, 0.0, "ann") for k in range(size)])
        n += size
        while writer.pending:
            writer.pending.pop(0).result()
        seen.append(reader.execute("SELECT count(*) FROM files").fetchone()[0])
    assert seen == [0, 0, 6, 6, 6, 14]
    writer.close()
    assert reader.execute("SELECT count(*) FROM files").fetchone()[0] == 14
    reader.close()
    store.close()


@pytest.mark.parametrize("piece", [37, 1 << 20])  # about a record a chunk; one chunk of records of both owners
def test_an_ssh_listing_is_written_from_its_chunks_and_unnamed_owners_wait(tmp_path, piece):
    """The server's records of every type, read by `ssh._read_listing` as the local listing is (files and symlinks
    kept, in order; a time before 1970 as GNU find prints it: the second below, then the fraction above it), written
    through the writer; the rows of an owner the first names missed are held until the server names it."""
    from oslomig.shares.scan import ScanResult, SizeTally, Writer

    stream = (
        _record(b"d", 0, 1, 0, 1000, b"dir")
        + _record(b"f", 3, 1_700_000_000, 500_000_000, 1000, b"dir/a b")
        + _record(b"p", 0, 2, 0, 1001, b"fifo")
        + _record(b"l", 7, -2, 750_000_000, 1001, b"link")  # -1.25 s: find prints -2.7500000000
        + _record(b"f", 3, 5, 0, 1001, b"same size")
        + _status(2)
    )
    # getent's lines; the last, cut short by `head -c`, is left out
    names = ssh._passwd_names(b"ann:x:1000:1000::/home/ann:/bin/sh\nb\xc3\xb8\xff:x:1001:1001::/:/bin/sh\ncut:x:10")
    assert names == {1000: "ann", 1001: "b\u00f8\ufffd"}
    del names[1001]  # as if a directory's user, missing from the local names
    session = mock.Mock(read=_pieces(stream, [piece]))
    store = ScanStore(tmp_path / "scan.sqlite")
    result, tally = ScanResult("s", store.begin_scan("s", "ssh://x/y")), SizeTally(str(tmp_path))
    owners = ssh._Owners(names, str(tmp_path))
    writer, held = Writer(store, result.scan_id), ssh._HeldPaths()
    assert ssh._read_listing(session, b"", writer, tally, owners, held, result, None) == 2
    writer.close()
    query = "SELECT path, kind, size, mtime, owner FROM files ORDER BY path"
    assert store.db.execute(query).fetchall() == [(b"dir/a b", "file", 3, 1700000000.5, "ann")]
    assert owners.question() == b"1001\n"
    assert [row for rows in owners.held({1001: "bo"}) for row in rows] == [
        (b"link", "symlink", 7, -1.25, "bo"),
        (b"same size", "file", 3, 5.0, "bo"),
    ]
    assert list(owners.held({}))[0][0][4] == "1001"  # no name on the server either: the number, as a local scan
    assert (result.files, result.bytes) == (3, 6) and tally.colliding() == ({3}, 2)
    # the files' paths held, both owners', so those of colliding sizes go to the server before SQLite has them all
    assert b"".join(held.pieces_of_sizes({3})) == b"dir/a b\0same size\0"
    owners.close()
    tally.close()
    store.close()


def _record(kind: bytes, size: int, seconds: int, nanos: int, uid: int, path: bytes) -> bytes:
    return b"%s %20d %22s %11d\0%s\0" % (kind, size, b"%d.%09d0" % (seconds, nanos), uid, path)


def _read_one_by_one(data: bytes) -> list[tuple]:
    """find's records as the spec reads them, field by field: what `found.parse` must give, however it reads."""
    fields = data.split(b"\0")[:-1]
    rows = []
    for head, path in zip(fields[0::2], fields[1::2], strict=True):
        kind, size, mtime, uid = head.split()  # ValueError: not four fields
        if len(kind) != 1 or mtime[-11:-10] != b"." or mtime[-1:] != b"0":
            raise ValueError("not the format asked for")
        if not (0 <= int(size) < 2**63 and 0 <= int(uid) < 2**63):
            raise ValueError("out of range")
        row = (path, int(size), (int(mtime[:-11]) + int(mtime[-10:-1]) * 1e-9).hex(), f"u{int(uid)}")  # every record
        if kind in (b"f", b"l"):
            rows.append((row[0], {b"f": "file", b"l": "symlink"}[kind], *row[1:]))
    return rows


def _parsed(data: bytes):
    import numpy as np

    try:
        chunk = found.parse(data, np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0))
    except ValueError:
        return ValueError, None
    return [(*row[:3], row[3].hex(), row[4]) for row in chunk.rows(lambda uid: f"u{uid}")], chunk


def _expected(data: bytes):
    try:
        return _read_one_by_one(data)
    except ValueError:
        return ValueError


RECORDS = st.lists(
    st.tuples(
        st.sampled_from([b"f", b"f", b"l", b"d", b"p"]),
        st.one_of(st.integers(0, 5000), st.integers(0, 2**63 - 1)),
        st.one_of(st.integers(0, 99_999_999_999), st.integers(-(10**12), 10**15)),  # 11 digits fit; others not
        st.integers(0, 999_999_999),
        st.sampled_from([0, 1000, 1001, 4294967294]),
        st.binary(min_size=1, max_size=8).filter(lambda b: b"\0" not in b),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda record: record[5],  # find lists a path once
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.sets(st.integers(0, 29)),
    records=RECORDS,
    spoil=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(b"0123456789.-+ x_\xff")), max_size=2),
)
@example(records=[(b"f", 3, 1_700_000_000, 123_456_789, 1000, b"a b")] * 3, spoil=[], picks=set())
@example(records=[(b"f", 1, 1, 0, 0, b"x"), (b"l", 7, -1, 500_000_000, 0, b"y")], spoil=[], picks={1})
@example(records=[(b"f", 1, 1, 0, 0, b"x")], spoil=[(23, ord("-"))], picks={0})  # a sign where a space was: one by one
@example(records=[(b"f", 1, 1, 0, 0, b"x")], spoil=[(44, ord("5"))], picks=set())  # no final 0: not the format
@example(records=[(b"f", 7, 1, 0, 0, b"x")], spoil=[(21, ord(" "))], picks=set())  # a size of spaces alone: no number
@example(records=[(b"f", 10**18, 1, 0, 0, b"x")], spoil=[], picks={0})  # 19 digits: more than the fixed header reads
@example(
    records=[(b"f", 1, 1, 0, 10**11 + 7, b"x")], spoil=[], picks={0}
)  # a 12-digit owner: a wider header, one by one
@example(  # the widest numbers of a fixed header: 18-digit sizes, 11-digit times and owners, to the last digit
    records=[
        (b"f", 10**18 - 1, 10**11 - 1, 999_999_999, 10**11 - 1, b"x"),
        (b"f", 10**15, 10**11 - 2, 1, 10**11 - 2, b"y"),
        (b"f", 10**15 - 1, 0, 0, 0, b"z"),
        (b"l", 123_456_789_012_345_678, 12_345_678_901, 123_456_789, 4294967294, b"w"),
    ],
    spoil=[],
    picks={1},
)
@pytest.mark.parametrize("digits_at_once", [3, 2048])  # the headers' digits multiplied a few rows at a time, or all
def test_find_records_read_a_column_at_a_time_as_one_by_one(
    tmp_path_factory, monkeypatch, digits_at_once, records, spoil, picks
):
    """find's records, mostly of the fixed shape (read by numpy a column at a time, and by SQLite from the chunk),
    sometimes wider, signed or spoiled (read one by one): the same rows, times to the last bit, or ValueError.
    A fixed chunk's rows stored by SQLite from the chunk are the rows stored as tuples."""
    monkeypatch.setattr(found, "DIGITS_AT_ONCE", digits_at_once)
    data = bytearray(b"".join(_record(*record) for record in records))
    heads = [i for i, byte in enumerate(data) if i == 0 or data[i - 1 : i] == b"\0"][0::2]
    for at, byte in spoil:  # a byte of a header spoiled
        head = heads[at % len(heads)]
        data[head + at % found.HEAD] = byte
    got, chunk = _parsed(bytes(data))
    assert got == _expected(bytes(data))
    if not spoil and all(size < 10**18 and 0 <= s < 10**11 and uid < 10**11 for _, size, s, _, uid, _ in records):
        assert chunk is not None and chunk.fixed  # every header of the fixed shape: read a column at a time
    if chunk is None or not len(chunk):
        return
    chosen = [k in picks for k in range(len(chunk))]  # the rows written at once, say: the others wait as tuples
    named = chunk.rows(lambda uid: f"u{uid}")
    assert chunk.rows(lambda uid: f"u{uid}", chosen) == [row for row, c in zip(named, chosen, strict=True) if c]
    if not chunk.fixed:
        return
    tmp = tmp_path_factory.mktemp("db")
    tuples, sql = ScanStore(tmp / "tuples.sqlite"), ScanStore(tmp / "sql.sqlite")
    owners = {uid: f"u{uid}" for uid in chunk.uids.tolist()}.__getitem__
    tuples.add_files(1, chunk.rows(owners), column=None)
    batch = chunk.batch(owners, [True] * len(chunk))
    sql.add_found(1, batch.data, batch.groups, batch.kind)
    query = "SELECT hex(path), typeof(path), kind, size, typeof(size), quote(mtime), owner FROM files ORDER BY path"
    assert sql.db.execute(query).fetchall() == tuples.db.execute(query).fetchall()


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.tuples(FIELD, FIELD), max_size=30),
    reads=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    cut=st.integers(0, 1),
)
def test_a_local_listing_comes_in_whole_records_however_the_pipe_is_cut(records, reads, cut):
    """find's pipe read in pieces that cut records anywhere: every whole record is parsed once, in order, and a
    record cut short by the end is left over. Each chunk's offset is where it starts in the listing (the scan reads
    early files' paths back from there: `scan._Places`)."""
    stream = b"".join(head + b"\0" + path + b"\0" for head, path in records) + b"x\0" * cut
    read = _pieces(stream, reads)
    parsed: list[bytes] = []
    chunks = found.FoundChunks(read)
    with mock.patch.object(found, "parse", lambda data, nuls: parsed.append(data) or SimpleNamespace(nuls=len(nuls))):
        got = list(chunks)
    assert sum(chunk.nuls for chunk in got) == 2 * len(records)
    assert b"".join(parsed) == stream[: len(stream) - 2 * cut]
    assert [chunk.offset for chunk in got] == [sum(map(len, parsed[:i])) for i in range(len(parsed))]
    assert chunks.pending == b"x\0" * cut


ROWS = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=6),
        st.sampled_from(["file", "symlink"]),
        st.integers(0, 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([None, "ann", "bob", b"1001", 1, 1.0, True]),  # numbers: 1 == 1.0 == True, yet stored apart
        st.sampled_from([None, 0, 1, 32, "ab12", b"x"]),
    ),
    max_size=25,
    unique_by=lambda row: row[0],
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, uniform=st.sets(st.sampled_from([1, 4, 5])), column=st.sampled_from(["attributes", "prefix_hash"]))
@example(rows=[(b"%d" % k, "file", 1, 1.0, 1.0 if k else 1, None) for k in range(4)], uniform={1}, column="prefix_hash")
def test_rows_go_in_as_given_whether_a_column_is_bound_once_or_row_by_row(tmp_path_factory, monkeypatch, rows, uniform,
                                                                           column):  # fmt: skip
    """add_files binds a text column that is the same in every row once per statement: the table holds the rows as
    given, each value of its own type, as plain one-row inserts would."""
    from oslomig.shares import store as store_module

    monkeypatch.setattr(store_module, "ROWS_PER_STATEMENT", 4)
    first = rows[0] if rows else ()
    rows = [tuple(first[k] if k in uniform else value for k, value in enumerate(row)) for row in rows]
    if column == "prefix_hash":
        rows = [(*row[:5], None if row[5] is None else str(row[5])) for row in rows]
    where = tmp_path_factory.mktemp("rows")
    store = ScanStore(where / "s.sqlite")
    scan_id = store.begin_scan("s", "/s")
    store.add_files(scan_id, rows, column)
    got = store.db.execute(
        f"SELECT path, kind, size, mtime, owner, {column}, typeof(path), typeof(owner), typeof({column}) FROM files "
        "ORDER BY path"
    ).fetchall()
    plain = ScanStore(where / "plain.sqlite")
    plain_id = plain.begin_scan("s", "/s")
    plain.db.executemany(
        f"INSERT INTO files (scan_id, path, kind, size, mtime, owner, {column}) VALUES ({plain_id}, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    expected = plain.db.execute(
        f"SELECT path, kind, size, mtime, owner, {column}, typeof(path), typeof(owner), typeof({column}) FROM files "
        "ORDER BY path"
    ).fetchall()
    assert got == expected
    assert len(got) == len(rows)


def test_find_listing_is_read_behind_find_and_whole_after_it_ends(tmp_path):
    """find writes its listing to a file that is read while find still writes it: every byte comes once, in order,
    what find wrote just before it ended included, and the end only once find has ended and all is read."""
    out = tmp_path / "listing"
    out.write_bytes(b"")
    pieces = [b"ab", b"", b"cde", b"", b"", b"f"]  # what find has added by each look at it; the last, as it ends

    class Find:
        looks = 0

        def poll(self):
            with open(out, "ab") as handle:
                handle.write(pieces[self.looks] if self.looks < len(pieces) else b"")
            self.looks += 1
            return 0 if self.looks >= len(pieces) else None

    with open(out, "rb") as handle:
        behind = scan._Behind(handle.fileno(), Find())
        got = []
        while chunk := behind.read(8):
            got.append(chunk)
        assert b"".join(got) == b"abcdef"
        assert behind.read(8) == b""


def test_find_listing_is_read_in_pieces_of_a_quarter_asked_at_least_while_find_runs(tmp_path):
    """Behind a find that writes a byte at a time, no read hands back a few bytes while find still runs (each piece
    is parsed and written as a chunk of its own): at least a quarter of what was asked for, all of it in order, and
    what is left once find has ended."""
    out = tmp_path / "listing"
    out.write_bytes(b"")
    data = b"abcdefghijklmnopqrstuvwxyz" * 2

    class Find:
        looks = 0

        def poll(self):
            if self.looks < len(data):
                with open(out, "ab") as handle:
                    handle.write(data[self.looks : self.looks + 1])
            self.looks += 1
            return 0 if self.looks > len(data) else None

    with open(out, "rb") as handle:
        behind = scan._Behind(handle.fileno(), Find())
        got = []
        while chunk := behind.read(16):
            got.append(chunk)
    assert b"".join(got) == data
    assert len(got) > 2 and all(len(piece) >= 4 for piece in got[:-1])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
def test_distinct_is_what_numpys_unique_gives(values):
    import numpy as np

    array = np.array(values, dtype=np.int64)
    got = found.distinct(array)
    assert got.dtype == np.int64 and got.tolist() == np.unique(array).tolist()


def test_a_scan_never_imports_numpys_masked_arrays(tmp_path):
    """`np.unique` without its optional outputs imports `numpy.ma` (22 ms of a scan's CPU): the scans use
    `found.distinct` instead, and a local scan with several owners and colliding sizes ends without it."""
    import subprocess
    import sys

    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    for k in range(200):  # sizes not seen before: written at once, from find's chunk, an owner at a time
        (tree / "a" / f"f{k}").write_bytes(b"x" * (k + 1))
        if k % 2 and os.geteuid() == 0:
            os.chown(tree / "a" / f"f{k}", 4242, 4242)
    (tree / "a" / "same").write_bytes(b"x" * 7)  # a size another file has
    os.symlink("a/f1", tree / "link")
    code = (
        "import sys\nfrom oslomig import cli\n"
        f"try: cli.main(['share', 'scan', {str(tree)!r}, '--db', {str(tmp_path / 's.sqlite')!r}])\n"
        "except SystemExit: pass\n"
        "assert 'numpy' in sys.modules and 'numpy.ma' not in sys.modules, 'numpy.ma imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("find") is None or os.geteuid() != 0, reason="needs find, and root to give owners")
@pytest.mark.parametrize("owner", [0, 4321, 4294967294])
def test_find_prints_the_roots_owner_as_text_in_the_fixed_header(tmp_path, owner):
    """Entries of the root's owner get that owner as text, the others `%11U`: every header keeps the fixed shape
    (read a column at a time) and every owner is the entry's own."""
    import subprocess

    import numpy as np

    root = tmp_path / "share"
    build(root, [([b"a"], "file", 1, 0, owner), ([b"b"], "link", 1, 0, owner), ([b"c"], "file", 2, 0, 54321)], owner)
    expression = found.find_expression(os.stat(root).st_uid)
    assert expression[:3] == ("(", "-uid", str(owner))
    data = subprocess.run(
        ["find", ".", "-mindepth", "1", *expression], cwd=root, capture_output=True, check=True
    ).stdout
    chunk = found.parse(data, np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0))
    assert chunk.fixed
    got = {row[0]: row[4] for row in chunk.rows(str)}
    assert got == {name: str(os.lstat(root / os.fsdecode(name)).st_uid) for name in (b"a", b"b", b"c")}
    assert sorted(got.values()) == sorted([str(owner), str(owner), "54321"])


def test_an_owner_id_too_wide_for_the_header_is_left_to_find():
    assert found.find_expression(None) == found.find_expression(10**11) == ("-printf", found.PRINTF)
    assert found.find_expression(99_999_999_999)[-3:] == ("-printf", found.PRINTF, ")")  # 11 digits: fits
