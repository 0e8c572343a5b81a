"""Write the SharePoint move manifest and its companions (SPEC §5) from a scan database."""

from __future__ import annotations

import array
import contextlib
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import pickle
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from oslomig import csvout
from oslomig.atomic import SyncBehind, atomic_open, ensure_dir, write_text
from oslomig.collector import without_cycle_collector
from oslomig.errors import OslomigError
from oslomig.models import SharePlan, ShareSpec
from oslomig.shares.manifestcsv import MANIFEST_COLUMNS, IsoTimes, iso_time
from oslomig.shares.proof import deletion_gate, load_record, migrate_key
from oslomig.shares.rules import Classified, ShareRules, library_url_name, show_path
from oslomig.shares.store import ScanStore


@dataclass
class Totals:
    files: dict = field(default_factory=lambda: defaultdict(int))  # (share, department, action, reason) -> n
    bytes: dict = field(default_factory=lambda: defaultdict(int))
    by_action: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # (share, action) -> [files, bytes]
    open_review: dict = field(default_factory=dict)  # share -> (contact, rows still to decide)
    decided: dict = field(default_factory=lambda: defaultdict(int))  # share -> rows settled by a decision
    digest: dict = field(default_factory=dict)  # share -> fingerprint of its migrate rows (proof.manifest_digest)
    library_warnings: list = field(default_factory=list)  # (share, code, where, count)
    warnings: list = field(default_factory=list)  # sentences for stderr


def _refusal(c, decision, size: int, modified: str) -> str | None:
    """Why a contact's decision does not settle this row, or None when it does: it applies while the file is as the
    contact saw it, and never moves a file a rule skips."""
    if decision.size != str(size) or decision.modified != modified:
        return (
            "changed since the list was made (size or modified time); decision not applied, "
            "the file is in the next review list"
        )
    if c.action == "skip" and decision.action == "migrate":
        return f"is skipped by rule ({';'.join(c.reasons)}); decision not applied"
    return None


def _apply_decision(c, decision, size: int, modified: str, shown: str, share_id: str, totals: Totals) -> bool:
    """A contact's decision settles a row when `_refusal` has nothing against it. True when applied."""
    if decision is None:
        return False
    refusal = _refusal(c, decision, size, modified)
    if refusal is not None:
        totals.warnings.append(f"{decision.where}: {share_id}/{shown} {refusal}")
        return False
    c.action = decision.action
    c.reasons.append("DECIDED")  # before placement: a collision found later does not reopen a decided row
    return True


def _keepers(
    store: ScanStore, scan_id: int, rules: ShareRules, unreadable: set, decisions: dict, share_id: str, tz
) -> dict[str, bytes]:
    """For each content with several copies: the first copy in path order that its own rules (and a contact's
    decision) let move. A content whose every copy is skipped by its own rule has no keeper."""
    keeper: dict[str, bytes] = {}
    rows = store.db.execute(
        f"SELECT path, kind, size, mtime, full_hash, {store.attributes} FROM files "
        "WHERE scan_id = ? AND full_hash IS NOT NULL ORDER BY path",
        (scan_id,),
    )
    for path, kind, size, mtime, full_hash, attributes in rows:
        if full_hash in keeper:
            continue
        c = rules.classify(path, kind, size, mtime, False, path in unreadable, attributes)
        decision = decisions.get((share_id, show_path(path)))
        if decision is not None and _refusal(c, decision, size, iso_time(mtime, tz)) is None:
            c.action = decision.action
        if c.action != "skip":
            keeper[full_hash] = path
    return keeper


BATCH = 10_000  # rows read, classified and written at a time: memory stays flat in the size of the share
# rows of a share from which they are read and classified in a second process while this one places and writes
PARALLEL_FROM = 200_000
BULK = True  # runs of plain rows placed whole (False: one by one, the reference the tests compare with)
NEEDS_QUOTES = re.compile(r'[,"\r\n]')


