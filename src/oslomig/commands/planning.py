"""Command cores for `groups`, `schedule` and `notices`: load, compute, render."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig import csvout, models
from oslomig.atomic import write_text
from oslomig.console import Env
from oslomig.errors import NothingInScope, OslomigError
from oslomig.loading import Inventory, plan_inventory_dir
from oslomig.problems import Problems, render_text
from oslomig.validation import check_plan, load_checked_inventory


@dataclass
class PlanContext:
    plan: models.DatabasePlan
    inventory: Inventory
    path: Path


def load_plan_context(
    plan_path: Path, inventory: Path | None, env: Env, inventories: dict[Path, Inventory] | None = None
) -> PlanContext | None:
    """The plan and its inventory, checked; problems go to stderr and None means "stop with exit 1". Plans that
    share an inventory directory read it once when the caller keeps `inventories` (a checked inventory per
    directory)."""
    from oslomig.commands.common import load_model

    if plan_path.is_file() and inventory is not None and not inventory.exists():
        raise OslomigError(f"no such inventory: {inventory}")
    problems = Problems()
    loaded = load_model(plan_path, models.DatabasePlan, "plan file", env, problems)
    if loaded is None:
        return None
    plan, doc = loaded
    inv_dir = plan_inventory_dir(plan_path, plan.inventory, inventory)
    if not inv_dir.exists():
        raise OslomigError(f"the plan's inventory {inv_dir} does not exist (give --inventory DIR)")
    inv = inventories.get(inv_dir) if inventories is not None else None
    if inv is None:
        inv = load_checked_inventory([inv_dir], problems)
        if inventories is not None and not problems.errors:
            inventories[inv_dir] = inv
    check_plan(plan, doc, inv, problems)
    if problems.errors:
        env.stderr.write(render_text(problems.errors, colour=env.colour_err))
        env.error(
            f"{len(problems.errors)} error(s) in the plan or its inventory; run `oslomig validate` for all of them"
        )
        return None
    return PlanContext(plan, inv, plan_path)


def default_today(plan: models.DatabasePlan, today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(ZoneInfo(plan.timezone)).date()


def _emit(payload: str, out: Path | None, env: Env) -> None:
    if out is not None:
        write_text(out, payload)
        env.info(f"wrote {out}")
    else:
        env.out(payload)


def _warn_all(warnings: list[dict], env: Env) -> None:
    for w in warnings:
        env.warn(f"[{w['code']}] {w['message']}")


# ------------------------------------------------------------------ groups


def run_groups(plan_path: Path, inventory: Path | None, fmt: str, env: Env) -> int:
    from oslomig.planning.grouping import compute_groups

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    result = compute_groups(ctx.plan, ctx.inventory)
    if fmt == "json":
        env.out(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        rows = [
            [
                g.id,
                ";".join(g.databases),
                ";".join(g.instances),
                ";".join(g.hosts),
                ";".join(g.systems),
                ";".join(g.agencies),
                ";".join(g.engines),
                ";".join(g.environments),
                f"{g.size_gb:.3f}",
                f"{g.estimated_hours:.3f}",
                ";".join(f"{b['rule']}={b['key']}" for b in g.bound_by),
            ]
            for g in result.groups
        ]
        env.out(
            csvout.to_text(
                rows,
                [
                    "group",
                    "databases",
                    "instances",
                    "hosts",
                    "systems",
                    "agencies",
                    "engines",
                    "environments",
                    "size_gb",
                    "estimated_hours",
                    "bound_by",
                ],
            )
        )
    elif fmt == "dot":
        env.out(groups_dot(result, ctx))
    else:
        _groups_table(result, env)
    _warn_all(result.warnings, env)
    dbs = sum(len(g.databases) for g in result.groups)
    env.info(f"{len(result.groups)} groups, {dbs} databases, {len(result.warnings)} warnings")
    return 0


def _groups_table(result, env: Env) -> None:
    from oslomig.console import Column, fitted_table

    columns = [
        Column("group", keep=True),
        Column("dbs", "right", priority=5),
        Column("hosts", priority=3),
        Column("systems", priority=4),
        Column("engines", priority=1),
        Column("env", priority=2),
        Column("GB", "right", priority=6),
        Column("hours", "right", priority=7),
        Column("bound by", priority=0),
    ]
    rows = []
    for g in result.groups:
        hosts = ", ".join(g.hosts[:3]) + (f" +{len(g.hosts) - 3}" if len(g.hosts) > 3 else "")
        systems = ", ".join(g.systems[:3]) + (f" +{len(g.systems) - 3}" if len(g.systems) > 3 else "")
        rules = sorted({b["rule"] for b in g.bound_by})
        rows.append(
            [
                g.id,
                str(len(g.databases)),
                hosts,
                systems,
                ",".join(g.engines),
                ",".join(g.environments),
                f"{g.size_gb:,.1f}",
                f"{g.estimated_hours:.1f}",
                ",".join(rules) or "alone",
            ]
        )
    console = env.table_console()
    console.print(fitted_table(f"Co-migration groups: {result.plan}", columns, rows, console.width))


def groups_dot(result, ctx: PlanContext) -> str:
    """Graphviz: one cluster per group, databases linked to the keys that tie them."""
    from oslomig.planning.grouping import member_ties

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"graph {q(result.plan)} {{", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for g in result.groups:
        lines.append(f"  subgraph {q('cluster_' + g.id)} {{")
        lines.append(f"    label={q(f'{g.id} ({g.estimated_hours:.1f} h)')};")
        for d in g.databases:
            lines.append(f"    {q(d)};")
        for b in g.bound_by:
            key = f"{b['rule']}:{b['key']}"
            lines.append(f"    {q(key)} [shape=ellipse, label={q(b['rule'] + chr(10) + b['key'])}];")
        lines.append("  }")
        for d in g.databases:
            for rule, key in member_ties(ctx.plan, ctx.inventory, g, d):
                lines.append(f"  {q(d)} -- {q(rule + ':' + key)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- schedule


def compute(
    ctx: PlanContext,
    today: dt.date,
    time_limit: float = 20.0,
    explain: str | None = None,
    previous: list[dict] | None = None,
    groupings: dict | None = None,
):
    """Today's schedule of a checked plan. `groupings` (resolved plan path -> groups) lets several plans on one
    inventory share the groups they compute of each other."""
    from oslomig.planning import coordination
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.scheduling import build_schedule

    grouping = groupings.get(ctx.path.resolve()) if groupings is not None else None
    if grouping is None:
        grouping = compute_groups(ctx.plan, ctx.inventory)
        if groupings is not None:
            groupings[ctx.path.resolve()] = grouping
    if not grouping.groups:
        raise NothingInScope("nothing is in scope: the plan's scope selects no database that still has to move")
    grouping, handled = coordination.split(ctx.plan, ctx.path, ctx.inventory, grouping, groupings)
    sched = build_schedule(
        ctx.plan, ctx.inventory, grouping, today, time_limit=time_limit, explain_group=explain, previous=previous
    )
    sched.handled_by = handled
    _warn_across_plans(ctx, sched)
    return sched


def _warn_across_plans(ctx: PlanContext, sched) -> None:
    """A system whose non-prod databases another plan moves and whose prod this plan moves: test-before-prod
    cannot be checked across two plans; say so for each such prod group."""
    inv = ctx.inventory
    elsewhere: dict[str, str] = {}
    for h in sched.handled_by:
        for d in h["databases"]:
            owner = inv.owner.get(d)
            if owner and (inv.databases[d].environment or "other") != "prod":
                elsewhere.setdefault(owner, h["plan"])
    for a in sched.assignments:
        for system in a.group.systems:
            prod_here = any(
                inv.owner.get(d) == system and inv.databases[d].environment == "prod" for d in a.group.databases
            )
            if prod_here and system in elsewhere:
                sched.warnings.append(
                    {
                        "code": "test-before-prod-across-plans",
                        "group": a.group.id,
                        "message": f"{a.group.id}: prod of {system} is scheduled here for "
                        f"{a.occurrence.start:%Y-%m-%d}, but its non-prod databases move with {elsewhere[system]}; "
                        "check that they move first",
                    }
                )


def read_previous(path: Path) -> list[dict]:
    """The assignments of an earlier `schedule --format json` (for --previous)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OslomigError(f"--previous {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise OslomigError(
            f"--previous {path}: not a schedule written by `oslomig schedule --format json` ({exc})"
        ) from None
    check_schedule_shape(data, path)
    return data["assignments"]


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
        if explain not in sched.explain:
            raise OslomigError(f"no group {explain!r} in this plan (see `oslomig groups`)")
        placed = any(a.group.id == explain for a in sched.assignments)
        if fmt == "json":
            payload = {"group": explain, "scheduled": placed, "lines": sched.explain[explain]}
            reasons = next((u.reasons for u in sched.unscheduled if u.group.id == explain), None)
            if reasons is not None:
                payload["reasons"] = reasons
            _emit(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", out, env)
        else:
            _emit("\n".join([explain] + sched.explain[explain]) + "\n", out, env)
        return 0 if placed else 1
    if fmt == "json":
        _emit(json.dumps(sched.as_json(), indent=2, ensure_ascii=False) + "\n", out, env)
    elif fmt == "csv":
        rows = [
            _schedule_row(
                a.group,
                a.occurrence.start.isoformat(),
                a.occurrence.end.isoformat(),
                a.announced,
                [],
                a.occurrence.window,
            )
            for a in sched.assignments
        ] + [_schedule_row(u.group, "", "", False, u.reasons, "") for u in sched.unscheduled]
        _emit(
            csvout.to_text(
                rows,
                [
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
                ],
            ),
            out,
            env,
        )
    elif fmt == "ics":
        _emit(schedule_ics(ctx, sched, today).decode("utf-8"), out, env)
    else:
        if out is not None:
            raise OslomigError("--out takes a machine format: use --format json, csv or ics")
        _schedule_table(ctx, sched, env)
    _warn_all(sched.warnings, env)
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
            f"({', '.join(u.group.databases[:3])}{' …' if len(u.group.databases) > 3 else ''}): " + "; ".join(u.reasons)
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


# ------------------------------------------------------------------ notices


def run_notices(
    plan_path: Path, inventory: Path | None, today: dt.date | None, out_dir: Path, lang: str, env: Env
) -> int:

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    today = default_today(ctx.plan, today)
    sched = compute(ctx, today)
    return write_notices(ctx, sched, today, out_dir, lang, env)


def write_notices(ctx: PlanContext, sched, today: dt.date, out_dir: Path, lang: str, env: Env, only=None) -> int:
    """Notices for every scheduled group (or only the groups in `only`), all-or-nothing."""
    from oslomig.atomic import ensure_dir, write_many
    from oslomig.planning.notices import build_notices, notices_csv

    notices = build_notices(ctx.plan, ctx.inventory, sched, lang)
    if only is not None:
        notices = [n for n in notices if n.group in only]
    ensure_dir(out_dir)
    index = _previous_index(out_dir / "notices.csv")
    previous = _previous_notice_files(index)
    sequence = _sequences(index, notices)
    for n in notices:
        n.sequence = sequence.get(n.group, 0)
    files: dict[Path, str | bytes] = {}
    with env.progress("writing notices", total=len(notices)) as bar:
        for n in notices:
            files[out_dir / n.filename] = n.text
            bar.advance()
    files[out_dir / "notices.ics"] = schedule_ics(ctx, sched, today, lang, only, sequence)
    # the index last: until it is replaced, the old one still describes a complete set
    files[out_dir / "notices.csv"] = notices_csv(notices)
    write_many(files)
    for stale in previous - {n.filename for n in notices}:
        old = out_dir / stale
        if old.is_file() and not old.is_symlink():  # only a notice file of ours, never what squats on its name
            old.unlink()
    late = [n for n in notices if n.publish_by < today]
    for n in late:
        env.warn(f"[late-notice] {n.id}: should have been published by {n.publish_by}")
    if only is None:
        for u in sched.unscheduled:
            env.warn(f"[unscheduled] {u.group.id}: no notice written; " + "; ".join(u.reasons))
    groups = len(only) if only is not None else len(sched.assignments)
    env.info(
        f"{len(notices)} notices for {groups} scheduled groups written to {out_dir} "
        f"(notices.csv, notices.ics, one .txt per notice)"
    )
    return 1 if sched.unscheduled and only is None else 0


def _previous_index(index: Path) -> list[dict]:
    """The rows of the notices.csv an earlier run left (none when there is none, or it is not ours)."""
    if not index.exists():
        return []
    with index.open(encoding="utf-8", newline="") as handle:
        try:
            return list(csv.DictReader(handle))
        except (csv.Error, UnicodeDecodeError):
            return []  # not our index: leave every file alone


def _sequences(rows: list[dict], notices) -> dict[str, int]:
    """Per group, the calendar SEQUENCE: the previous notices.csv's, plus one when the group's window moved."""
    before: dict[str, tuple[str, int]] = {}
    for row in rows:
        seq = row.get("sequence") or "0"
        before[row.get("group") or ""] = (row.get("start") or "", int(seq) if seq.isdigit() else 0)
    out = {}
    for n in notices:
        start, seq = before.get(n.group, (n.start.isoformat(), 0))
        out[n.group] = seq + (start != n.start.isoformat())
    return out


def _previous_notice_files(rows: list[dict]) -> set[str]:
    """The notice texts an earlier run wrote: only names that are ours (safe, .txt) are ever removed."""
    from oslomig.safenames import is_safe_component

    return {r["file"] for r in rows if (r.get("file") or "").endswith(".txt") and is_safe_component(r["file"])}


# ------------------------------------------------------------------- verify

_ASSIGNMENT_KEYS = {
    "group": str,
    "window": str,
    "start": str,
    "end": str,
    "estimated_hours": (int, float),
    "databases": list,
}


def check_schedule_shape(data, path: Path) -> None:
    """A schedule JSON as `schedule --format json` writes it; anything else is a plain error (exit 2), not a crash."""

    def bad(where: str, what: str) -> OslomigError:
        return OslomigError(f"{path}: {where}: {what} (expected the JSON of `oslomig schedule --format json`)")

    if not isinstance(data, dict) or not isinstance(data.get("assignments"), list):
        raise bad("top level", "no `assignments` list")
    if data.get("today") is not None:
        try:
            dt.date.fromisoformat(str(data["today"]))
        except ValueError:
            raise bad("today", f"{data['today']!r} is not a date") from None
    for i, a in enumerate(data["assignments"]):
        if not isinstance(a, dict):
            raise bad(f"assignments[{i}]", "not an object")
        for key, kind in _ASSIGNMENT_KEYS.items():
            if not isinstance(a.get(key), kind) or isinstance(a.get(key), bool):
                raise bad(f"assignments[{i}].{key}", "missing or of the wrong type")
        for key in ("start", "end"):
            try:
                value = dt.datetime.fromisoformat(a[key])
            except ValueError:
                raise bad(f"assignments[{i}].{key}", f"{a[key]!r} is not an ISO date-time") from None
            if value.tzinfo is None:
                raise bad(f"assignments[{i}].{key}", f"{a[key]!r} has no UTC offset")
        if not all(isinstance(d, str) for d in a["databases"]):
            raise bad(f"assignments[{i}].databases", "not a list of database ids")
    unscheduled = data.get("unscheduled", [])
    if not isinstance(unscheduled, list):
        raise bad("unscheduled", "not a list")
    for i, u in enumerate(unscheduled):
        if not isinstance(u, dict) or not isinstance(u.get("databases", []), list):
            raise bad(f"unscheduled[{i}]", "not an object with a `databases` list")


def run_verify(
    plan_path: Path, inventory: Path | None, schedule_path: Path, today: dt.date | None, env: Env, fmt: str = "text"
) -> int:
    """Check a schedule JSON (ours or hand-edited) against every hard constraint."""
    from oslomig.planning.verifier import verify_schedule

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    try:
        data = json.loads(schedule_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OslomigError(f"no such schedule file: {schedule_path}") from None
    except json.JSONDecodeError as exc:
        raise OslomigError(f"{schedule_path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise OslomigError(f"cannot read the schedule {schedule_path}: {exc}") from None
    check_schedule_shape(data, schedule_path)
    if today is None:
        today = dt.date.fromisoformat(data["today"]) if data.get("today") else default_today(ctx.plan, None)
    broken = verify_schedule(data, ctx.plan, ctx.inventory, today)
    if fmt == "json":
        payload = {"schedule": str(schedule_path), "violations": [b.as_json() for b in broken]}
        env.out(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "github":
        from oslomig.problems import one_line

        for b in broken:  # GitHub workflow commands: one annotation per broken constraint, on the schedule file
            env.out(f"::error file={schedule_path},title={b.code}::{one_line(str(b))}\n")
    else:
        for b in broken:
            env.out(f"{b} ({b.code})\n")
    env.info(f"{len(broken)} constraint violation(s) in {len(data.get('assignments', []))} assignments")
    return 1 if broken else 0
