"""Command core for `schedule`: one window per group (or the reasons it has none), in the format asked for
(table, json, csv, ics); `--explain` and `--previous`."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig import csvout
from oslomig.collector import without_cycle_collector
from oslomig.commands.plancontext import (
    PlanContext,
    compute,
    default_today,
    emit,
    load_plan_context,
    read_previous,
    warn_all,
)
from oslomig.console import Env
from oslomig.errors import OslomigError


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_schedule(
    plan_path: Path,
    inventory: Path | None,
    today: dt.date | None,
    fmt: str,
    out: Path | None,
    explain: str | None,
    time_limit: float,
    env: Env,
    previous_path: Path | None = None,
) -> int:
    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    today = default_today(ctx.plan, today)
    previous = read_previous(previous_path) if previous_path is not None else None
    sched = compute(ctx, today, time_limit, explain, previous)
    if explain:
        return _explain(sched, explain, fmt, out, env)
    if fmt == "table" and out is not None:
        raise OslomigError("--out takes a machine format: use --format json, csv or ics")
    payload = FORMATS[fmt](ctx, sched, env)
    if payload is not None:
        emit(payload, out, env)
    warn_all(sched.warnings, env)
    for h in sched.handled_by:
        env.info(f"[handled_by] {h['group']} ({len(h['databases'])} databases) is left to {h['plan']} ({h['file']})")
    if sched.moved is not None:
        for m in sched.moved:
            env.info(f"[moved] {m['group']}: {m['from']} -> {m['to'] or 'unscheduled'}: {m['cause']}")
        env.info(f"re-plan against {previous_path}: {len(sched.moved)} previously scheduled group(s) moved")
    past = today + dt.timedelta(days=ctx.plan.notice_days) > ctx.plan.period.end
    if past and sched.unscheduled:
        env.warn(
            f"[period-in-the-past] the plan's period ends {ctx.plan.period.end}, before today ({today}) plus "
            f"{ctx.plan.notice_days} days' notice: all {len(sched.unscheduled)} groups not announced are unscheduled "
            "for that reason; give --today YYYY-MM-DD to plan as of another day"
        )
    for u in [] if past else sched.unscheduled:
        env.warn(
            f"[unscheduled] {u.group.id} "
            f"({', '.join(u.group.databases[:3])}{' …' if len(u.group.databases) > 3 else ''}): "
            + "; ".join(map(str, u.reasons))
        )
    summary = sched.as_json()["summary"]
    finish = sched.finish.strftime("%Y-%m-%d") if sched.finish else "-"
    gap = (
        "proven optimal"
        if sched.proven_optimal
        else (f"gap to lower bound {summary['gap_hours']} h" if summary["gap_hours"] is not None else "no bound")
    )
    env.info(
        f"{summary['scheduled']} of {summary['groups']} groups scheduled, {summary['unscheduled']} unscheduled; "
        f"finish {finish} ({gap}, {sched.solver})"
    )
    return 1 if sched.unscheduled else 0


def _explain(sched, group: str, fmt: str, out: Path | None, env: Env) -> int:
    """`--explain G`: why G got its window (exit 0) or has none (exit 1), as text or JSON."""
    if group not in sched.explain:
        raise OslomigError(f"no group {group!r} in this plan (see `oslomig groups`)")
    placed = any(a.group.id == group for a in sched.assignments)
    if fmt == "json":
        payload = {"group": group, "scheduled": placed, "lines": sched.explain[group]}
        reasons = next(([str(r) for r in u.reasons] for u in sched.unscheduled if u.group.id == group), None)
        if reasons is not None:
            payload["reasons"] = reasons
        emit(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", out, env)
    else:
        emit("\n".join([group] + sched.explain[group]) + "\n", out, env)
    return 0 if placed else 1


CSV_COLUMNS = [
    "group",
    "window",
    "start",
    "end",
    "estimated_hours",
    "size_gb",
    "databases",
    "hosts",
    "systems",
    "agencies",
    "announced",
    "unscheduled_reasons",
]


def _schedule_json(ctx: PlanContext, sched, env: Env) -> str:
    return json.dumps(sched.as_json(), indent=2, ensure_ascii=False) + "\n"


def _schedule_csv(ctx: PlanContext, sched, env: Env) -> str:
    rows = [
        _schedule_row(
            a.group, a.occurrence.start.isoformat(), a.occurrence.end.isoformat(), a.announced, [], a.occurrence.window
        )
        for a in sched.assignments
    ] + [_schedule_row(u.group, "", "", False, [str(r) for r in u.reasons], "") for u in sched.unscheduled]
    return csvout.to_text(rows, CSV_COLUMNS)


def _schedule_ics(ctx: PlanContext, sched, env: Env) -> str:
    return schedule_ics(ctx, sched, sched.today).decode("utf-8")


def _schedule_row(group, start: str, end: str, announced: bool, reasons: list[str], window: str | None = None):
    """One `schedule -f csv` row: a placed group (its window and bounds) or an unscheduled one (its reasons)."""
    return [
        group.id,
        window or "",
        start,
        end,
        f"{group.estimated_hours:.3f}",
        f"{group.size_gb:.3f}",
        ";".join(group.databases),
        ";".join(group.hosts),
        ";".join(group.systems),
        ";".join(group.agencies),
        str(announced).lower(),
        "; ".join(reasons),
    ]


def _schedule_table(ctx: PlanContext, sched, env: Env) -> None:
    """The table on a terminal (no payload: rich prints it)."""
    from rich.table import Table

    from oslomig.console import Column, fitted_table

    tz = ZoneInfo(ctx.plan.timezone)
    columns = [
        Column("start", keep=True),
        Column("end", keep=True),
        Column("window", priority=2),
        Column("group", keep=True),
        Column("hours", "right", priority=4),
        Column("GB", "right", priority=1),
        Column("systems", priority=3),
        Column("announced", priority=5),
    ]
    rows = []
    months = defaultdict(lambda: [0, 0.0, 0.0])
    for a in sched.assignments:
        s, e = a.occurrence.start.astimezone(tz), a.occurrence.end.astimezone(tz)
        systems = ", ".join(a.group.systems[:3]) + (f" +{len(a.group.systems) - 3}" if len(a.group.systems) > 3 else "")
        rows.append(
            [
                f"{s:%a %Y-%m-%d %H:%M}",
                f"{e:%a %H:%M}",
                a.occurrence.window,
                a.group.id,
                f"{a.group.estimated_hours:.1f}",
                f"{a.group.size_gb:,.1f}",
                systems,
                "yes" if a.announced else "",
            ]
        )
        m = months[f"{s:%Y-%m}"]
        m[0] += 1
        m[1] += a.group.estimated_hours
        m[2] += a.group.size_gb
    console = env.table_console()
    table = fitted_table(f"Schedule: {sched.plan} (today {sched.today})", columns, rows, console.width)
    console.print(table)
    per_month = Table(title="Per month", title_justify="left")
    for name in ("month", "groups", "hours", "GB"):
        per_month.add_column(name, justify="left" if name == "month" else "right")
    for month in sorted(months):
        n, h, gb = months[month]
        per_month.add_row(month, str(n), f"{h:.1f}", f"{gb:,.1f}")
    console.print(per_month)


def schedule_ics(
    ctx: PlanContext, sched, today: dt.date, lang: str = "en", only=None, sequence: dict | None = None
) -> bytes:
    """One event per scheduled group. UIDs are stable (a re-import updates the event); SEQUENCE counts the times the
    group's window changed: from `sequence` (the previous calendar's, bumped on a move) or else the plan's
    recorded failures and postponements of its databases."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//oslomig//downtime windows//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{sched.plan}: downtime")
    stamp = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)  # deterministic DTSTAMP
    moves: dict[str, int] = defaultdict(int)
    for o in ctx.plan.outcomes:
        if o.status != "done":
            for d in o.databases:
                moves[d] += 1
    for a in sched.assignments:
        if only is not None and a.group.id not in only:
            continue
        ev = Event()
        ev.add("uid", f"{a.group.id}@oslomig")  # stable: a re-import updates the event
        seq = (sequence or {}).get(a.group.id)
        ev.add("sequence", seq if seq is not None else max((moves[d] for d in a.group.databases), default=0))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", a.occurrence.start.astimezone(dt.UTC))
        ev.add("dtend", a.occurrence.end.astimezone(dt.UTC))
        title = "Nedetid" if lang == "nb" else "Downtime"
        ev.add("summary", f"{title}: {', '.join(a.group.systems) or a.group.id} ({a.group.id})")
        ev.add(
            "description",
            "\n".join(
                [
                    f"{a.group.estimated_hours:.1f} h, {a.group.size_gb:,.1f} GB",
                    "",
                    *a.group.databases,
                    "",
                    *a.group.hosts,
                ]
            ),
        )
        ev.add("categories", ["oslomig", a.occurrence.window])
        cal.add_component(ev)
    return cal.to_ical()


# the formats of `schedule --format`, by name: machine formats return their payload (for stdout or --out), the
# table prints itself
FORMATS: dict[str, Callable[..., str | None]] = {
    "table": _schedule_table,
    "json": _schedule_json,
    "csv": _schedule_csv,
    "ics": _schedule_ics,
}