class _Batch(NamedTuple):
    """A batch of rows classified, before placement: what `_Reader` hands `_ShareWriter`."""

    rels: list[str]  # shown paths
    targets: list[str]  # target paths as the rules make them
    special: dict[int, Classified]  # the rows with a reason (`ShareRules.classify_many`)
    modified: list[str]
    sizes: list[int]
    kinds: list[str]
    quoted: set[int]  # rows with a field that needs CSV quotes


class _Reader:
    """A share's rows in path order, read and classified a batch at a time: the part of the manifest that depends
    on each row alone (no placement, no totals), so it can run in a second process beside the writer."""

    def __init__(self, share, rules, iso_times, keeper, unreadable):
        self.rules, self.iso_times, self.keeper, self.unreadable = rules, iso_times, keeper, unreadable
        target = share.target
        fixed = [share.id, target.site, target.library, target.folder]  # target paths hold the folder and the path
        self.all_quoted = any(NEEDS_QUOTES.search(f) for f in fixed)
        # the targets a row can have, so a batch crosses the pipe with an index instead of the model
        self.targets = [target, *[r.target for r in share.routes if r.target is not None]]
        self.target_index = {id(t): k for k, t in enumerate(self.targets)}

    def prepare(self, columns: tuple[list, ...]) -> _Batch:
        paths, kinds, sizes, mtimes, hashes, attributes = columns
        keeper = self.keeper
        # the rows with a full hash, found in C (a hash is a non-empty string), then their keepers looked up
        duplicates = {
            i for i in itertools.compress(range(len(hashes)), hashes) if keeper.get(hashes[i], paths[i]) < paths[i]
        }
        rels, targets, special = self.rules.classify_many(
            paths, kinds, sizes, mtimes, duplicates, self.unreadable, attributes
        )
        quoted: set[int] = set(range(len(rels))) if self.all_quoted else set()
        joined = b"\0".join(paths)
        if b"," in joined or b'"' in joined or b"\r" in joined or b"\n" in joined:  # ASCII: never inside UTF-8
            quoted.update(i for i, t in enumerate(rels) if NEEDS_QUOTES.search(t))
        return _Batch(rels, targets, special, self.iso_times(mtimes), sizes, kinds, quoted)

    def batches(self, store: ScanStore, scan_id: int, rows: int) -> Iterator[_Batch]:
        """The share's batches; from a second process when the share is big enough to pay for starting one and
        this machine has a core for it."""
        if rows < PARALLEL_FROM or len(os.sched_getaffinity(0)) < 2:
            for columns in store.file_columns(scan_id, BATCH):
                yield self.prepare(columns)
            return
        yield from self._from_child(store.path, scan_id)

    def _from_child(self, db_path: Path, scan_id: int) -> Iterator[_Batch]:
        import multiprocessing

        context = multiprocessing.get_context("fork")  # the child has the rules, keepers and zone already
        receiving, sending = context.Pipe(duplex=False)
        sys.stdout.flush()  # a forked child flushes the standard streams it was given on its way out
        sys.stderr.flush()
        child = context.Process(target=self._serve, args=(sending, db_path, scan_id), daemon=True)
        child.start()
        sending.close()
        try:
            while True:
                try:
                    message = receiving.recv_bytes()
                except EOFError:
                    raise RuntimeError(f"the process reading {db_path} ended without a word") from None
                if not message:
                    break
                packed = pickle.loads(message)
                if isinstance(packed, str):
                    raise RuntimeError(f"reading {db_path}: {packed}")
                yield self._unpack(packed)
        finally:
            receiving.close()
            if child.is_alive():
                child.terminate()
            child.join()

    def _pack(self, b: _Batch) -> tuple:
        """A batch as a few big objects: the text columns joined by NUL (no path holds one), the sizes as 64-bit
        integers (SQLite's own), each Classified with its target's index. Pickling a million small strings one by
        one cost more than classifying them."""
        index = self.target_index
        special = {i: (c.action, c.reasons, index[id(c.target)], c.target_path) for i, c in b.special.items()}
        kinds = None if b.kinds.count("file") == len(b.kinds) else "\0".join(b.kinds)
        return (
            "\0".join(b.rels),
            "\0".join(b.targets),
            special,
            "\0".join(b.modified),
            array.array("q", b.sizes).tobytes(),
            kinds,
            b.quoted,
        )

    def _unpack(self, packed: tuple) -> _Batch:
        rels, targets, special, modified, sizes, kinds, quoted = packed
        rels = rels.split("\0")
        column = array.array("q")
        column.frombytes(sizes)
        return _Batch(
            rels,
            targets.split("\0"),
            {i: Classified(a, r, self.targets[t], p) for i, (a, r, t, p) in special.items()},
            modified.split("\0"),
            column.tolist(),
            ["file"] * len(rels) if kinds is None else kinds.split("\0"),
            quoted,
        )

    def _serve(self, sending, db_path: Path, scan_id: int) -> None:
        """In the child: each batch prepared and sent, an empty message at the end, an error's text if one comes."""
        try:
            store = ScanStore(db_path, create=False)
            for columns in store.file_columns(scan_id, BATCH):
                sending.send_bytes(pickle.dumps(self._pack(self.prepare(columns)), protocol=pickle.HIGHEST_PROTOCOL))
            sending.send_bytes(b"")
        except (KeyboardInterrupt, BrokenPipeError):
            pass  # Ctrl-C reaches both processes; the writer cleans up
        except Exception as exc:  # the writer raises it as its own
            with contextlib.suppress(OSError):
                sending.send_bytes(pickle.dumps(f"{type(exc).__name__}: {exc}"))


