"""Every number of the weekly status page (SPEC §7), gathered once into one plain dict: `status.json` is this dict,
and the page and the picture are drawn from it, so the three never disagree."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig.errors import OslomigError

# how far a database has come, least advanced first: a system or host is as far as its least advanced database
STATES = ("unscheduled", "scheduled", "announced", "migrated")
MEASURES = ("systems", "databases", "hosts", "gb")
NEXT_DAYS = 14


@dataclass
class PlanState:
    """One plan as `status` sees it: the checked plan with its inventory and today's schedule."""

    ctx: object  # commands.plancontext.PlanContext
    sched: object  # planning.scheduling.Schedule
    notices: list  # planning.notices.Notice


def _empty() -> dict:
    return {s: 0 for s in STATES} | {"total": 0}


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def database_states(plans: list[PlanState]) -> dict[str, tuple[str, PlanState]]:
    """Each database in scope of some plan: its state and the plan that moves it (a group another plan handles is
    counted there, never twice)."""
    states: dict[str, tuple[str, PlanState]] = {}
    for p in plans:
        for d in p.ctx.plan.migrated:
            if d in p.ctx.inventory.databases:
                states[d] = ("migrated", p)
        for a in p.sched.assignments:
            for d in a.group.databases:
                states.setdefault(d, ("announced" if a.announced else "scheduled", p))
        for u in p.sched.unscheduled:
            for d in u.group.databases:
                states.setdefault(d, ("unscheduled", p))
    return states


def _hosts_of(inv, database_id: str) -> list[str]:
    inst = inv.instances.get(inv.databases[database_id].instance)
    if inst is None:
        return []
    return list(inst.hosts or ([inst.host] if inst.host else []))


def progress(plans: list[PlanState], states: dict[str, tuple[str, PlanState]]) -> tuple[list[dict], dict]:
    """Per agency and environment, and in total: systems, databases, hosts and GB by state (`states`: from
    database_states). A system or host counts once per row, in the state of its least advanced database there."""
    rows: dict[tuple[str, str], dict] = defaultdict(lambda: {m: _empty() for m in MEASURES})
    worst: dict[tuple, int] = {}  # (agency, env, measure, id) -> least state index
    total = {m: _empty() for m in MEASURES}
    for d, (state, p) in sorted(states.items()):
        inv = p.ctx.inventory
        system = inv.owner.get(d, "")
        agency = (inv.systems[system].agency if system in inv.systems else None) or ""
        env = inv.databases[d].environment or "other"
        rank = STATES.index(state)
        gb = inv.databases[d].size_gb
        for key, counts in (((agency, env), rows[(agency, env)]), ((None, None), total)):
            counts["databases"][state] += 1
            counts["databases"]["total"] += 1
            counts["gb"][state] += gb
            counts["gb"]["total"] += gb
            for measure, ids in (("systems", [system] if system else []), ("hosts", _hosts_of(inv, d))):
                for ident in ids:
                    k = (*key, measure, ident)
                    worst[k] = min(worst.get(k, rank), rank)
    for (agency, env, measure, _ident), rank in worst.items():
        counts = total if agency is None else rows[(agency, env)]
        counts[measure][STATES[rank]] += 1
        counts[measure]["total"] += 1
    names = {}
    for p in plans:
        for a in p.ctx.inventory.agencies.values():
            names[a.id] = a.name or a.id
    out = []
    for (agency, env), counts in sorted(rows.items()):
        out.append({"agency": agency, "agency_name": names.get(agency, agency), "environment": env, **_rounded(counts)})
    return out, _rounded(total)


def _rounded(counts: dict) -> dict:
    return {m: ({k: round(v, 1) for k, v in c.items()} if m == "gb" else dict(c)) for m, c in counts.items()}


def burnup(plans: list[PlanState], today: dt.date, states: dict[str, tuple[str, PlanState]]) -> dict:
    """Databases moved by the end of each week: planned (each database's first window: the one it failed or was
    postponed in, else its window now), actual (its `done` outcome; migrated without a record counts from the
    start), and forecast (actual so far, then today's schedule)."""
    planned: dict[str, dt.date] = {}
    actual: dict[str, dt.date] = {}
    forecast: dict[str, dt.date] = {}
    first_day = min(p.ctx.plan.period.start for p in plans)
    last_day = max(p.ctx.plan.period.end for p in plans)
    for p in plans:
        plan = p.ctx.plan
        for o in sorted(plan.outcomes, key=lambda o: o.start):
            for d in o.databases:
                if states.get(d, ("", p))[1] is not p:
                    continue
                planned.setdefault(d, o.start.date())
                if o.status == "done":
                    actual[d] = (o.at or o.start).date()
        tz = ZoneInfo(plan.timezone)
        for a in p.sched.assignments:
            day = a.occurrence.start.astimezone(tz).date()
            for d in a.group.databases:
                if states.get(d, ("", p))[1] is p:
                    planned.setdefault(d, day)
                    forecast[d] = day
        for d in plan.migrated:
            if states.get(d, ("", None))[1] is p:
                actual.setdefault(d, first_day)
                planned.setdefault(d, actual[d])
    for d, day in actual.items():
        forecast[d] = day
    last_day = max([last_day, *planned.values(), *forecast.values()])
    weeks = []
    week = _week_start(first_day)
    while week <= last_day:
        weeks.append(week)
        week += dt.timedelta(days=7)

    def cumulative(days: dict[str, dt.date], until: dt.date | None = None) -> list[int | None]:
        counts = defaultdict(int)
        for day in days.values():
            counts[_week_start(day)] += 1
        out: list[int | None] = []
        running = sum(n for w, n in counts.items() if w < weeks[0])
        for w in weeks:
            running += counts.get(w, 0)
            out.append(None if until is not None and w > until else running)
        return out

    return {
        "weeks": [w.isoformat() for w in weeks],
        "planned": cumulative(planned),
        "actual": cumulative(actual, until=_week_start(today)),
        "forecast": cumulative(forecast),
        "total": len(states),
    }


