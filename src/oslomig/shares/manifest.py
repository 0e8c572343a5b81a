"""Write the SharePoint move manifest and its companions (SPEC §5) from a scan database."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from oslomig import csvout
from oslomig.atomic import atomic_open, write_text
from oslomig.models import SharePlan, ShareSpec, Target
from oslomig.shares.rules import ShareRules, library_url_name, literal_prefix, show_path
from oslomig.shares.store import ScanStore

MANIFEST_COLUMNS = [
    "share",
    "source_path",
    "size_bytes",
    "modified",
    "action",
    "reasons",
    "target_site",
    "target_library",
    "target_path",
]


@dataclass
class Totals:
    files: dict = field(default_factory=lambda: defaultdict(int))  # (share, department, action, reason) -> n
    bytes: dict = field(default_factory=lambda: defaultdict(int))
    by_action: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # (share, action) -> [files, bytes]


def _iso(ts: float, tz) -> str:
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds") if ts else ""


def write_manifest(
    plan: SharePlan, store: ScanStore, out: Path, today: dt.date, shares: list[ShareSpec], progress=None
) -> Totals:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(plan.timezone)
    totals = Totals()
    out.mkdir(parents=True, exist_ok=True)
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
            seen_hashes: set[str] = set()
            review_rows = []
            for path, kind, size, mtime, _owner, full_hash in store.iter_files(scan_id):
                duplicate = False
                if full_hash is not None:
                    duplicate = full_hash in seen_hashes  # path order: the first copy migrates
                    seen_hashes.add(full_hash)
                c = rules.classify(path, kind, size, mtime, duplicate, path in unreadable)
                row = [
                    share.id,
                    show_path(path),
                    size,
                    _iso(mtime, tz),
                    c.action,
                    ";".join(c.reasons),
                    c.target.site,
                    c.target.library,
                    c.target_path,
                ]
                writer.writerow(row)
                if c.action == "review":
                    review_rows.append(row)
                dept = share.department or ""
                for reason in c.reasons or ["-"]:
                    totals.files[(share.id, dept, c.action, reason)] += 1
                    totals.bytes[(share.id, dept, c.action, reason)] += size
                t = totals.by_action[(share.id, c.action)]
                t[0] += 1
                t[1] += size
                if progress:
                    progress.advance()
            with atomic_open(out / f"review-{share.id}.csv", newline="") as review:
                w = csvout.writer(review)
                w.writerow(MANIFEST_COLUMNS)
                w.writerows(review_rows)
    _write_summary(out, totals)
    _write_spmt(out, shares)
    _write_timeline(out, plan, shares, today)
    return totals


def _write_summary(out: Path, totals: Totals) -> None:
    with atomic_open(out / "summary.csv", newline="") as handle:
        w = csvout.writer(handle)
        w.writerow(["share", "department", "action", "reason", "files", "bytes"])
        for key in sorted(totals.files):
            w.writerow([*key, totals.files[key], totals.bytes[key]])


def spmt_tasks(shares: list[ShareSpec]) -> list[dict]:
    """One task per share, and one per route with its own target (SharePoint Migration Tool bulk format)."""
    tasks = []
    for share in shares:
        source = (share.spmt_source or share.source).rstrip("/\\")
        sep = "\\" if source.startswith("\\\\") else "/"

        def task(src: str, target: Target) -> dict:
            return {
                "SourcePath": src,
                "TargetPath": target.site,
                "TargetList": target.library,
                "TargetListRelativePath": target.folder.strip("/"),
            }

        tasks.append(task(source, share.target))
        for route in share.routes:
            if route.target is not None:
                prefix = literal_prefix(route.match)
                tasks.append(task(f"{source}{sep}{prefix.replace('/', sep)}" if prefix else source, route.target))
    return tasks


def _write_spmt(out: Path, shares: list[ShareSpec]) -> None:
    tasks = spmt_tasks(shares)
    with atomic_open(out / "spmt.csv", newline="") as handle:
        w = csvout.writer(handle)  # SPMT is a Windows tool; no header row
        for t in tasks:
            w.writerow([t["SourcePath"], "", "", t["TargetPath"], t["TargetList"], t["TargetListRelativePath"]])
    write_text(out / "spmt.json", json.dumps({"Tasks": tasks}, indent=2, ensure_ascii=False) + "\n")


def _write_timeline(out: Path, plan: SharePlan, shares: list[ShareSpec], today: dt.date) -> None:
    from icalendar import Calendar, Event

    rows = []
    cal = Calendar()
    cal.add("prodid", "-//oslomig//share timeline//EN")
    cal.add("version", "2.0")
    stamp = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    for share in shares:
        if share.read_only_from is None:
            rows.append([share.id, share.department or "", "", "", share.delete_after_days])
            continue
        delete_on = share.read_only_from + dt.timedelta(days=share.delete_after_days)
        rows.append(
            [
                share.id,
                share.department or "",
                share.read_only_from.isoformat(),
                delete_on.isoformat(),
                share.delete_after_days,
            ]
        )
        for what, day in (("read-only", share.read_only_from), ("delete", delete_on)):
            ev = Event()
            ev.add("uid", f"{share.id}-{what}@oslomig")
            ev.add("dtstamp", stamp)
            ev.add("dtstart", day)
            ev.add("dtend", day + dt.timedelta(days=1))
            verb = "goes read-only" if what == "read-only" else "is deleted"
            ev.add("summary", f"{share.id} ({share.department or share.agency or ''}) {verb}")
            ev.add(
                "description",
                f"{share.source} -> {share.target.site}/{library_url_name(share.target)}/{share.target.folder}",
            )
            cal.add_component(ev)
    with atomic_open(out / "timeline.csv", newline="") as handle:
        w = csvout.writer(handle)
        w.writerow(["share", "department", "read_only_from", "delete_on", "delete_after_days"])
        w.writerows(rows)
    write_text(out / "timeline.ics", cal.to_ical().decode("utf-8"))