def _run_folders(targets: list[str]) -> dict[str, int]:
    """Folder -> rows of a run of target paths, in the order first met. Rows come in path order, so a run is mostly
    one folder: told by two counts over the joined run (every path opens with the first one's folder and holds no
    more slashes than it) instead of a split per row."""
    first, k = targets[0].rpartition("/")[0], len(targets)
    joined = "\0".join(targets)
    if not first and "/" not in joined:
        return {"": k}
    if first and joined.count(f"\0{first}/") == k - 1 and joined.count("/") == k * (first.count("/") + 1):
        return {first: k}
    return Counter([t.rpartition("/")[0] for t in targets])


class _Text:
    """A batch's manifest lines and the fingerprint entries of its migrate rows, in row order. The entries of a run
    of plain rows are made from their lines at once (`_plain_keys`) when a full-path row or the end comes."""

    def __init__(self, head: str, tail: str, digest_tail: str):
        self.head, self.tail, self.digest_tail = head, tail, digest_tail
        self.lines: list[str] = []
        self.digest: list[str] = []
        self.run = 0  # where the plain rows whose fingerprint entries are still to make start in `lines`

    def full(self, line: str, row: list) -> None:
        """A row written by the full path; its own fingerprint entry when it migrates."""
        self.unsigned(line)
        if row[4] == "migrate":
            self.digest.append("\x1f".join(migrate_key(row)) + "\x1e")

    def unsigned(self, text: str) -> None:
        """Rows written as they are, after the fingerprint entries of the plain rows before them; none of their own
        (skipped rows, or a full-path row whose entry `full` adds)."""
        self._flush()
        self.lines.append(text)
        self.run = len(self.lines)

    def digest_text(self) -> str:
        self._flush()
        self.run = len(self.lines)
        return "".join(self.digest)

    def _flush(self) -> None:
        if self.run < len(self.lines):
            self.digest.append(
                self._plain_keys("".join(self.lines[self.run :]), self.head, self.tail, self.digest_tail)
            )

    @staticmethod
    def _plain_keys(text: str, head: str, tail: str, digest_tail: str) -> str:
        """The fingerprint entries (`migrate_key`: fields joined by US, rows ended by RS) of consecutive plain rows'
        manifest lines (`head`, shown path, size, modified, `tail`, target path, CRLF). No field of a plain row holds
        a comma, CR or LF (it would be quoted), so `tail` (",migrate,,site,library,") is found once a line, where it
        is, and the other commas are the separators."""
        body = text[len(head) : -2].replace(tail, digest_tail).replace("\r\n" + head, "\x1e")
        return body.replace(",", "\x1f") + "\x1e"