def _owners(inv, systems: list[str]) -> list[dict]:
    out = []
    for sid in systems:
        system = inv.systems.get(sid)
        contact = system.contacts[0] if system is not None and system.contacts else None
        out.append(
            {
                "system": sid,
                "name": (system.name if system is not None else None) or sid,
                "owner": contact.name if contact else "",
                "email": contact.email if contact else "",
            }
        )
    return out


def next_windows(plans: list[PlanState], today: dt.date) -> list[dict]:
    """The windows that start today or in the next two weeks, with the owners to reach."""
    rows = []
    for p in plans:
        tz = ZoneInfo(p.ctx.plan.timezone)
        for a in p.sched.assignments:
            start, end = a.occurrence.start.astimezone(tz), a.occurrence.end.astimezone(tz)
            if not today <= start.date() < today + dt.timedelta(days=NEXT_DAYS):
                continue
            g = a.group
            rows.append(
                {
                    "start": start.strftime("%Y-%m-%d %H:%M"),
                    "end": end.strftime("%Y-%m-%d %H:%M"),
                    "window": a.occurrence.window,
                    "group": g.id,
                    "plan": p.ctx.plan.name,
                    "announced": a.announced,
                    "databases": len(g.databases),
                    "gb": round(g.size_gb, 1),
                    "hours": round(g.estimated_hours, 1),
                    "owners": _owners(p.ctx.inventory, g.systems),
                }
            )
    return sorted(rows, key=lambda r: (r["start"], r["group"]))


def to_publish(plans: list[PlanState], today: dt.date) -> list[dict]:
    """The customer-portal task list: notices of windows not yet announced whose publish-by day falls in this week
    (Monday to Sunday) or has passed."""
    end_of_week = _week_start(today) + dt.timedelta(days=6)
    rows = []
    for p in plans:
        announced = {a.group.id for a in p.sched.assignments if a.announced}
        for n in p.notices:
            if n.group in announced or n.publish_by > end_of_week:
                continue
            rows.append(
                {
                    "notice_id": n.id,
                    "publish_by": n.publish_by.isoformat(),
                    "overdue": n.publish_by < today,
                    "start": n.start.strftime("%Y-%m-%d %H:%M"),
                    "group": n.group,
                    "plan": p.ctx.plan.name,
                    "system": n.system,
                    "system_name": n.system_name,
                    "environment": n.environment,
                    "contact": n.contact_name,
                    "email": n.contact_email,
                }
            )
    return sorted(rows, key=lambda r: (r["publish_by"], r["start"], r["notice_id"]))


def failures(plans: list[PlanState]) -> list[dict]:
    """Failed and postponed windows, newest first, with the window each group has now."""
    rows = []
    for p in plans:
        tz = ZoneInfo(p.ctx.plan.timezone)
        now_at = {d: a for a in p.sched.assignments for d in a.group.databases}
        inv = p.ctx.inventory
        for o in p.ctx.plan.outcomes:
            if o.status == "done":
                continue
            again = next((now_at[d] for d in o.databases if d in now_at), None)
            systems = sorted({inv.owner[d] for d in o.databases if d in inv.owner})
            rows.append(
                {
                    "status": o.status,
                    "start": o.start.strftime("%Y-%m-%d %H:%M"),
                    "plan": p.ctx.plan.name,
                    "databases": len(o.databases),
                    "first_database": o.databases[0],
                    "systems": systems,
                    "note": o.note or "",
                    "new_start": again.occurrence.start.astimezone(tz).strftime("%Y-%m-%d %H:%M") if again else "",
                    "new_group": again.group.id if again else "",
                }
            )
    return sorted(rows, key=lambda r: (r["start"], r["first_database"]), reverse=True)


def unscheduled(plans: list[PlanState]) -> list[dict]:
    rows = []
    for p in plans:
        for u in p.sched.unscheduled:
            g = u.group
            rows.append(
                {
                    "group": g.id,
                    "plan": p.ctx.plan.name,
                    "databases": len(g.databases),
                    "gb": round(g.size_gb, 1),
                    "hours": round(g.estimated_hours, 1),
                    "systems": list(g.systems),
                    "reasons": [str(r) for r in u.reasons],
                }
            )
    return sorted(rows, key=lambda r: (r["plan"], r["group"]))


