"""find's listing of a local tree, read a megabyte at a time and parsed a column at a time.

find prints each entry as a header of fixed width, then its path: `PRINTF`. The header's fields are right-aligned
numbers in fixed columns, so numpy reads a chunk's types, sizes, times and owners a column of digits at a time, and
SQLite takes the rows written at once straight from the chunk's bytes (`ScanStore.add_found`): a path is a slice of
the chunk, a size or a time is cast from its columns. No Python object is made per row on that path (1,000,000
listing-tree rows: ~2.3 s of the writer's CPU, against ~6-7 s in the two processes as tuples; see docs/performance.md).

A chunk whose headers are not all of that width and shape (a time before 1970 or after 2286, an owner id of more
than 11 digits) is read record by record, with the same rules, and its rows go in as tuples. A field that is not
what `PRINTF` asked for raises ValueError: the caller then walks the tree itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from operator import itemgetter

PRINTF = "%y %20s %22T@ %11U\\0%P\\0"  # type, size, time (sec.nnnnnnnnn0), owner id; then the path
HEAD = 57  # the header's width: the path starts after it and its NUL
SIZE = slice(2, 22)
SECONDS = slice(23, 34)  # the point at 34, nine digits of nanoseconds, a final 0 at 44
NANOS = slice(35, 44)
OWNER = slice(46, 57)
SEPARATORS = (1, 22, 45)
WHITESPACE = list(b" \t\n\r\x0b\x0c")  # what bytes.split() splits at
KINDS = {ord("f"): "file", ord("l"): "symlink"}  # directories are descended; fifos and devices are not documents
SPAN_BITS = 24  # a span is the header's offset << SPAN_BITS | the path's length
DIGITS_AT_ONCE = 2048  # headers whose digits are multiplied as doubles at a time (~1 MB of them)


def find_expression(owner: int | None) -> tuple[str, ...]:
    """find's expression for the listing (after `-mindepth 1`): each entry printed as `PRINTF` says. `owner`: the
    owner id most entries are expected to have (the tree root's: a tree copied or created by one account, a Windows
    share mounted with one uid for every file). Its entries get that id as text in their format, the same 11
    columns `%11U` would print, behind a `-uid` test, so find formats one number less for each of them (~0.06 s of
    find's 1.9 s of CPU at a million files); the others are printed with `%11U` as before."""
    if owner is None or not 0 <= owner < 10 ** (OWNER.stop - OWNER.start):
        return ("-printf", PRINTF)
    owned = PRINTF.replace("%11U", f"{owner:11d}")
    return ("(", "-uid", str(owner), "-printf", owned, "-o", "-printf", PRINTF, ")")


class Found:
    """The files and symlinks of one chunk of find's listing: the chunk, and a column per field (numpy arrays in the
    chunk's order). `fixed`: every header had the fixed width and shape, so SQLite can read the rows from the chunk
    itself (`batch`)."""

    def __init__(self, data: bytes, heads, ends, kinds, sizes, mtimes, uids, fixed: bool, index=None):
        """`index`: each row's record in the chunk, where some records (directories) are not rows."""
        self.data, self.heads, self.ends, self.fixed, self.index = data, heads, ends, fixed, index
        self.offset = 0  # where the chunk starts in what was read (`FoundChunks`)
        self.kinds, self.sizes, self.mtimes, self.uids = kinds, sizes, mtimes, uids

    def __len__(self) -> int:
        return len(self.heads)

    def rows(self, owners: Callable[[int], str], chosen=None) -> list[tuple]:
        """(path, kind, size, mtime, owner) of the chosen rows (a boolean mask; all when None), in order."""
        import numpy as np

        pick = slice(None) if chosen is None else np.flatnonzero(chosen)
        if not len(picked := self.heads[pick]):
            return []
        if len(picked) * 8 < len(self.heads):  # a few rows: each path cut out by itself
            paths = list(
                map(self.data.__getitem__, map(slice, (picked + (HEAD + 1)).tolist(), self.ends[pick].tolist()))
            )
        else:
            paths = self.data.split(b"\0")[1::2]  # every record's path, cut in C
            if len(picked) < len(paths):  # directories left out, or rows not chosen: the paths of those chosen
                at = (np.arange(len(self.heads)) if self.index is None else self.index)[pick].tolist()
                paths = list(itemgetter(*at)(paths)) if len(at) > 1 else [paths[at[0]]]
        kinds = self.kinds[pick]
        named = ["file"] * len(kinds) if (kinds == ord("f")).all() else list(map(KINDS.__getitem__, kinds.tolist()))
        return list(
            zip(paths, named, self.sizes[pick].tolist(), self.mtimes[pick].tolist(), _named(self.uids[pick], owners))
        )

    def batch(self, owners: Callable[[int], str], chosen=None) -> FoundBatch | list[tuple]:
        """The chosen rows (all when None) as SQLite reads them from the chunk (a fixed chunk), or as tuples."""
        import numpy as np

        if not self.fixed:
            return self.rows(owners, chosen)
        picked = slice(None) if chosen is None else np.flatnonzero(chosen)
        heads, uids = self.heads[picked], self.uids[picked]
        kind = "file" if (self.kinds[picked] == ord("f")).all() else None
        spans = (heads << SPAN_BITS) | (self.ends[picked] - heads - (HEAD + 1))
        ids = distinct(uids).tolist()  # the rows of each owner go in by one statement: the usual chunk has one
        if len(ids) == 1:
            return FoundBatch(self.data, [(owners(ids[0]), _array(spans))], kind)
        return FoundBatch(self.data, [(owners(uid), _array(spans[uids == uid])) for uid in ids], kind)


class FoundBatch:
    """Rows SQLite reads from a chunk of find's listing: `groups` of (owner, JSON array of spans); `kind`: "file"
    when every row is a file (SQLite then takes it as it is, not from each row's header), else None."""

    def __init__(self, data: bytes, groups: list[tuple[str, str]], kind: str | None = None):
        self.data, self.groups, self.kind = data, groups, kind

    def __len__(self) -> int:
        return sum(text.count(",") + 1 for _owner, text in self.groups)


def distinct(values):
    """The distinct values of a numpy array, sorted: what `np.unique` gives, without its check for a masked array,
    which imports `numpy.ma` (22 ms, once a process: 1% of an SSH scan of 100,000 files)."""
    import numpy as np

    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _array(spans) -> str:
    """The spans as a JSON array: a list's repr is one (ints, ", " between them), made in C without a call per item
    (11,000 spans 0.96 ms, against 1.45 ms for `",".join(map(str, ...))`)."""
    return repr(spans.tolist())


def _named(uids, owners: Callable[[int], str]) -> list[str]:
    """The owner's name of each row, looked up once per owner."""

    if not len(uids):
        return []
    first = int(uids[0])
    if (uids == first).all():
        return [owners(first)] * len(uids)
    names = {uid: owners(uid) for uid in distinct(uids).tolist()}
    return list(map(names.__getitem__, uids.tolist()))


class FoundChunks:
    """find's records (`PRINTF`) read a megabyte at a time and cut at whole records; `pending` holds what is left of
    a record cut short by the end. What is pending at the start (read by the caller past a preamble) comes first.

    `until`: the type of a record that ends the listing, with a number in the size's columns and no path (the
    status a remote script prints after find's listing, before it waits for input): the chunk that ends with it is
    the last one read, the number is `status`, and the record is no row.

    Each chunk's `offset` is where it starts in what was read, counted from what was pending at the start."""

    CHUNK = 1 << 20

    def __init__(self, read: Callable[[int], bytes], until: bytes | None = None):
        self.read, self.pending = read, b""
        self.until = None if until is None else until[0]
        self.status: int | None = None

    def __iter__(self) -> Iterator[Found]:
        import numpy as np

        chunk, self.pending = self.pending, b""
        at = 0
        while chunk or (chunk := self.read(self.CHUNK)):
            data, chunk = self.pending + chunk, b""
            nuls = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
            whole = len(nuls) // 2 * 2
            if not whole:
                self.pending = data
                continue
            end = int(nuls[whole - 1]) + 1
            self.pending = data[end:]
            last = int(nuls[whole - 3]) + 1 if whole > 2 else 0  # the last record's header
            found = parse(data[:end], nuls[:whole])
            found.offset, at = at, at + end
            if self.until is not None and data[last] == self.until and end - last == HEAD + 2:
                self.status = int(data[last + SIZE.start : last + SIZE.stop])
                yield found
                return
            yield found


def parse(data: bytes, nuls) -> Found:
    """A chunk of whole records; `nuls`: the offsets of its NULs (two a record)."""
    import numpy as np

    head_ends, ends = nuls[0::2].astype(np.int64), nuls[1::2].astype(np.int64)
    heads = np.empty_like(ends)
    heads[0], heads[1:] = 0, ends[:-1] + 1
    if (head_ends - heads == HEAD).all() and ends[-1] < 1 << (63 - SPAN_BITS):
        found = _fixed(data, heads, ends)
        if found is not None:
            return found
    return _one_by_one(data, heads, head_ends, ends)


def _fixed(data: bytes, heads, ends) -> Found | None:
    """The chunk read a column of digits at a time, or None when a header is not of the fixed shape: a type, then
    each number right-aligned in its columns (spaces, then digits) after one space, a point and a final 0 where the
    time has them, and paths shorter than 2^SPAN_BITS. What it reads is what `_one_by_one` reads of the same chunk
    (a property test holds the two together)."""
    import numpy as np

    at = np.frombuffer(data, dtype=np.uint8)
    grid = np.lib.stride_tricks.as_strided(at, (len(at) - HEAD + 1, HEAD), (1, 1), writeable=False)[heads]
    digits = grid - np.uint8(48)  # not a digit: 10 or more (uint8 wraps below '0')
    is_digit, is_space = digits < 10, grid == ord(" ")
    values = digits * is_digit  # a space counts 0
    spaces, digit_columns, numbers, inside = _shape(np)
    if not (
        (is_space | ~spaces).all()  # the separators, and the size's first two columns (at most 18 digits)
        and (is_digit | ~digit_columns).all()  # the nanoseconds, and each number's last column
        and (is_digit | is_space | ~numbers).all()  # a number's columns: spaces or digits
        and not (is_digit[:, :-1] & is_space[:, 1:] & inside).any()  # and no space after a digit
        and not _whitespace(np)[grid[:, 0]].any()  # a type: read one by one, it would split into fewer fields
        and (grid[:, NANOS.start - 1] == ord(".")).all()
        and (grid[:, NANOS.stop] == ord("0")).all()
        and (ends - heads - (HEAD + 1) < 1 << SPAN_BITS).all()
    ):
        return None
    sizes, seconds, nanos, uids = _decimals(values, np)
    mtimes = seconds.astype(np.float64) + nanos.astype(np.float64) * 1e-9  # as os.stat makes them (find_times)
    kinds = grid[:, 0]
    keep = (kinds == ord("f")) | (kinds == ord("l"))
    if keep.all():
        return Found(data, heads, ends, kinds, sizes, mtimes, uids, True)
    return Found(
        data, heads[keep], ends[keep], kinds[keep], sizes[keep], mtimes[keep], uids[keep], True, np.flatnonzero(keep)
    )


@functools.cache
def _shape(np):
    """The header's columns as masks, for checks over whole rows at once (a number's columns checked apart took 62
    ns a row, all of these 32): those that must be spaces, those that must be digits, a number's, and those inside
    a number (where a space must not follow a digit)."""
    spaces, digit_columns, numbers = (np.zeros(HEAD, dtype=bool) for _ in range(3))
    inside = np.zeros(HEAD - 1, dtype=bool)
    spaces[list(SEPARATORS)] = spaces[SIZE.start : SIZE.start + 2] = True
    digit_columns[NANOS] = True
    for columns in (SIZE, SECONDS, OWNER):
        numbers[columns] = digit_columns[columns.stop - 1] = inside[columns.start : columns.stop - 1] = True
    return spaces, digit_columns, numbers, inside


@functools.cache
def _whitespace(np):
    """Which bytes are WHITESPACE, looked up by the byte (np.isin took 24 ms a hundred thousand SSH records in
    chunks of 32 KiB, a lookup 2 ms)."""
    table = np.zeros(256, dtype=bool)
    table[WHITESPACE] = True
    return table


@functools.cache
def _weights(np):
    """The powers of ten each header column's digit is worth, a column of weights per number: the size's top 3
    digits, its other 15, the seconds, the nanoseconds, the owner."""
    weights = np.zeros((HEAD, 5))
    for column, (start, stop) in enumerate(
        [
            (SIZE.start + 2, SIZE.stop - 15),
            (SIZE.stop - 15, SIZE.stop),
            (SECONDS.start, SECONDS.stop),
            (NANOS.start, NANOS.stop),
            (OWNER.start, OWNER.stop),
        ]
    ):
        weights[start:stop, column] = 10.0 ** np.arange(stop - start - 1, -1, -1)
    return weights


def _decimals(values, np):
    """(sizes, seconds, nanoseconds, owners) as int64 from the headers' digits (0-9 a byte, a row each; spaces 0):
    one matrix product of the digits by the powers of ten in doubles, exact as each product and sum is an integer
    below 2^53 (a size's 18 digits are two numbers, of 3 and 15). A column at a time, ten times the number so far
    plus the next digit, took two calls of numpy a digit: 31 ms against 8 ms for an SSH listing's 326 chunks of 32
    KiB, the same for chunks of a megabyte. (In int64, without BLAS, the product took three times as long.)"""
    numbers = np.empty((len(values), 5), dtype=np.int64)
    for k in range(0, len(values), DIGITS_AT_ONCE):  # the doubles of a megabyte chunk at once were 5 MB more memory
        numbers[k : k + DIGITS_AT_ONCE] = values[k : k + DIGITS_AT_ONCE].astype(np.float64) @ _weights(np)
    return numbers[:, 0] * 10**15 + numbers[:, 1], numbers[:, 2], numbers[:, 3], numbers[:, 4]


def _one_by_one(data: bytes, heads, head_ends, ends) -> Found:
    """A chunk whose headers are not all of the fixed shape, read record by record: the fields split at spaces, the
    time as `find_times` reads one."""
    import numpy as np

    picked: list[int] = []
    kinds: list[int] = []
    sizes: list[int] = []
    mtimes: list[float] = []
    uids: list[int] = []
    for i, (start, stop) in enumerate(zip(heads.tolist(), head_ends.tolist(), strict=True)):
        fields = data[start:stop].split()
        if len(fields) != 4 or len(fields[0]) != 1:
            raise ValueError("find printed a record in an unknown format")
        kind, size, mtime, uid = fields
        if mtime[-11:-10] != b"." or mtime[-1:] != b"0":
            raise ValueError("find printed a time in an unknown format")
        size_n, seconds, nanos, uid_n = int(size), int(mtime[:-11]), int(mtime[-10:-1]), int(uid)
        if not (0 <= size_n < 1 << 63 and 0 <= uid_n < 1 << 63):
            raise ValueError("find printed a size or an owner out of range")
        if kind[0] in KINDS:
            picked.append(i)
            kinds.append(kind[0])
            sizes.append(size_n)
            mtimes.append(seconds + nanos * 1e-9)
            uids.append(uid_n)
    # the header's offset such that the path starts HEAD + 1 after it, as in a fixed chunk
    paths = head_ends[picked] + 1 - (HEAD + 1)
    return Found(
        data,
        paths,
        ends[picked],
        np.array(kinds, dtype=np.uint8),
        np.array(sizes, dtype=np.int64),
        np.array(mtimes, dtype=np.float64),
        np.array(uids, dtype=np.int64),
        False,
        np.array(picked, dtype=np.int64),
    )