class _ShareWriter:
    """One share's rows of manifest.csv, a batch at a time, in path order.

    `ShareRules.classify_many` settles the plain rows (most rows: migrate, no reason, the share's target) over
    whole columns; they are placed, counted and written on a short path. The rows with a reason, a contact's
    decision, a target-name collision or a field that needs CSV quotes take the full path, as one by one."""

    def __init__(self, share, by_row, totals, placers, counter):
        self.share, self.by_row, self.totals = share, by_row, totals
        self.placers, self.counter = placers, counter
        self.dept = share.department or ""
        self.decided_here = {shown for sid, shown in by_row if sid == share.id}
        self.review_rows: list[list] = []
        self.fingerprint = hashlib.sha256()
        self.used: set[tuple[str, str]] = set()
        target = share.target
        self.library = (target.site, library_url_name(target))
        self.csv_buffer = io.StringIO()
        self.csv = csvout.writer(self.csv_buffer)

    def batch(self, batch: _Batch) -> str:
        """The manifest text of these rows; totals, review rows and the fingerprint updated.

        Between the rows that take the full path, each run of plain rows is placed whole when none of its names is
        taken (by an earlier row or by another row of the run) and every folder it writes to is known and landed
        under its own name; otherwise the run goes row by row, exactly as before."""
        rels, targets, special, modified, sizes, kinds, quoted = batch
        share, sid = self.share, self.share.id
        self.used = set()
        if self.decided_here:
            for i, shown in enumerate(rels):
                if shown in self.decided_here:
                    self.used.add((sid, shown))
                    if i not in special:
                        special[i] = Classified("migrate", [], share.target, targets[i])
        n = len(rels)
        # lower() of the joined targets is each target's lower(): NUL is neither cased nor case-ignorable, so even a
        # final sigma is lowered as in its own string
        lows = "\0".join(targets).lower().split("\0") if n else []
        site, library = share.target.site, share.target.library
        text = _Text(f"{sid},", f",migrate,,{site},{library},", f"\x1f{site}\x1f{library}\x1f")
        self.plain_files = self.plain_bytes = 0
        stops = sorted(special.keys() | quoted)
        k = start = 0
        while True:
            stop = stops[k] if k < len(stops) else n
            if start < stop and not (BULK and self._plain_run(start, stop, batch, lows, text)):
                self._plain_rows(start, stop, batch, text)
            if stop == n:
                break
            skipped = BULK and (c := special.get(stop)) is not None and c.action == "skip"
            end = self._skip_run(stop, batch, text) if skipped else stop
            if end == stop:
                self._full_row(stop, batch, text)
                end = stop + 1
            k += end - stop  # the rows stop..end-1 are consecutive in `stops`: every one is special
            start = end
        self.fingerprint.update(text.digest_text().encode("utf-8", "surrogatepass"))
        self._count("migrate", [], self.plain_files, self.plain_bytes)
        counter = self.counter
        counter.library_items[self.library] += self.plain_files
        counter.library_files[self.library] += self.plain_files
        return "".join(text.lines)

    def _plain_run(self, start: int, stop: int, batch: _Batch, lows: list[str], text: _Text) -> bool:
        """Rows start..stop-1, all plain, placed, counted and written whole; False (and nothing done) when one of
        them would not keep its name or a folder it writes to is new or renamed."""
        placer, library, counter = self.placers[self.library], self.library, self.counter
        names = set(lows[start:stop])
        if len(names) != stop - start or not placer.files.isdisjoint(names) or not placer.folders.isdisjoint(names):
            return False
        targets = batch.targets[start:stop]
        folders = _run_folders(targets)
        resolved = placer.resolved
        for folder in folders:
            landing = resolved.get(folder) if folder else ("", False)
            if landing is None or landing[1]:
                return False
        placer.files.update(names)
        for folder, k in folders.items():
            counter.folder_items[counter.folder_key(library, folder)] += k
        sizes, rels, modified = batch.sizes[start:stop], batch.rels[start:stop], batch.modified[start:stop]
        head, tail = text.head, text.tail
        # the run's lines as one string: fewer items to join for the fingerprint and the file
        lines = [f"{head}{r},{s},{m}{tail}{t}\r\n" for r, s, m, t in zip(rels, sizes, modified, targets, strict=True)]
        text.lines.append("".join(lines))
        self.plain_files += stop - start
        self.plain_bytes += sum(sizes)
        return True

    def _plain_rows(self, start: int, stop: int, batch: _Batch, text: _Text) -> None:
        """Rows start..stop-1, all plain, one by one: a row whose folder lands where it is named and whose name is
        free is written on the short path (`Placer.place` and `LibraryCounter.add` inline), others through
        `Placer.place`, to review when their name is taken."""
        library, counter = self.library, self.counter
        placer = self.placers[library]
        files, folders, resolved = placer.files, placer.folders, placer.resolved
        folder_items = counter.folder_items
        targets, sizes, modified, rels = batch.targets, batch.sizes, batch.modified, batch.rels
        head, tail, lines = text.head, text.tail, text.lines
        # the folder of the last short-path row (rows come in path order, so mostly the same folder), its key among
        # the library's counts, and its rows not counted yet
        last_folder, last_key, uncounted = None, None, 0
        for i in range(start, stop):
            target_path = targets[i]
            slash = target_path.rfind("/")
            folder = target_path[:slash] if slash >= 0 else ""
            if folder == last_folder:  # where a folder lands never changes once known
                lands = True
            else:
                landing = resolved.get(folder) if slash >= 0 else ("", False)
                lands = landing is not None and not landing[1]
            low = target_path.lower()
            if lands and low not in files and low not in folders:
                files.add(low)
                if folder != last_folder:
                    if uncounted:
                        folder_items[last_key] += uncounted
                    last_key = counter.folder_key(library, folder)
                    last_folder, uncounted = folder, 0
                uncounted += 1
                size = sizes[i]
                lines.append(f"{head}{rels[i]},{size},{modified[i]}{tail}{target_path}\r\n")
                self.plain_files += 1
                self.plain_bytes += size
                continue
            target_path, collided = placer.place(target_path)
            if collided:  # counted by _row
                c = Classified("review", ["TARGET_COLLISION"], self.share.target, target_path)
            else:
                counter.add(library, target_path)
                c = Classified("migrate", [], self.share.target, target_path)
            row = self._row(c, i, batch, placed=True)
            text.full(self._line(row), row)
            if row[4] == "review":
                self.review_rows.append(row)
        if uncounted:
            folder_items[last_key] += uncounted

    def _skip_run(self, start: int, batch: _Batch, text: _Text) -> int:
        """The rows from `start` that a rule skips (no contact's decision, no field that needs quotes), written and
        counted whole when there are two or more; where they end, or `start` when they go row by row. A skipped row
        is not placed, not counted in its library and not in the fingerprint."""
        special, rels, quoted, decided = batch.special, batch.rels, batch.quoted, self.decided_here
        stop, n = start, len(rels)
        while (
            stop < n
            and (c := special.get(stop)) is not None
            and c.action == "skip"
            and stop not in quoted
            and not (decided and rels[stop] in decided)
        ):
            stop += 1
        m = stop - start
        if m < 2:
            return start
        sid, sizes, modified = self.share.id, batch.sizes, batch.modified
        rows = [special[i] for i in range(start, stop)]
        chunk = "".join(
            [
                f"{sid},{r},{s},{t},skip,{';'.join(c.reasons)},{c.target.site},{c.target.library},{c.target_path}\r\n"
                for r, s, t, c in zip(rels[start:stop], sizes[start:stop], modified[start:stop], rows, strict=True)
            ]
        )
        if chunk.count(",") != 8 * m or '"' in chunk or chunk.count("\r") != m or chunk.count("\n") != m:
            return start  # a field needs quotes: csv.writer writes these rows
        text.unsigned(chunk)
        by_reasons: dict[tuple[str, ...], list[int]] = {}  # the run's rows and bytes under each list of reasons
        for c, size in zip(rows, sizes[start:stop], strict=True):
            counts = by_reasons.setdefault(tuple(c.reasons), [0, 0])
            counts[0] += 1
            counts[1] += size
        for reasons, (files, size) in by_reasons.items():
            self._count("skip", reasons, files, size)
        return stop

    def _full_row(self, i: int, batch: _Batch, text: _Text) -> None:
        """A row with a reason, a contact's decision or a field that needs quotes."""
        c = batch.special.get(i) or Classified("migrate", [], self.share.target, batch.targets[i])
        row = self._row(c, i, batch)
        text.full(self._line(row), row)
        if row[4] == "review":
            self.review_rows.append(row)

    def _line(self, row: list) -> str:
        """The row as csv.writer writes it: joined by commas when no field holds a comma, quote, CR or LF (no field
        needs quotes then), through the writer otherwise."""
        if None not in row:
            line = ",".join(map(str, row))
            if line.count(",") == len(row) - 1 and '"' not in line and "\r" not in line and "\n" not in line:
                return line + "\r\n"
        self.csv.writerow(row)
        line = self.csv_buffer.getvalue()
        self.csv_buffer.seek(0)
        self.csv_buffer.truncate()
        return line

    def _row(self, c: Classified, i: int, batch: _Batch, placed: bool = False) -> list:
        """The full path for one row: a contact's decision, placement, the totals by every reason."""
        share, totals = self.share, self.totals
        shown, size, mod, kind = batch.rels[i], batch.sizes[i], batch.modified[i], batch.kinds[i]
        decision = self.by_row.get((share.id, shown)) if self.decided_here else None
        decided = _apply_decision(c, decision, size, mod, shown, share.id, totals)
        if not placed and c.action != "skip" and kind in ("file", "offline"):
            library = (c.target.site, library_url_name(c.target))
            c.target_path, collided = self.placers[library].place(c.target_path)
            if collided and not decided:  # a contact's decision settles the row; it still gets the free name
                c.reasons.append("TARGET_COLLISION")
                if c.action == "migrate":
                    c.action = "review"
            self.counter.add(library, c.target_path)
        elif placed and c.reasons:  # a collision found on the short path; counted here
            self.counter.add(self.library, c.target_path)
        row = [share.id, shown, size, mod, c.action, ";".join(c.reasons), c.target.site, c.target.library]
        row.append(c.target_path)
        if decided:
            totals.decided[share.id] += 1
        self._count(c.action, c.reasons, 1, size)
        return row

    def _count(self, action: str, reasons, files: int, size: int) -> None:
        """`files` rows of `size` bytes in all, with this action and these reasons, into the totals: under each
        reason (or "-") and under the action."""
        totals, sid = self.totals, self.share.id
        for reason in reasons or ["-"]:
            totals.files[(sid, self.dept, action, reason)] += files
            totals.bytes[(sid, self.dept, action, reason)] += size
        by_action = totals.by_action[(sid, action)]
        by_action[0] += files
        by_action[1] += size


