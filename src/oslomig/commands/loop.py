"""Command cores for `announce` and `record` (SPEC §3.2): the plan file becomes the migration's record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig.collector import without_cycle_collector
from oslomig.commands.notices import write_notices
from oslomig.commands.plancontext import compute, default_today, load_plan_context
from oslomig.console import Env
from oslomig.errors import OslomigError


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_announce(
    plan_path: Path,
    inventory: Path | None,
    through: dt.date,
    today: dt.date | None,
    notices_dir: Path | None,
    lang: str,
    time_limit: float,
    env: Env,
) -> int:
    """Write every assignment starting on or before `through` into `announced:`; a second run adds nothing."""
    from oslomig.planning.planfile import PlanFile, local_minutes

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    today = default_today(ctx.plan, today)
    if through < today:
        raise OslomigError(f"--through {through} is before today ({today}): nothing can be announced for the past")
    sched = compute(ctx, today, time_limit)
    tz = ZoneInfo(ctx.plan.timezone)
    new = [a for a in sched.assignments if not a.announced and a.occurrence.start.astimezone(tz).date() <= through]
    if not new:
        env.info(f"nothing to announce through {through}: every window starting by then is announced already")
        return 0
    pf = PlanFile(plan_path)
    seq = pf.seq("announced", after=("blackouts", "windows"))
    listed = {str(e.get("database")) for e in seq if hasattr(e, "get")}
    added = 0
    for a in new:
        start = local_minutes(a.occurrence.start.astimezone(tz))
        for d in a.group.databases:
            if d not in listed:
                seq.append(pf.entry({"database": d, "start": start}, seq))
                added += 1
    pf.save()
    for a in new:
        o = a.occurrence
        env.out(
            f"announced {a.group.id}: {o.window} {o.start.astimezone(tz):%Y-%m-%d %H:%M}–{o.end.astimezone(tz):%H:%M} "
            f"({len(a.group.databases)} database(s); {', '.join(a.group.systems) or '-'})\n"
        )
    env.info(f"{len(new)} group(s), {added} database(s) added to `announced:` in {plan_path}")
    if notices_dir is not None:
        ctx = load_plan_context(plan_path, inventory, env)  # the plan as written: these groups are announced now
        if ctx is None:
            return 1
        sched = compute(ctx, today, time_limit)
        ids = {a.group.id for a in sched.assignments if a.announced} & {a.group.id for a in new}
        write_notices(ctx, sched, today, notices_dir, lang, env, only=ids)
    return 0


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_record(
    plan_path: Path,
    inventory: Path | None,
    groups: list[str],
    databases: list[str],
    status: str,
    at: dt.datetime | None,
    note: str | None,
    env: Env,
) -> int:
    """What happened in a window: `done` adds the group's databases to `migrated:`; `failed`/`postponed` take the
    group out of `announced:`. Each group (or the group of the databases given) is one entry of `outcomes:`.
    Everything is checked before the plan is written: one bad group records nothing."""
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.planfile import PlanFile

    if bool(groups) == bool(databases):
        raise OslomigError("give either --group G (repeatable) or --database ID (repeatable)")
    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    plan, inv = ctx.plan, ctx.inventory
    tz = ZoneInfo(plan.timezone)
    found = compute_groups(plan, inv).groups
    if groups:
        by_id = {g.id: g for g in found}
        unknown = [g for g in groups if g not in by_id]
        if unknown:
            raise OslomigError(
                f"no group {', '.join(map(repr, unknown))} still to move in {plan_path} (see `oslomig groups`)"
            )
        batches = [list(by_id[g].databases) for g in dict.fromkeys(groups)]
    else:
        batches = [_members_of(databases, plan, inv, found)]
    announced = {a.database: a.start for a in plan.announced}
    when = at or dt.datetime.now(tz).replace(tzinfo=None, second=0, microsecond=0)
    outcomes = []
    for members in batches:
        starts = sorted({announced[d] for d in members if d in announced})
        if not starts and status != "done":
            raise OslomigError(
                f"{', '.join(members[:3])}{' …' if len(members) > 3 else ''}: not announced, so there is no window to "
                f"record as {status}"
            )
        outcomes.append((members, starts[0] if starts else when))
    pf = PlanFile(plan_path)
    for members, start in outcomes:
        _record_one(pf, members, start, status, when, note)
    pf.save()
    verb = {
        "done": "migrated",
        "failed": "failed; it gets a new window",
        "postponed": "postponed; it gets a new window",
    }
    n = sum(len(m) for m, _ in outcomes)
    env.info(f"recorded {n} database(s) in {len(outcomes)} window(s) as {verb[status]} in {plan_path}")
    return 0


def _members_of(databases: list[str], plan, inv, groups) -> list[str]:
    """The whole group of the databases given (a window moves its group together)."""
    unknown = [d for d in databases if d not in inv.databases]
    if unknown:
        raise OslomigError(f"not in the inventory: {', '.join(unknown)}")
    done_already = [d for d in databases if d in set(plan.migrated)]
    if done_already:
        raise OslomigError(f"already migrated: {', '.join(done_already)}")
    of = {d: g for g in groups for d in g.databases}
    missing = [d for d in databases if d not in of]
    if missing:
        raise OslomigError(f"not in this plan's scope: {', '.join(missing)}")
    return sorted({m for d in databases for m in of[d].databases})


def _record_one(pf, members: list[str], start: dt.datetime, status: str, when: dt.datetime, note: str | None) -> None:
    from oslomig.planning.planfile import local_minutes

    if status == "done":
        migrated = pf.seq("migrated", after=("announced", "blackouts"))
        have = {str(x) for x in migrated}
        migrated.extend(d for d in members if d not in have)
    else:
        seq = pf.seq("announced")
        leaving = set(members)
        for i in reversed(range(len(seq))):
            if hasattr(seq[i], "get") and str(seq[i].get("database")) in leaving:
                del seq[i]
    outcome = {"databases": members, "start": local_minutes(start), "status": status, "at": local_minutes(when)}
    if note:
        outcome["note"] = note
    outcomes = pf.seq("outcomes", after=("migrated", "announced", "blackouts"))
    outcomes.append(pf.entry(outcome, outcomes, flow=False))
