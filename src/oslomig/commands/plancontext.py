"""What the planning commands share: a checked plan with its inventory (PlanContext), today's schedule of it
(`compute`), a previous schedule read back (`--previous`, `verify`), and how payloads and warnings are emitted."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig import models
from oslomig.atomic import write_text
from oslomig.console import Env
from oslomig.errors import NothingInScope, OslomigError
from oslomig.loading import Inventory, plan_inventory_dir
from oslomig.planning.findings import Finding
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


def emit(payload: str, out: Path | None, env: Env) -> None:
    if out is not None:
        write_text(out, payload)
        env.info(f"wrote {out}")
    else:
        env.out(payload)


def warn_all(warnings: list[Finding], env: Env) -> None:
    for w in warnings:
        env.warn(f"[{w.code}] {w.message}")


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
                    Finding(
                        code="test-before-prod-across-plans",
                        subject=a.group.id,
                        message=f"{a.group.id}: prod of {system} is scheduled here for "
                        f"{a.occurrence.start:%Y-%m-%d}, but its non-prod databases move with {elsewhere[system]}; "
                        "check that they move first",
                    )
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