@without_cycle_collector  # a million rows make no cycles; the collector's passes over them cost a fifth of the run
def write_manifest(
    plan: SharePlan,
    store: ScanStore,
    out: Path,
    today: dt.date,
    shares: list[ShareSpec],
    progress=None,
    decisions=None,
    plan_dir: Path = Path("."),
) -> Totals:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(plan.timezone)
    return _write_manifest(plan, store, out, today, shares, progress, decisions, plan_dir, tz, Totals())


def _write_manifest(plan, store, out, today, shares, progress, decisions, plan_dir, tz, totals) -> Totals:
    from oslomig.shares.decisions import write_review_lists
    from oslomig.shares.placement import LibraryCounter, Placer

    by_row = decisions.by_row if decisions is not None else {}
    used: set[tuple[str, str]] = set()
    ensure_dir(out)
    placers: dict[tuple[str, str], Placer] = defaultdict(Placer)
    counter = LibraryCounter()
    with atomic_open(out / "manifest.csv", newline="") as handle, SyncBehind(handle) as behind:
        handle.write(csvout.to_text([], MANIFEST_COLUMNS))
        for share in shares:
            scan = store.latest_scan(share.id)
            if scan is None:
                continue
            scan_id = scan[0]
            rules = ShareRules(share, plan.policy, today)
            unreadable = {
                r[0]
                for r in store.db.execute(
                    "SELECT path FROM problems WHERE scan_id = ? AND kind IN ('hash_failed', 'unreadable')", (scan_id,)
                )
            }
            keeper = _keepers(store, scan_id, rules, unreadable, by_row, share.id, tz)
            reader = _Reader(share, rules, IsoTimes(tz), keeper, unreadable)
            writing = _ShareWriter(share, by_row, totals, placers, counter)
            with contextlib.closing(reader.batches(store, scan_id, scan[3])) as batches:  # on error too: no child left
                for batch in batches:
                    text = writing.batch(batch)
                    handle.write(text)
                    behind.wrote(len(text))
                    used.update(writing.used)
                    if progress:
                        progress.advance(len(batch.rels))
            review_rows, fingerprint = writing.review_rows, writing.fingerprint
            contact = share.contact.email if share.contact else ""
            totals.open_review[share.id] = (contact, len(review_rows))
            totals.digest[share.id] = fingerprint.hexdigest()
            write_review_lists(out, share.id, review_rows)
    share_of_library = {}
    for share in shares:
        for target in [share.target, *[r.target for r in share.routes if r.target is not None]]:
            share_of_library.setdefault((target.site, library_url_name(target)), share.id)
    for library, code, where, n in counter.warnings():
        sid = share_of_library.get(library, "")
        totals.library_warnings.append((sid, code, f"{library[0]}/{library[1]}" + (f"/{where}" if where else ""), n))
    scanned = {s.id for s in shares}
    for (sid, shown), decision in sorted(by_row.items()):
        if (sid, shown) in used:
            continue
        if sid in scanned:
            totals.warnings.append(
                f"{decision.where}: {sid}/{shown} is not in the scan (vanished or renamed); decision not applied"
            )
        else:
            totals.warnings.append(f"{decision.where}: no scanned share {sid!r} in this plan; decision not applied")
    _write_summary(out, totals, shares)
    totals.warnings.extend(_write_spmt(out, shares, plan_dir))
    record = load_record(out)
    gates = {
        s.id: deletion_gate(s.id, totals.open_review.get(s.id, ("", 0))[1], totals.digest.get(s.id, ""), record)
        for s in shares
    }
    write_timeline(out, plan, shares, today, gates)
    return totals


