"""Two plans that never collide (SPEC §3.2 `coordinate_with`): a co-migration group in the scope of two plans is
scheduled by exactly one of them.

The rule is the same seen from either plan, so the two never disagree: a group announced or migrated in one plan
belongs to that plan; where the plans group differently (one binds links), the plan whose group holds the other's
takes it, since a group moves whole; the same group goes to the plan whose period starts first (then the file name
that sorts first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oslomig.errors import OslomigError
from oslomig.loading import Inventory
from oslomig.models import DatabasePlan
from oslomig.planning.findings import Finding
from oslomig.planning.grouping import Group, GroupingResult


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


def _decide(group: Group, me: tuple[DatabasePlan, Path], other: OtherPlan, their_groups: list[set[str]]) -> str:
    """'me', 'other' or 'split': which of two plans schedules `group`. The plans may bind differently (one binds
    links): a group can only move whole, so the plan whose group holds the other's takes it."""
    dbs = set(group.databases)
    plan, path = me
    if dbs & ({a.database for a in other.plan.announced} | set(other.plan.migrated)):
        return "other"
    if dbs & ({a.database for a in plan.announced} | set(plan.migrated)):
        return "me"
    if len(their_groups) == 1 and dbs < their_groups[0]:
        return "other"  # theirs is larger and holds all of this one
    if all(g <= dbs for g in their_groups) and dbs not in their_groups:
        return "me"  # this one holds all of theirs
    if len(their_groups) == 1 and dbs == their_groups[0]:
        mine = (plan.period.start, path.resolve().name)
        theirs = (other.plan.period.start, other.path.name)
        return "other" if theirs < mine else "me"
    return "split"


def split(
    plan: DatabasePlan,
    plan_path: Path,
    inv: Inventory,
    grouping: GroupingResult,
    groupings: dict[Path, GroupingResult] | None = None,
) -> tuple[GroupingResult, list[dict]]:
    """The groups this plan schedules, and those it leaves to a coordinating plan (`handled_by`). `groupings`
    holds groups already computed on this inventory, by resolved plan path (`status` reads two plans at once)."""
    from oslomig.planning.grouping import compute_groups

    others = load_others(plan, plan_path)
    if not others:
        return grouping, []
    group_of: list[dict[str, set[str]]] = []
    for o in others:
        mapping: dict[str, set[str]] = {}
        theirs = groupings.get(o.path.resolve()) if groupings is not None else None
        if theirs is None:
            theirs = compute_groups(o.plan, inv)
            if groupings is not None:
                groupings[o.path.resolve()] = theirs
        for g in theirs.groups:
            members = set(g.databases)
            for d in members:
                mapping[d] = members
        group_of.append(mapping)
    keep, handled, warnings = [], [], list(grouping.warnings)
    for g in grouping.groups:
        taker = None
        for o, mapping in zip(others, group_of):
            theirs = {frozenset(mapping[d]) for d in g.databases if d in mapping}
            if not theirs:
                continue
            verdict = _decide(g, (plan, plan_path), o, [set(t) for t in theirs])
            if verdict == "other":
                taker = o
                break
            if verdict == "split":
                warnings.append(
                    Finding(
                        code="coordination-split",
                        subject=g.id,
                        message=f"{g.id}: {o.path.name} groups these databases differently (its bind rules "
                        "differ) and neither plan's group holds the other's; both may schedule some of them",
                    )
                )
        if taker is None:
            keep.append(g)
        else:
            handled.append({"group": g.id, "databases": g.databases, "plan": taker.plan.name, "file": taker.path.name})
    return GroupingResult(grouping.plan, keep, warnings), handled
