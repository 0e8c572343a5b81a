"""Write the SharePoint move manifest and its companions (SPEC §5) from a scan database."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from oslomig import csvout
from oslomig.atomic import atomic_open, ensure_dir, write_text
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


BATCH = 50_000  # rows read, classified and written at a time: memory stays flat in the size of the share
NEEDS_QUOTES = re.compile(r'[,"\r\n]')


class _ShareWriter:
    """One share's rows of manifest.csv, a batch at a time, in path order.

    `ShareRules.classify_many` settles the plain rows (most rows: migrate, no reason, the share's target) over
    whole columns; they are placed, counted and written on a short path. The rows with a reason, a contact's
    decision, a target-name collision or a field that needs CSV quotes take the full path, as one by one."""

    def __init__(self, share, rules, iso_times, keeper, unreadable, by_row, totals, placers, counter):
        self.share, self.rules, self.iso_times = share, rules, iso_times
        self.keeper, self.unreadable, self.by_row, self.totals = keeper, unreadable, by_row, totals
        self.placers, self.counter = placers, counter
        self.dept = share.department or ""
        self.decided_here = {shown for sid, shown in by_row if sid == share.id}
        self.review_rows: list[list] = []
        self.fingerprint = hashlib.sha256()
        self.used: set[tuple[str, str]] = set()
        target = share.target
        self.library = (target.site, library_url_name(target))
        fixed = [share.id, target.site, target.library, target.folder]  # target paths hold the folder and the path
        self.all_quoted = any(NEEDS_QUOTES.search(f) for f in fixed)
        self.csv_buffer = io.StringIO()
        self.csv = csvout.writer(self.csv_buffer)

    def batch(self, batch: list[tuple]) -> str:
        """The manifest text of these rows; totals, review rows and the fingerprint updated."""
        paths, kinds, sizes, mtimes, hashes, attributes = (list(col) for col in zip(*batch, strict=True))
        keeper = self.keeper
        duplicates = {i for i, h in enumerate(hashes) if h is not None and keeper.get(h, paths[i]) < paths[i]}
        rels, targets, special = self.rules.classify_many(
            paths, kinds, sizes, mtimes, duplicates, self.unreadable, attributes
        )
        modified = self.iso_times(mtimes)
        share, sid = self.share, self.share.id
        self.used = set()
        if self.decided_here:
            for i, shown in enumerate(rels):
                if shown in self.decided_here:
                    self.used.add((sid, shown))
                    if i not in special:
                        special[i] = Classified("migrate", [], share.target, targets[i])
        quoted: set[int] = set(range(len(rels))) if self.all_quoted else set()
        joined = b"\0".join(paths)
        if b"," in joined or b'"' in joined or b"\r" in joined or b"\n" in joined:  # ASCII: never inside UTF-8
            quoted.update(i for i, t in enumerate(rels) if NEEDS_QUOTES.search(t))
        library, counter = self.library, self.counter
        placer = self.placers[library]
        place, files, folders, resolved = placer.place, placer.files, placer.folders, placer.resolved
        parents, folder_items = counter.parents, counter.folder_items
        head = f"{sid},"
        tail = f",migrate,,{share.target.site},{share.target.library},"
        digest_tail = f"\x1f{share.target.site}\x1f{share.target.library}\x1f"
        lines, digest = [], []
        run = 0  # where the plain rows whose fingerprint entries are still to make start in `lines`
        plain_files = plain_bytes = 0
        # the folder of the last plain row (rows come in path order, so mostly the same folder), its key among the
        # library's counts, and its plain rows not counted yet
        last_folder, last_key, uncounted = None, None, 0
        for i in range(len(rels)):
            c = special.get(i)
            if c is None and i not in quoted:
                # Placer.place and LibraryCounter.add inline for a file whose folder lands where it is named and
                # whose name is free: the common case, and the loop's cost
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
                        last_key = parents.get((library, folder)) or counter._folder(library, folder)
                        last_folder, uncounted = folder, 0
                    uncounted += 1
                    size = sizes[i]
                    lines.append(f"{head}{rels[i]},{size},{modified[i]}{tail}{target_path}\r\n")
                    plain_files += 1
                    plain_bytes += size
                    continue
            if run < len(lines):
                digest.append(self._plain_keys("".join(lines[run:]), head, tail, digest_tail))
            if c is None and i not in quoted:
                target_path, collided = place(target_path)
                if not collided:
                    self.counter.add(library, target_path)
                    c = Classified("migrate", [], share.target, target_path)
                    row = self._row(c, i, rels, sizes, modified, kinds, placed=True)
                    lines.append(self._line(row))
                    digest.append("\x1f".join(migrate_key(row)) + "\x1e")
                    run = len(lines)
                    continue
                c = Classified("migrate", ["TARGET_COLLISION"], share.target, target_path)
                c.action = "review"
                row = self._row(c, i, rels, sizes, modified, kinds, placed=True)
            else:
                c = c or Classified("migrate", [], share.target, targets[i])
                row = self._row(c, i, rels, sizes, modified, kinds)
            lines.append(self._line(row))
            run = len(lines)
            if row[4] == "review":
                self.review_rows.append(row)
            elif row[4] == "migrate":
                digest.append("\x1f".join(migrate_key(row)) + "\x1e")
        if uncounted:
            folder_items[last_key] += uncounted
        if run < len(lines):
            digest.append(self._plain_keys("".join(lines[run:]), head, tail, digest_tail))
        self.fingerprint.update("".join(digest).encode("utf-8", "surrogatepass"))
        totals, key = self.totals, (sid, self.dept, "migrate", "-")
        totals.files[key] += plain_files
        totals.bytes[key] += plain_bytes
        by_action = totals.by_action[(sid, "migrate")]
        by_action[0] += plain_files
        by_action[1] += plain_bytes
        counter.library_items[library] += plain_files
        counter.library_files[library] += plain_files
        return "".join(lines)

    @staticmethod
    def _plain_keys(text: str, head: str, tail: str, digest_tail: str) -> str:
        """The fingerprint entries (`migrate_key`: fields joined by US, rows ended by RS) of consecutive plain rows'
        manifest lines (`head`, shown path, size, modified, `tail`, target path, CRLF). No field of a plain row holds
        a comma, CR or LF (it would be quoted), so `tail` (",migrate,,site,library,") is found once a line, where it
        is, and the other commas are the separators."""
        body = text[len(head) : -2].replace(tail, digest_tail).replace("\r\n" + head, "\x1e")
        return body.replace(",", "\x1f") + "\x1e"

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

    def _row(self, c: Classified, i: int, rels, sizes, modified, kinds, placed: bool = False) -> list:
        """The full path for one row: a contact's decision, placement, the totals by every reason."""
        share, totals = self.share, self.totals
        shown, size, mod = rels[i], sizes[i], modified[i]
        decision = self.by_row.get((share.id, shown)) if self.decided_here else None
        decided = _apply_decision(c, decision, size, mod, shown, share.id, totals)
        if not placed and c.action != "skip" and kinds[i] in ("file", "offline"):
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
        for reason in c.reasons or ["-"]:
            totals.files[(share.id, self.dept, c.action, reason)] += 1
            totals.bytes[(share.id, self.dept, c.action, reason)] += size
        t = totals.by_action[(share.id, c.action)]
        t[0] += 1
        t[1] += size
        return row


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
    totals = Totals()
    collecting = gc.isenabled()
    gc.disable()  # a million rows make no cycles; the collector's passes over them cost a fifth of the run
    try:
        return _write_manifest(plan, store, out, today, shares, progress, decisions, plan_dir, tz, totals)
    finally:
        if collecting:
            gc.enable()


def _write_manifest(plan, store, out, today, shares, progress, decisions, plan_dir, tz, totals) -> Totals:
    from oslomig.shares.decisions import write_review_lists
    from oslomig.shares.placement import LibraryCounter, Placer

    by_row = decisions.by_row if decisions is not None else {}
    used: set[tuple[str, str]] = set()
    ensure_dir(out)
    placers: dict[tuple[str, str], Placer] = defaultdict(Placer)
    counter = LibraryCounter()
    with atomic_open(out / "manifest.csv", newline="") as handle:
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
            writing = _ShareWriter(share, rules, IsoTimes(tz), keeper, unreadable, by_row, totals, placers, counter)
            rows = store.iter_files(scan_id, owner=False)
            while batch := rows.fetchmany(BATCH):
                handle.write(writing.batch(batch))
                used.update(writing.used)
                if progress:
                    progress.advance(len(batch))
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