def plan_summaries(plans: list[PlanState]) -> list[dict]:
    out = []
    for p in plans:
        s = p.sched
        out.append(
            {
                "name": p.ctx.plan.name,
                "file": p.ctx.path.name,
                "period": [p.ctx.plan.period.start.isoformat(), p.ctx.plan.period.end.isoformat()],
                "groups": len(s.assignments) + len(s.unscheduled),
                "announced": sum(1 for a in s.assignments if a.announced),
                "scheduled": sum(1 for a in s.assignments if not a.announced),
                "unscheduled": len(s.unscheduled),
                "migrated_databases": len(p.ctx.plan.migrated),
                "handled_by_other_plan": len(s.handled_by),
                "finish": s.finish.astimezone(ZoneInfo(p.ctx.plan.timezone)).strftime("%Y-%m-%d") if s.finish else "",
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------- shares


def _read_csv(path: Path) -> list[dict]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        raise OslomigError(
            f"{path} is missing: give --manifest the directory `oslomig share manifest --out` wrote"
        ) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise OslomigError(f"{path}: not a file `oslomig share manifest` wrote ({exc})") from None


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def shares(plan, manifest_dir: Path, scans: dict[str, str]) -> dict:
    """Files and bytes by action (counted from manifest.csv, one row a file), open review rows per contact
    (summary.csv), the read-only and deletion days and the deletion gate of each share (timeline.csv): the
    manifest directory is the record of the move."""
    from oslomig.shares.manifestcsv import MANIFEST_COLUMNS, read_rows

    timeline = {r["share"]: r for r in _read_csv(manifest_dir / "timeline.csv")}
    summary = _read_csv(manifest_dir / "summary.csv")
    specs = {s.id: s for s in plan.shares}
    actions = ("migrate", "review", "skip")
    per: dict[str, dict] = {}
    by_action = {a: {"files": 0, "bytes": 0} for a in actions}
    size_at, action_at = MANIFEST_COLUMNS.index("size_bytes"), MANIFEST_COLUMNS.index("action")
    for _line, row in read_rows(manifest_dir / "manifest.csv", set(specs)):
        entry = per.setdefault(row[0], {a: {"files": 0, "bytes": 0} for a in actions} | {"review_open": 0})
        action, size = row[action_at], int(row[size_at] or 0)
        if action in by_action:
            for counts in (entry[action], by_action[action]):
                counts["files"] += 1
                counts["bytes"] += size
    contacts: dict[tuple[str, str], int] = defaultdict(int)
    for r in summary:
        sid = r.get("share", "")
        if sid in per and r.get("action") == "review" and r.get("reason") == "OPEN":
            per[sid]["review_open"] += _int(r.get("files"))
            contacts[(r.get("contact") or "", sid)] += _int(r.get("files"))
    rows = []
    for sid in sorted(specs):  # every share of the plan: one not in the manifest yet shows its dates, and why not
        s, t = specs[sid], timeline.get(sid, {})
        if sid not in per:
            per[sid] = {a: {"files": 0, "bytes": 0} for a in actions} | {"review_open": 0}
            t = t or {"blocked_because": "not in the manifest: not scanned yet, or scanned after it was written"}
        rows.append(
            {
                "share": sid,
                "department": s.department or "",
                "agency": s.agency or "",
                "contact": s.contact.name if s.contact else "",
                "email": s.contact.email if s.contact else "",
                **per[sid],
                # the dates from the plan, as `share manifest` writes them into timeline.csv
                "read_only_from": s.read_only_from.isoformat() if s.read_only_from else "",
                "delete_on": (s.read_only_from + dt.timedelta(days=s.delete_after_days)).isoformat()
                if s.read_only_from
                else "",
                "verified_at": t.get("verified_at", ""),
                "safe_to_delete": t.get("safe_to_delete") == "true",
                "blocked_because": t.get("blocked_because", "") or ("" if t else "not in timeline.csv"),
                "scanned_at": scans.get(sid, ""),
            }
        )
    review = [{"email": email, "share": sid, "open": n} for (email, sid), n in sorted(contacts.items()) if n]
    return {
        "manifest": str(manifest_dir),
        "by_action": by_action,
        "shares": rows,
        "review_by_contact": review,
        "verified": sum(1 for r in rows if r["verified_at"]),
        "safe_to_delete": sum(1 for r in rows if r["safe_to_delete"]),
    }


def gather(plans: list[PlanState], today: dt.date, lang: str, share_status: dict | None) -> dict:
    states = database_states(plans)
    rows, total = progress(plans, states)
    iso = today.isocalendar()
    return {
        "today": today.isoformat(),
        "week": f"{iso.year}-W{iso.week:02d}",
        "lang": lang,
        "plans": plan_summaries(plans),
        "total": total,
        "progress": rows,
        "burnup": burnup(plans, today, states),
        "next_windows": next_windows(plans, today),
        "to_publish": to_publish(plans, today),
        "failed": failures(plans),
        "unscheduled": unscheduled(plans),
        "shares": share_status,
    }
