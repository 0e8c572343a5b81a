"""Write the SharePoint move manifest and its companions (SPEC §5) from a scan database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from oslomig import csvout
from oslomig.atomic import atomic_open, ensure_dir, write_text
from oslomig.errors import OslomigError
from oslomig.models import SharePlan, ShareSpec
from oslomig.shares.manifestcsv import MANIFEST_COLUMNS, iso_time
from oslomig.shares.proof import deletion_gate, digest_update, load_record
from oslomig.shares.rules import ShareRules, library_url_name, show_path
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

    from oslomig.shares.decisions import write_review_lists
    from oslomig.shares.placement import LibraryCounter, Placer

    tz = ZoneInfo(plan.timezone)
    totals = Totals()
    by_row = decisions.by_row if decisions is not None else {}
    used: set[tuple[str, str]] = set()
    ensure_dir(out)
    placers: dict[tuple[str, str], Placer] = defaultdict(Placer)
    counter = LibraryCounter()
    with atomic_open(out / "manifest.csv", newline="") as handle:
        writer = csvout.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
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
            review_rows = []
            dept = share.department or ""
            fingerprint = hashlib.sha256()
            for path, kind, size, mtime, _owner, full_hash, attributes in store.iter_files(scan_id):
                # a copy is a duplicate only of an earlier copy that moves (the keeper)
                duplicate = full_hash is not None and keeper.get(full_hash, path) < path
                c = rules.classify(path, kind, size, mtime, duplicate, path in unreadable, attributes)
                shown, modified = show_path(path), iso_time(mtime, tz)
                key = (share.id, shown)
                decision = by_row.get(key)
                if decision is not None:
                    used.add(key)
                decided = _apply_decision(c, decision, size, modified, shown, share.id, totals)
                if c.action != "skip" and kind in ("file", "offline"):
                    library = (c.target.site, library_url_name(c.target))
                    c.target_path, collided = placers[library].place(c.target_path)
                    if collided and not decided:  # a contact's decision settles the row; it still gets the free name
                        c.reasons.append("TARGET_COLLISION")
                        if c.action == "migrate":
                            c.action = "review"
                    counter.add(library, c.target_path)
                row = [
                    share.id,
                    shown,
                    size,
                    modified,
                    c.action,
                    ";".join(c.reasons),
                    c.target.site,
                    c.target.library,
                    c.target_path,
                ]
                writer.writerow(row)
                if decided:
                    totals.decided[share.id] += 1
                if c.action == "review":
                    review_rows.append(row)
                elif c.action == "migrate":
                    digest_update(fingerprint, row)
                for reason in c.reasons or ["-"]:
                    totals.files[(share.id, dept, c.action, reason)] += 1
                    totals.bytes[(share.id, dept, c.action, reason)] += size
                t = totals.by_action[(share.id, c.action)]
                t[0] += 1
                t[1] += size
                if progress:
                    progress.advance()
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