def _write_summary(out: Path, totals: Totals, shares: list[ShareSpec]) -> None:
    """Per share and department: files and bytes by action and reason; per share and contact the review rows still
    open (action `review`, reason `OPEN`) and those a contact settled (`DECIDED`); library limits as warnings."""
    contact = {s.id: (s.contact.email if s.contact else "") for s in shares}
    dept = {s.id: s.department or "" for s in shares}
    with atomic_open(out / "summary.csv", newline="") as handle:
        w = csvout.writer(handle)
        w.writerow(["share", "department", "contact", "action", "reason", "files", "bytes"])
        for key in sorted(totals.files):
            sid, department, action, reason = key
            w.writerow([sid, department, contact.get(sid, ""), action, reason, totals.files[key], totals.bytes[key]])
        for sid, (email, n) in sorted(totals.open_review.items()):
            w.writerow([sid, dept.get(sid, ""), email, "review", "OPEN", n, ""])
        for sid, code, where, n in totals.library_warnings:
            w.writerow([sid, dept.get(sid, ""), contact.get(sid, ""), "warning", f"{code} {where}", n, ""])


def spmt_tasks(shares: list[ShareSpec], plan_dir: Path) -> tuple[list[dict], list[str]]:
    """One SharePoint Migration Tool task per staging root (SPEC §5.2): SPMT copies each root whole, and a root
    holds exactly the rows that move to its target. A share without `staging:` (or whose staging root SPMT cannot
    be told) gets no task and a warning: a task over the share itself would copy junk, skips and reviews too."""
    from oslomig.shares.staging import staging_roots, staging_unc

    tasks, warnings = [], []
    for share in shares:
        try:
            for root in staging_roots(share):
                tasks.append(
                    {
                        "SourcePath": staging_unc(share, root, plan_dir),
                        "TargetPath": root.target.site,
                        "TargetList": root.target.library,
                        "TargetListRelativePath": root.folder,
                    }
                )
        except OslomigError as exc:
            warnings.append(f"{exc}; no SPMT task for this share")
    return tasks, warnings


