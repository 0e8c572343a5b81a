"""Scan a share over SSH: one session lists it with `find -printf` on the server and then hashes there.

The listing is the local scan's (`found.PRINTF`: a fixed-width header, then the path, each after a NUL), read a
column at a time and written by the local scan's `Writer` from the chunks themselves; any byte in a name survives,
and nothing is downloaded. GNU find and coreutils are needed on the server (any Linux file server has them). The
session is the OpenSSH client where it can make the same checks (`sshconn.openssh_command`), else paramiko: the
client does the cryptography in C on the other core, and starts at once, where paramiko's import, handshake and
decryption ran in this process (~40% of a scan).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from oslomig.collector import collector_on, without_cycle_collector
from oslomig.shares.found import HEAD, PRINTF, Found, FoundChunks, distinct
from oslomig.sshconn import SshTarget, connect, openssh_command, openssh_failure, parse_ssh_url

if TYPE_CHECKING:  # imported by the scan once the client has started: the session's handshake does not wait for them
    from oslomig.shares.scan import Batch, ScanResult, SizeTally, Writer
    from oslomig.shares.store import ScanStore

# One session. First the server's local user names (`getent -s files`, else /etc/passwd, a megabyte at most: never a
# directory's enumeration, which can take minutes), then the listing in the local scan's fixed-width format
# (`found.PRINTF`, read a column at a time) with numeric owners (find's %u looks each file's owner up again: 1.1 s per
# 100,000 files here, three times the listing), then a record of find's exit status in the same format (type "E":
# find's %y never prints it, and %P is never empty below the starting point). Then it reads a line of the owners
# those names missed (a directory's users), looks just those up, and hashes the NUL-separated paths the scanner sends
# once it knows which sizes collide: BLAKE2b-256 by coreutils' `b2sum` (twice as fast as its `sha256sum`, which uses
# no SHA instructions: a 200,000-file department tree over SSH 3.6 s instead of 4.6 s), SHA-256 where a coreutils
# older than 8.26 has no b2sum. Either is a 256-bit cryptographic hash; hashes are only compared within a scan.
SCRIPT = (
    "cd -- {path} && {{ {{ getent -s files passwd 2>/dev/null || cat /etc/passwd; }} | head -c {names_bytes}; "
    "printf '\\000'; "
    "LC_ALL=C find . -mindepth 1 -printf '{printf}'; printf 'E %20d %22s %11d\\000\\000' $? 0.0000000000 0; }} && "
    "{{ IFS= read -r owners; [ -n \"$owners\" ] && getent passwd $owners; printf '\\000'; "
    "h='b2sum -l 256'; command -v b2sum >/dev/null 2>&1 || h=sha256sum; LC_ALL=C xargs -0 -r $h -z --; }}"
)
NAMES_BYTES = 1 << 20
# hashes written to their rows at a time as they come (a statement for every few that arrive: 5,000 statements for the
# department tree's 194,233 hashes took 0.11 s more CPU than 39)
HASHES_AT_ONCE = 500
FIND_ERROR = re.compile(rb"^find: [`']\./(.*)': (.*)$")
HASH_ERROR = re.compile(rb"^(?:b2sum|sha256sum): (.*): (.*)$")


class FieldChunks:
    """NUL-terminated fields (b2sum's lines) read a megabyte at a time and cut at whole records. `pending`
    holds what is left of a record cut short by the end."""

    CHUNK = 1 << 20

    def __init__(self, read: Callable[[int], bytes], per_record: int):
        self.read, self.per_record, self.pending = read, per_record, b""

    def __iter__(self) -> Iterator[tuple[list[bytes], int]]:
        """(fields, n): the chunk's fields; its whole records are the first n. What is pending already (read by the
        caller past the owners' names) comes first, before any read."""
        chunk, self.pending = self.pending, b""
        while chunk or (chunk := self.read(self.CHUNK)):
            fields = (self.pending + chunk).split(b"\0")
            n = (len(fields) - 1) // self.per_record * self.per_record
            self.pending = b"\0".join(fields[n:])
            chunk = b""
            yield fields, n


def _passwd_names(passwd: bytes) -> dict[int, str]:
    """Owner number -> user name, from `getent passwd` lines (a last line cut short by `head -c` is left out)."""
    names: dict[int, str] = {}
    for line in passwd.split(b"\n")[:-1]:
        parts = line.split(b":")
        if len(parts) >= 7 and parts[2].isdigit():
            names.setdefault(int(parts[2]), parts[0].decode("utf-8", "replace"))
    return names


def _through_nul(read: Callable[[int], bytes]) -> tuple[bytes, bytes] | None:
    """(what comes before the next NUL, what was read after it), or None when the stream ends first."""
    data = b""
    while (cut := data.find(b"\0")) < 0:
        if not (chunk := read(1 << 20)):
            return None
        data += chunk
    return data[:cut], data[cut + 1 :]


class _Owners:
    """Rows whose owner's number the first names missed, held in a `Spool` until the server has looked those
    numbers up."""

    def __init__(self, names: dict[int, str], directory: str):
        from oslomig.shares.scan import Spool

        self.names = names
        self.spool = Spool(directory)
        self.missing: set[int] = set()

    def write(self, found: Found, write: Callable[[Batch], None]) -> None:
        """The chunk's rows whose owner has a name written (as SQLite reads them from the chunk); the others held."""
        import numpy as np

        missing = [uid for uid in distinct(found.uids).tolist() if uid not in self.names]
        if not missing:
            write(found.batch(self.names.__getitem__))
            return
        self.missing.update(missing)
        unnamed = np.isin(found.uids, missing)
        if not unnamed.all():
            write(found.batch(self.names.__getitem__, ~unnamed))
        self.spool.append(found.rows(str, unnamed))

    def question(self) -> bytes:
        """The line the script reads: the numbers to look up (digits only, as parsed: the script expands them
        unquoted)."""
        return b" ".join(b"%d" % uid for uid in sorted(self.missing)) + b"\n"

    def held(self, names: dict[int, str]) -> Iterator[list[tuple]]:
        """The held rows, each owner's number replaced by its name (or the number, where the server has none)."""
        for rows in self.spool:
            yield [(*row[:4], names.get(int(row[4]), row[4])) for row in rows]

    def close(self) -> None:
        self.spool.close()


class _HeldPaths:
    """The listing's non-empty files (each chunk's bytes, and its files' sizes and path offsets) held up to
    HELD_BYTES of chunks, so that the paths whose sizes collide go to the server as soon as the listing has ended:
    not after the writer's last batches and SQLite's search of the rows for them (`ScanStore.batches_of_sizes`), ~40
    ms of a 100,000-file scan's tail. Past HELD_BYTES nothing is held, and SQLite finds them as before."""

    HELD_BYTES = 1 << 24  # ~170,000 files of the listing tree; at most ~20 MB more at the peak

    def __init__(self) -> None:
        self.chunks: list[tuple] | None = []
        self.held = 0

    def add(self, found: Found, sized) -> None:
        """`sized`: which of the chunk's rows are non-empty files (`count_found`'s mask)."""
        if self.chunks is None:
            return
        self.held += len(found.data)
        if self.held > self.HELD_BYTES:
            self.chunks = None
            return
        self.chunks.append((found.data, found.sizes[sized], found.heads[sized], found.ends[sized]))

    def pieces_of_sizes(self, sizes: set[int]) -> Iterator[bytes] | None:
        """The paths of the files of these sizes, each ended by its NUL (the script's input), a held chunk's at a
        time in the listing's order; None when they were not all held. Made as they are sent (by the sending thread),
        so the first go out at once."""
        if self.chunks is None:
            return None
        chunks, self.chunks = self.chunks, None
        return _held_pieces(chunks, sizes)


def _held_pieces(chunks: list[tuple], sizes: set[int]) -> Iterator[bytes]:
    """`_HeldPaths.pieces_of_sizes`: each path cut from its chunk with the NUL after it."""
    if not sizes:
        return
    import numpy as np

    wanted = np.array(sorted(sizes), dtype=np.int64)
    for data, chunk_sizes, heads, ends in chunks:
        pick = np.isin(chunk_sizes, wanted)
        if pick.any():
            yield b"".join(
                map(data.__getitem__, map(slice, (heads[pick] + (HEAD + 1)).tolist(), (ends[pick] + 1).tolist()))
            )


class _Session:
    """The remote script's standard streams, whichever client carries them. `read(n)` returns what has arrived
    (b"" at the end); `send(data)` writes the script's input and closes it, from a thread, so the script's output
    never waits on a full input pipe; `finish()` gives the exit status and everything written to stderr (drained
    as it comes, so it never stalls the script either)."""

    read: Callable[[int], bytes]
    unsent: BaseException | None = None  # why the input could not be made (`send`'s pieces raised it)

    def write(self, data: bytes) -> None:
        """A little of the script's input (a line it reads before its output goes on)."""
        raise NotImplementedError

    def send(self, pieces: Iterable[bytes]) -> None:
        threading.Thread(target=self._send, args=(pieces,), daemon=True).start()

    def _send(self, pieces: Iterable[bytes]) -> None:
        """The input is closed whatever happens, so the script never waits for more; a failure to make a piece is
        kept for the scan to raise (`unsent`), where the script hashed only what came before it."""
        try:
            for data in pieces:
                with contextlib.suppress(ValueError):  # closed under it: the scan failed, and says why
                    self.write(data)
        except BaseException as exc:
            self.unsent = exc
        finally:
            with contextlib.suppress(ValueError):
                self.end_input()

    def end_input(self) -> None:
        raise NotImplementedError

    def finish(self) -> tuple[int, bytes]:
        raise NotImplementedError

    def failure(self, status: int, errors: bytes) -> Exception | None:
        """A failure of the connection itself (not of the script), as `connect` words it."""
        return None

    def close(self) -> None:
        raise NotImplementedError


class _OpenSsh(_Session):
    def __init__(self, argv: list[str], target: SshTarget):
        import fcntl
        import os
        import subprocess
        import tempfile

        self.target = target
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close()); a file: stderr never blocks
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors)
        except OSError:
            self.errors.close()
            raise
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with contextlib.suppress(OSError):  # the client runs ahead by a megabyte while a batch is written (64 KiB
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)  # stalled it, and the server with it: 1.85 s for 0.8 s)
        self.read = lambda n: os.read(fd, n)  # what has arrived: the script waits for input after the listing

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # the client is gone: its exit status and stderr say why
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def end_input(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # the client is gone: its exit status and stderr say why
            self.proc.stdin.close()

    def finish(self) -> tuple[int, bytes]:
        status = self.proc.wait()
        self.errors.seek(0)
        return status, self.errors.read()

    def failure(self, status: int, errors: bytes) -> Exception | None:
        if status != 255:
            return None
        return openssh_failure(self.target, errors.decode("utf-8", "replace"))

    def close(self) -> None:
        if self.proc.poll() is None:  # interrupted: the client goes too
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):
                    stream.close()
        self.errors.close()


