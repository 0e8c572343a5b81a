"""Two plans that never collide (SPEC §3.2 `coordinate_with`): a co-migration group in the scope of two plans is
scheduled by exactly one of them.

The rule is the same seen from either plan, so the two never disagree: a group announced or migrated in one plan
belongs to that plan; otherwise to the plan whose period starts first (then the file name that sorts first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oslomig.errors import OslomigError
from oslomig.grouping import Group, GroupingResult, in_scope
from oslomig.loading import Inventory
from oslomig.models import DatabasePlan


@dataclass
class OtherPlan:
    path: Path
    plan: DatabasePlan


def load_others(plan: DatabasePlan, plan_path: Path) -> list[OtherPlan]:
    """The plans named by `coordinate_with`, relative to this plan's file; a broken one is a sentence, exit 2."""
    from oslomig.loading import parse_model, read_document
    from oslomig.problems import Problems

    others = []
    for name in plan.coordinate_with:
        path = (plan_path.parent / name).resolve()
        if not path.is_file():
            raise OslomigError(f"{plan_path}: coordinate_with names {name}, which does not exist next to it")
        problems = Problems()
        doc = read_document(path, problems)
        other = parse_model(doc, DatabasePlan, problems) if doc else None
        if other is None or problems.errors:
            first = problems.errors[0] if problems.errors else None
            where = f"{first.file}:{first.line}:{first.column}: {first.message}" if first else str(path)
            raise OslomigError(f"coordinate_with {name}: the plan does not load ({where}); run `oslomig validate`")
        others.append(OtherPlan(path, other))
    return others


def _owner(group: Group, me: tuple[DatabasePlan, Path], other: OtherPlan) -> str:
    """'me' or 'other': which of two plans whose scopes both hold `group` schedules it."""
    dbs = set(group.databases)
    plan, path = me
    if dbs & ({a.database for a in other.plan.announced} | set(other.plan.migrated)):
        return "other"
    if dbs & ({a.database for a in plan.announced} | set(plan.migrated)):
        return "me"
    mine = (plan.period.start, path.resolve().name)
    theirs = (other.plan.period.start, other.path.name)
    return "other" if theirs < mine else "me"


def split(
    plan: DatabasePlan, plan_path: Path, inv: Inventory, grouping: GroupingResult
) -> tuple[GroupingResult, list[dict]]:
    """The groups this plan schedules, and those it leaves to a coordinating plan (`handled_by`)."""
    others = load_others(plan, plan_path)
    if not others:
        return grouping, []
    scopes = [in_scope(o.plan, inv) | (set(o.plan.migrated) & set(inv.databases)) for o in others]
    keep, handled = [], []
    for g in grouping.groups:
        taker = next(
            (
                o
                for o, scope in zip(others, scopes)
                if scope.intersection(g.databases) and _owner(g, (plan, plan_path), o) == "other"
            ),
            None,
        )
        if taker is None:
            keep.append(g)
        else:
            handled.append({"group": g.id, "databases": g.databases, "plan": taker.plan.name, "file": taker.path.name})
    return GroupingResult(grouping.plan, keep, grouping.warnings), handled