def _write_spmt(out: Path, shares: list[ShareSpec], plan_dir: Path) -> list[str]:
    tasks, warnings = spmt_tasks(shares, plan_dir)
    with atomic_open(out / "spmt.csv", newline="") as handle:
        w = csvout.writer(handle)  # SPMT is a Windows tool; no header row
        for t in tasks:
            w.writerow([t["SourcePath"], "", "", t["TargetPath"], t["TargetList"], t["TargetListRelativePath"]])
    write_text(out / "spmt.json", json.dumps({"Tasks": tasks}, indent=2, ensure_ascii=False) + "\n")
    return warnings


TIMELINE_COLUMNS = [
    "share",
    "department",
    "read_only_from",
    "delete_on",
    "delete_after_days",
    "verified_at",
    "safe_to_delete",
    "blocked_because",
]


def write_timeline(
    out: Path, plan: SharePlan, shares: list[ShareSpec], today: dt.date, gates: dict[str, tuple[str, bool, str]]
) -> None:
    """Per share the read-only and deletion dates, and whether deleting is allowed yet (SPEC §5.2): `gates` holds
    (verified_at, safe_to_delete, why not) from `proof.deletion_gate`."""
    from icalendar import Calendar, Event

    rows = []
    cal = Calendar()
    cal.add("prodid", "-//oslomig//share timeline//EN")
    cal.add("version", "2.0")
    stamp = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    for share in shares:
        verified_at, safe, why = gates.get(share.id, ("", False, "not in this manifest"))
        gate = [verified_at, "true" if safe else "false", why]
        if share.read_only_from is None:
            rows.append([share.id, share.department or "", "", "", share.delete_after_days, *gate])
            continue
        delete_on = share.read_only_from + dt.timedelta(days=share.delete_after_days)
        rows.append(
            [
                share.id,
                share.department or "",
                share.read_only_from.isoformat(),
                delete_on.isoformat(),
                share.delete_after_days,
                *gate,
            ]
        )
        for what, day in (("read-only", share.read_only_from), ("delete", delete_on)):
            ev = Event()
            ev.add("uid", f"{share.id}-{what}@oslomig")
            ev.add("dtstamp", stamp)
            ev.add("dtstart", day)
            ev.add("dtend", day + dt.timedelta(days=1))
            who = f"{share.id} ({share.department or share.agency or ''})"
            if what == "read-only":
                summary = f"{who} goes read-only"
            elif safe:
                summary = f"{who} is deleted (verified {verified_at})"
            else:
                summary = f"{who}: deletion BLOCKED ({why})"
            ev.add("summary", summary)
            ev.add(
                "description",
                f"{share.source} -> {share.target.site}/{library_url_name(share.target)}/{share.target.folder}",
            )
            cal.add_component(ev)
    with atomic_open(out / "timeline.csv", newline="") as handle:
        w = csvout.writer(handle)
        w.writerow(TIMELINE_COLUMNS)
        w.writerows(rows)
    write_text(out / "timeline.ics", cal.to_ical().decode("utf-8"))