class _Paramiko(_Session):
    def __init__(self, target: SshTarget, command: str):
        self.client = connect(target)
        try:
            self.channel = self.client.get_transport().open_session()
            self.channel.exec_command(command)
        except BaseException:
            self.client.close()
            raise
        self.read = self.channel.recv
        self.stderr: list[bytes] = []
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self) -> None:
        while chunk := self.channel.recv_stderr(1 << 16):
            self.stderr.append(chunk)

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the session is gone: its exit status and stderr say why
            self.channel.sendall(data)

    def end_input(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.shutdown_write()

    def finish(self) -> tuple[int, bytes]:
        status = self.channel.recv_exit_status()
        self.drain.join()
        return status, b"".join(self.stderr)

    def close(self) -> None:
        self.client.close()


def _open(target: SshTarget, command: str) -> _Session:
    argv = openssh_command(target, command)
    return _OpenSsh(argv, target) if argv is not None else _Paramiko(target, command)


def start(url: str, target: SshTarget | None = None) -> _Session:
    """The scan's session to the server, started: the OpenSSH client connects (paramiko has connected) while the
    caller opens the scan file and the scan imports what it needs. ValueError: not an ssh:// URL."""
    user, host, port, path = parse_ssh_url(url)
    target = target or SshTarget(host=host, port=port, username=user)
    return _open(target, SCRIPT.format(path=shlex.quote(path), names_bytes=NAMES_BYTES, printf=PRINTF))


@without_cycle_collector  # the rows held as tuples would be rescanned again and again
def scan_ssh(
    store: ScanStore,
    share: str,
    url: str,
    target: SshTarget | None = None,
    progress=None,
    session: _Session | None = None,
) -> ScanResult:
    """`session`: `start(url, target)`'s, when the caller started it (before it opened `store`); else started here.
    Closed here either way."""
    session = session or start(url, target)
    try:
        return _scan(session, store, share, url, progress)
    finally:
        session.close()


def _scan(session: _Session, store: ScanStore, share: str, url: str, progress) -> ScanResult:
    # the client connects while the scan is set up and numpy (which reads the listing) is imported
    with collector_on():
        import numpy  # noqa: F401

        from oslomig.shares.scan import ScanResult, SizeTally, Writer

    _user, host, _port, path = parse_ssh_url(url)
    scan_id = store.begin_scan(share, url)
    result = ScanResult(share, scan_id)
    directory = str(store.path.parent)
    tally, owners, find_status, hashed = SizeTally(directory), None, None, 0
    writer, held = Writer(store, scan_id), _HeldPaths()
    try:
        if (first := _through_nul(session.read)) is not None:
            owners = _Owners(_passwd_names(first[0]), directory)
            try:
                find_status = _read_listing(session, first[1], writer, tally, owners, held, result, progress)
            except ValueError:  # a field that is not what -printf was asked for
                raise ConnectionError(f"{host}: find on the server did not list {path} as GNU find does") from None
            # while the writer's thread writes the last rows: the sizes that collide, and the server asked for the
            # owners' names the first ones missed and, where the paths were held, sent the paths to hash
            colliding, _files = tally.colliding()
            sent = False
            if find_status is not None:
                session.write(owners.question())
                if (pieces := held.pieces_of_sizes(colliding)) is not None:
                    session.send(pieces)
                    sent = True
            writer.close()  # every row of the listing is in: the database is this thread's again (rows on to disk)
            if find_status is not None:
                rest = _write_held(session, store, scan_id, owners)
                if not sent:
                    _send_found(session, store, scan_id, colliding)
                hashed = _write_hashes(session, store, scan_id, rest)
                if session.unsent is not None:  # some paths never went to the server: their files have no hash
                    raise session.unsent
        status, errors = session.finish()
        failed = ConnectionError(f"{host}: listing {path} failed: {errors.decode('utf-8', 'replace').strip()[:300]}")
        if find_status is None:  # the session ended before the listing did
            raise session.failure(status, errors) or failed
        problems = _problems(store, scan_id, errors)
        if find_status not in (0, 1) or (find_status == 1 and not problems and result.files == 0):
            raise failed
        result.hashed += hashed
        store.add_problems(scan_id, problems)
        result.problems = len(problems)
        store.finish_scan(scan_id, share)
    except BaseException:
        writer.abort()  # the batch being written is finished first: then the scan's rows go
        store.abandon_scan(scan_id)
        raise
    finally:
        tally.close()
        if owners is not None:
            owners.close()
    return result


def _read_listing(
    session: _Session,
    data: bytes,
    writer: Writer,
    tally: SizeTally,
    owners: _Owners,
    held: _HeldPaths,
    result: ScanResult,
    progress,
) -> int | None:
    """Writes find's records as they arrive (`data`: what came with the names), counting the files' sizes, holding
    their paths (`held`) and holding back the rows of owners without a name yet; find's exit status, or None when the
    session ended without one (no connection, no such folder). ValueError: a record not in the format asked for."""
    from oslomig.shares.scan import count_found

    chunks = FoundChunks(session.read, until=b"E")
    chunks.pending = data
    for found in chunks:
        if len(found):
            held.add(found, count_found(found, result, tally))
            owners.write(found, writer.add)
            if progress:
                progress.advance(len(found))
    return chunks.status


def _write_held(session: _Session, store: ScanStore, scan_id: int, owners: _Owners) -> bytes:
    """Reads the names the first ones missed (`_Owners.question` was sent), and writes the rows held for them, at
    least BATCH to a transaction (they were held a chunk at a time); what was read past the names (the first hashes,
    if any)."""
    from oslomig.shares.store import BATCH

    answer = _through_nul(session.read)
    names = _passwd_names(answer[0] + b"\n") if answer is not None else {}
    rows: list[tuple] = []
    for held in owners.held(names):
        rows.extend(held)
        if len(rows) >= BATCH:
            store.add_files(scan_id, rows, column=None)
            rows = []
    if rows:
        store.add_files(scan_id, rows, column=None)
    return answer[1] if answer is not None else b""


def _send_found(session: _Session, store: ScanStore, scan_id: int, colliding: set[int]) -> None:
    """The paths of the files of the `colliding` sizes sent a batch at a time as SQLite finds them (where they were
    not held: `_HeldPaths`), so the server hashes while the rest are found."""
    from queue import SimpleQueue

    from oslomig.shares.store import BATCH

    pieces: SimpleQueue[bytes | None] = SimpleQueue()
    session.send(iter(pieces.get, None))  # the script's input: written from a thread, then closed at the None
    try:
        for rows in store.batches_of_sizes(scan_id, colliding, BATCH) if colliding else ():
            pieces.put(b"".join(rel + b"\0" for rel, _size in rows))
    finally:
        pieces.put(None)


def _write_hashes(session: _Session, store: ScanStore, scan_id: int, rest: bytes) -> int:
    """Full hashes on the server (`SCRIPT`) of the paths sent, only files whose sizes collide: written to their rows
    HASHES_AT_ONCE at a time as they come back, while the server hashes the next, and committed about every BATCH
    (a 200,000-file department tree: 194,233 hashes, whose UPDATE took 0.8 s after the last came; 2,001 of the
    listing tree, 12 ms). How many were written. `rest`: what was read of the hashes already."""
    from oslomig.shares.store import BATCH

    hashes: list[tuple[bytes, str]] = []
    written = 0
    chunks = FieldChunks(session.read, 1)
    chunks.pending = rest
    with store.commits_every(max(1, BATCH // HASHES_AT_ONCE)) as batch_done:
        for fields, n in chunks:
            for line in fields[:n]:
                digest, _, rel = line.partition(b"  ")
                hashes.append((rel, digest.decode("ascii")))
            if len(hashes) >= HASHES_AT_ONCE:
                store.set_hashes(scan_id, "full_hash", hashes)  # joins the transaction
                written, hashes = written + len(hashes), []
                batch_done()
        if hashes:
            store.set_hashes(scan_id, "full_hash", hashes)
    return written + len(hashes)


def _problems(store: ScanStore, scan_id: int, errors: bytes) -> list[tuple[bytes, str, str]]:
    """What find and b2sum (or sha256sum) said on stderr: entries that vanished, could not be read, or not hashed. An
    unreadable entry gets its row, as a local scan gives it."""
    problems = []
    for line in errors.splitlines():
        if m := FIND_ERROR.match(line):
            rel, why = m[1], m[2].decode("utf-8", "replace")
            if "No such file" in why:
                problems.append((rel, "vanished", "vanished during the scan"))
            else:
                problems.append((rel, "unreadable", f"cannot read: {why}"))
                store.add_files(scan_id, [(rel, "unreadable", 0, 0.0, None, None)])
        elif m := HASH_ERROR.match(line):
            problems.append((m[1], "hash_failed", m[2].decode("utf-8", "replace")))
    return problems
