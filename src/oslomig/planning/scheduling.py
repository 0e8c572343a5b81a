"""Downtime-window scheduling (SPEC §3): every hard constraint, an exact solver, reasons for what cannot be placed.

Pipeline:
1. expand window occurrences inside the period (`timewindows`);
2. per group, filter occurrences by the constraints that concern one group
   alone (length, engines, blackouts, notice) and remember why each was ruled out;
3. greedy earliest-fit in precedence order gives a fast, valid start;
4. CP-SAT (deterministic time limit, one worker, so the answer is the same
   every run) maximises the number of groups placed, then minimises the
   finish, then the sum of end ranks; capacity and test-before-prod are its
   constraints;
5. a lower bound on the finish (precedence chains and cumulative capacity,
   both relaxations) is reported with the gap.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from oslomig.loading import Inventory
from oslomig.models import DatabasePlan
from oslomig.planning.findings import Finding
from oslomig.planning.grouping import Group, GroupingResult
from oslomig.planning.timewindows import Occurrence, blackout_days, local_span, matching_window, occurrences

# Above this many (group, occurrence) choices CP-SAT rarely improves on the greedy start
# within seconds; the greedy schedule and its lower bound are reported instead.
MAX_SOLVER_CHOICES = 60_000


@dataclass
class Assignment:
    group: Group
    occurrence: Occurrence
    announced: bool

    def as_json(self) -> dict:
        g = self.group
        return {
            "group": g.id,
            "window": self.occurrence.window,
            "start": self.occurrence.start.isoformat(),
            "end": self.occurrence.end.isoformat(),
            "estimated_hours": round(g.estimated_hours, 3),
            "size_gb": round(g.size_gb, 3),
            "databases": g.databases,
            "hosts": g.hosts,
            "systems": g.systems,
            "agencies": g.agencies,
            "announced": self.announced,
        }


@dataclass
class Unscheduled:
    group: Group
    reasons: list[Finding]

    def as_json(self) -> dict:
        return {
            "group": self.group.id,
            "databases": self.group.databases,
            "reasons": [r.message for r in self.reasons],
            "findings": [r.as_json() for r in self.reasons],
        }


@dataclass
class Schedule:
    plan: str
    today: dt.date
    assignments: list[Assignment]
    unscheduled: list[Unscheduled]
    warnings: list[Finding]
    finish: dt.datetime | None = None
    lower_bound: dt.datetime | None = None
    solver: str = "greedy"
    proven_optimal: bool = False
    explain: dict[str, list[str]] = field(default_factory=dict)
    moved: list[dict] | None = None  # with --previous: each previously scheduled group that moved, and why
    handled_by: list[dict] = field(default_factory=list)  # groups another coordinating plan takes (SPEC §3.2)

    def as_json(self) -> dict:
        gap = None
        if self.finish and self.lower_bound:
            gap = round(max(0.0, (self.finish - self.lower_bound).total_seconds() / 3600), 2)
        return {
            "plan": self.plan,
            "today": self.today.isoformat(),
            "assignments": [a.as_json() for a in self.assignments],
            "unscheduled": [u.as_json() for u in self.unscheduled],
            "warnings": [w.as_json() for w in self.warnings],
            **({"moved": self.moved} if self.moved is not None else {}),
            **({"handled_by": self.handled_by} if self.handled_by else {}),
            "summary": {
                "groups": len(self.assignments) + len(self.unscheduled),
                "scheduled": len(self.assignments),
                "unscheduled": len(self.unscheduled),
                "finish": self.finish.isoformat() if self.finish else None,
                "lower_bound": self.lower_bound.isoformat() if self.lower_bound else None,
                "gap_hours": gap,
                "solver": self.solver,
                "proven_optimal": self.proven_optimal,
                **({"moved": len(self.moved)} if self.moved is not None else {}),
            },
        }


def _minutes(hours: float) -> int:
    return int(math.ceil(round(hours * 60, 6)))


@dataclass
class _Ctx:
    plan: DatabasePlan
    inv: Inventory
    today: dt.date
    occs: list[Occurrence]
    tz: ZoneInfo
    blackout_sets: list[frozenset[dt.date]]


def applies(blackout, group: Group) -> bool:
    if not blackout.systems and not blackout.agencies:
        return True
    return bool(set(blackout.systems) & set(group.systems) or set(blackout.agencies) & set(group.agencies))


def constraint_applies(c, group: Group) -> bool:
    """An owner's constraint concerns a group touching one of its systems or agencies."""
    return bool(set(c.systems) & set(group.systems) or set(c.agencies) & set(group.agencies))


def constraint_rules_out(c, occ: Occurrence) -> str | None:
    """Why an owner's constraint rules one occurrence out (None: it allows it)."""
    if c.not_before is not None and occ.start.date() < c.not_before:
        return f"{c.label()}: not before {c.not_before}"
    if c.not_after is not None and occ.end.date() > c.not_after:
        return f"{c.label()}: done by {c.not_after}"
    if c.windows and occ.window not in c.windows:
        return f"{c.label()}: only window {', '.join(c.windows)}"
    return None


def _ruled_out(ctx: _Ctx, group: Group, occ: Occurrence, announced: bool = False) -> str | None:
    """Why one occurrence cannot take this group on its own (None: it can)."""
    if group.estimated_hours > occ.real_hours + 1e-9:
        return f"too short ({occ.real_hours:g} h) for {group.estimated_hours:.2f} h"
    if occ.engines and not set(group.engines) <= occ.engines:
        return f"engine {', '.join(sorted(set(group.engines) - occ.engines))} not allowed"
    if announced:
        return None
    for b, days in zip(ctx.plan.blackouts, ctx.blackout_sets):
        if applies(b, group) and days.intersection(occ.days):
            return f"blackout {b.name}"
    for c in ctx.plan.constraints:
        if constraint_applies(c, group):
            why = constraint_rules_out(c, occ)
            if why:
                return why
    earliest = ctx.today + dt.timedelta(days=ctx.plan.notice_days)
    if occ.start.date() < earliest:
        return f"before the notice date {earliest}"
    return None


class _Feasibility:
    """`_ruled_out` for every occurrence at once, as numpy masks (same rules, same order)."""

    def __init__(self, ctx: _Ctx):
        import numpy as np

        self.np = np
        self.ctx = ctx
        occs = ctx.occs
        self.real = np.array([o.real_hours for o in occs], dtype=float)
        self.engines = [o.engines for o in occs]
        earliest = ctx.today + dt.timedelta(days=ctx.plan.notice_days)
        self.after_notice = np.array([o.start.date() >= earliest for o in occs], dtype=bool)
        self.blacked = []
        for _b, days in zip(ctx.plan.blackouts, ctx.blackout_sets):
            self.blacked.append(np.array([bool(days.intersection(o.days)) for o in occs], dtype=bool))
        self.engine_masks: dict[frozenset, object] = {}
        self.constraint_masks = [
            np.array([constraint_rules_out(c, o) is None for o in occs], dtype=bool) for c in ctx.plan.constraints
        ]

    def options(self, group: Group) -> list[int]:
        np = self.np
        if not self.ctx.occs:
            return []
        mask = (self.real + 1e-9 >= group.estimated_hours) & self.after_notice
        engines = frozenset(group.engines)
        if engines not in self.engine_masks:
            self.engine_masks[engines] = np.array([not e or engines <= e for e in self.engines], dtype=bool)
        mask &= self.engine_masks[engines]
        for b, blacked in zip(self.ctx.plan.blackouts, self.blacked):
            if applies(b, group):
                mask &= ~blacked
        for c, allowed in zip(self.ctx.plan.constraints, self.constraint_masks):
            if constraint_applies(c, group):
                mask &= allowed
        return [self.ctx.occs[i].index for i in np.flatnonzero(mask).tolist()]


def _precedence(groups: list[Group], inv: Inventory, warnings: list[Finding]) -> list[tuple[int, int, str]]:
    """(before, after, system): group `after` holds prod of `system`, `before` holds its non-prod."""
    prod_of: dict[str, set[int]] = defaultdict(set)
    test_of: dict[str, set[int]] = defaultdict(set)
    for gi, g in enumerate(groups):
        for d in g.databases:
            owner = inv.owner.get(d)
            if owner is None:
                continue
            env = inv.databases[d].environment or "other"
            (prod_of if env == "prod" else test_of)[owner].add(gi)
    pairs = set()
    for system, prods in prod_of.items():
        for p in prods:
            for t in test_of.get(system, ()):
                if t != p:
                    pairs.add((t, p, system))
                elif not any(w.subject == groups[p].id and w.code == "test-and-prod-together" for w in warnings):
                    warnings.append(
                        Finding(
                            code="test-and-prod-together",
                            subject=groups[p].id,
                            message=f"{groups[p].id} holds both test and prod databases of {system}; "
                            "test-before-prod is not enforced inside it",
                        )
                    )
    return sorted(pairs)


@dataclass
class _Problem:
    """What the solving steps share: the groups, the occurrences (announced ones included), each group's options
    (occurrence indexes it can use alone), the announced placements, test-before-prod pairs with their gap,
    capacity (minutes, group counts, owners' limits per occurrence) and each group's minutes."""

    groups: list[Group]
    occs: list[Occurrence]
    options: list[list[int]]
    fixed: dict[int, Occurrence]
    prec: list[tuple[int, int, str]]
    gap: dt.timedelta
    cap: tuple
    dur: list[int]

    def unpack(self) -> tuple:
        return self.groups, self.occs, self.options, self.fixed, self.prec, self.gap, self.cap, self.dur


def build_schedule(
    plan: DatabasePlan,
    inv: Inventory,
    grouping: GroupingResult,
    today: dt.date,
    time_limit: float = 20.0,
    use_solver: bool = True,
    explain_group: str | None = None,
    force_solver: bool = False,
    previous: list[dict] | None = None,
) -> Schedule:
    """One occurrence per group that keeps every hard constraint (SPEC §3, §3.2), in named steps: announced starts,
    single-group options, test-before-prod, capacity, solve, then reasons, moves and explanations."""
    tz = ZoneInfo(plan.timezone)
    occs = occurrences(plan)
    lo, hi = plan.period.start - dt.timedelta(days=1), plan.period.end + dt.timedelta(days=2)
    ctx = _Ctx(plan, inv, today, occs, tz, [blackout_days(b, lo, hi) for b in plan.blackouts])
    warnings = list(grouping.warnings)
    groups = grouping.groups

    fixed, extra_occs = _fix_announced(ctx, groups, warnings)
    all_occs = occs + extra_occs

    # single-group feasibility as masks over the occurrences; the reasons are worded
    # later, only for the groups that need them (unscheduled, or asked to explain)
    feasible = _Feasibility(ctx)
    options: list[list[int]] = [
        [fixed[gi].index] if gi in fixed else feasible.options(g) for gi, g in enumerate(groups)
    ]
    prec = _precedence(groups, inv, warnings)
    gap = dt.timedelta(days=plan.test_before_prod_days)
    deadlines = _announced_prod_deadlines(groups, prec, fixed, gap, all_occs, options, warnings)

    def ruled(gi: int) -> dict[int, str]:
        """Why each occurrence is out for group `gi` on its own (worded on demand)."""
        if gi in fixed:
            return {}
        why = {}
        for o in occs:
            r = _ruled_out(ctx, groups[gi], o)
            if r is None:
                late = [(d, gid, s) for d, gid, s in deadlines.get(gi, []) if o.end > d]
                if late:
                    d, gid, s = min(late)
                    r = (
                        f"test-before-prod: must end by {d:%Y-%m-%d %H:%M}, {gap.days} days before announced {gid} "
                        f"({s})"
                    )
            if r is not None:
                why[o.index] = r
        return why

    dur = [_minutes(g.estimated_hours) for g in groups]
    cap = _capacity(plan, groups, all_occs, fixed, dur)
    prev = _previous_occurrences(previous, groups, all_occs, tz) if previous is not None else {}
    # a group keeps its previous occurrence only where that is still one of its options
    keepable = {gi: oi for gi, oi in prev.items() if gi not in fixed and oi in set(options[gi])}

    problem = _Problem(groups, all_occs, options, fixed, prec, gap, cap, dur)
    must_move = {gi for gi in prev if gi not in fixed and gi not in keepable}
    chosen, solver_name, proven = _solve(problem, keepable, use_solver, force_solver, time_limit, must_move)

    # after solving: reasons for groups left out
    assignments, unscheduled = [], []
    by_occ = defaultdict(list)
    for gi, oi in chosen.items():
        by_occ[oi].append(gi)
    for gi, g in enumerate(groups):
        if gi in chosen:
            assignments.append(Assignment(g, all_occs[chosen[gi]], gi in fixed))
            continue
        unscheduled.append(Unscheduled(g, _reasons(ctx, problem, gi, ruled(gi), chosen, by_occ)))
    assignments.sort(key=lambda a: (a.occurrence.start, a.occurrence.window, a.group.id))
    unscheduled.sort(key=lambda u: u.group.id)
    finish = max((a.occurrence.end for a in assignments), default=None)
    lower = _lower_bound(problem, set(chosen)) if assignments else None
    if proven and finish is not None:
        lower = finish
    explain = {
        g.id: _explain(ctx, problem, gi, chosen, ruled(gi)) for gi, g in enumerate(groups) if g.id == explain_group
    }
    moved = _moved_and_explained(ctx, problem, prev, chosen, ruled, unscheduled, previous, explain)
    warnings.sort(key=lambda w: w.sort_key)
    return Schedule(
        plan.name, today, assignments, unscheduled, warnings, finish, lower, solver_name, proven, explain, moved
    )


def _fix_announced(ctx: _Ctx, groups: list[Group], warnings: list[Finding]) -> tuple[dict[int, Occurrence], list]:
    """Announced groups keep their start (SPEC §3 rule 6): group index -> its occurrence, and the occurrences an
    announced start needs that the windows do not give (outside the period). Each oddity is a warning, never a move."""
    plan, occs, tz = ctx.plan, ctx.occs, ctx.tz
    fixed: dict[int, Occurrence] = {}
    group_of_db = {d: gi for gi, g in enumerate(groups) for d in g.databases}
    extra_occs: list[Occurrence] = []
    for a in plan.announced:
        gi = group_of_db.get(a.database)
        if gi is None:
            continue
        start = a.start if a.start.tzinfo else a.start.replace(tzinfo=tz)
        start = start.astimezone(tz)
        occ = next((o for o in occs if o.start == start), None)
        if occ is None:
            window = matching_window(plan, start.replace(tzinfo=None))
            if window is None:
                warnings.append(
                    Finding(
                        code="announced-not-a-window",
                        subject=groups[gi].id,
                        message=f"{groups[gi].id}: announced start {start:%Y-%m-%d %H:%M} is not an occurrence of "
                        "any window; kept as announced",
                    )
                )
                continue
            s, e = local_span(start.date(), window.start, window.hours, tz)
            occ = Occurrence(
                len(occs) + len(extra_occs),
                window.name,
                s,
                e,
                window.parallel,
                window.max_groups,
                frozenset(window.engines),
                window.hours,
            )
            extra_occs.append(occ)
            warnings.append(
                Finding(
                    code="announced-outside-period",
                    subject=groups[gi].id,
                    message=f"{groups[gi].id}: announced start {start:%Y-%m-%d %H:%M} lies outside the period; "
                    "kept as announced",
                )
            )
        if gi in fixed and fixed[gi] != occ:
            warnings.append(
                Finding(
                    code="announced-conflict",
                    subject=groups[gi].id,
                    message=f"{groups[gi].id}: members were announced for different starts; keeping "
                    f"{fixed[gi].start:%Y-%m-%d %H:%M}",
                )
            )
            continue
        fixed[gi] = occ

    for gi, occ in sorted(fixed.items()):
        g = groups[gi]
        for b, days in zip(plan.blackouts, ctx.blackout_sets):
            if applies(b, g) and days.intersection(occ.days):
                warnings.append(
                    Finding(
                        code="announced-in-blackout",
                        subject=g.id,
                        message=f"{g.id}: announced start {occ.start:%Y-%m-%d %H:%M} falls in blackout {b.name}; "
                        "kept, because owners were told",
                    )
                )
        why = _ruled_out(ctx, g, occ, announced=True)
        if why:
            warnings.append(
                Finding(
                    code="announced-does-not-fit",
                    subject=g.id,
                    message=f"{g.id}: announced window {occ.window} {occ.start:%Y-%m-%d %H:%M} is {why}; kept, "
                    "because owners were told",
                )
            )
    return fixed, extra_occs


def _capacity(plan: DatabasePlan, groups: list[Group], occs: list[Occurrence], fixed: dict, dur: list[int]):
    """Per occurrence: minutes (hours x parallel) and groups (max_groups), never below what announced groups already
    hold; and the owners' limits (max_per_occurrence) as (member groups, most, label)."""
    cap_min = {o.index: _minutes(o.real_hours) * o.parallel for o in occs}
    cap_cnt = {o.index: o.max_groups for o in occs}
    # announced groups are kept even where they overfill an occurrence: then it has no room left for others
    for oi in {o.index for o in fixed.values()}:
        held = [gi for gi, o in fixed.items() if o.index == oi]
        cap_min[oi] = max(cap_min[oi], sum(dur[gi] for gi in held))
        count = cap_cnt[oi]
        if count is not None:
            cap_cnt[oi] = max(count, len(held))
    # owners' testers: at most N of these groups in one occurrence (SPEC §3.2)
    limits = [
        (frozenset(gi for gi, g in enumerate(groups) if constraint_applies(c, g)), c.max_per_occurrence, c.label())
        for c in plan.constraints
        if c.max_per_occurrence is not None
    ]
    return cap_min, cap_cnt, limits


def _solve(p: _Problem, keepable, use_solver, force_solver, time_limit, must_move=frozenset()):
    """Greedy (keeping previous placements first), then CP-SAT unless the greedy result is proven optimal or the
    model too large: (group -> occurrence, solver name, proven optimal)."""
    groups, occs, options, fixed, prec, gap, cap, dur = p.unpack()
    n = len(groups)
    chosen = _greedy(p, keepable)
    hold = set(fixed) | {gi for gi, oi in keepable.items() if chosen.get(gi) == oi}
    _left_shift(chosen, p, hold)
    solver_name, proven = "greedy", False
    schedulable = _placeable(p)
    bound = _lower_bound(p, set(chosen)) if chosen else None
    greedy_finish = max((occs[oi].end for oi in chosen.values()), default=None)
    # fewest moves is proven when every group that could stay did, or provably could not (a re-plan then often
    # needs no solver: 100 groups and one blackout took 6 s of CP-SAT before, now the greedy's answer is proven)
    cannot_stay = (
        _cannot_stay(p, keepable, must_move) if any(chosen.get(gi) != oi for gi, oi in keepable.items()) else set()
    )
    not_kept = [gi for gi, oi in keepable.items() if chosen.get(gi) != oi and gi not in cannot_stay]
    all_kept = not not_kept or (len(not_kept) == 1 and _keeping_all_is_impossible(p, keepable, set(cannot_stay)))
    if all_kept and len(not_kept) == 1 and len(cannot_stay) == 1 and greedy_finish != bound:
        # one move more than the fewest possible, and which group takes it is a choice: the greedy moved a
        # group the one that must move was in the way of; another group making room may finish earlier
        (must,) = cannot_stay
        better = _make_room(p, chosen, keepable, must, not_kept[0])
        if better is not None:
            chosen = better
            greedy_finish = max(occs[oi].end for oi in chosen.values())
        one_more = _one_more_bound(p, chosen, keepable, must, greedy_finish)
        if one_more is not None and bound is not None and greedy_finish is not None and one_more > bound:
            bound = min(one_more, greedy_finish)
    if not not_kept and (keepable or must_move) and greedy_finish is not None and greedy_finish != bound:
        # only the groups that cannot stay moved: every schedule with as few moves keeps all the others where they
        # were, so none finishes before the moved groups' earliest places beside them. (With one move more, which
        # group takes it is a choice, and this bound would not hold: a test found the case.)
        moved = {gi for gi in chosen if gi not in p.fixed and keepable.get(gi) != chosen[gi]}
        bound = max(filter(None, [bound, _replan_bound(p, chosen, moved)]))
    if len(chosen) == schedulable and greedy_finish == bound and all_kept and not force_solver:
        solver_name, proven = "greedy", True  # every group that fits alone is placed, at the lower bound: optimal
    elif use_solver and n and sum(len(o) for o in options) > MAX_SOLVER_CHOICES:
        solver_name = f"greedy (model of {sum(len(o) for o in options):,} choices too large for the solver)"
    elif use_solver and n and occs:
        # the relaxation's bound holds for any schedule placing as many groups: it goes to the solver only when the
        # greedy placed every group that can be placed
        result = _solve_cp_sat(p, chosen, time_limit, bound if len(chosen) == schedulable else None, keepable)
        if result is not None:
            found, proven = result

            def score(ch: dict[int, int]) -> tuple[int, int, float]:
                finish = max((occs[oi].end for oi in ch.values()), default=None)
                kept = sum(1 for gi, oi in keepable.items() if ch.get(gi) == oi)
                return len(ch), kept, -finish.timestamp() if finish else 0

            if score(found) > score(chosen) or proven:
                chosen, solver_name = found, "cp-sat"
                hold = set(fixed) | {gi for gi, oi in keepable.items() if chosen.get(gi) == oi}
                _left_shift(chosen, p, hold)
    return chosen, solver_name, proven


def _placeable(p: _Problem) -> int:
    """How many groups some schedule could place. A group needs an occurrence it fits alone, and every group that
    must go before it (test before prod) must be placeable too, unless it was announced (it stays). A prod group
    whose non-prod group has no window can never be placed, so a greedy that placed all the others at the lower
    bound is proven without the solver. (The shipped SQL plan in June has 15 such groups: they cost `status` a
    CP-SAT run that could not prove what the greedy had.)"""
    preds = _predecessors(p.prec)
    ok: dict[int, bool] = {}
    for gi in _topological(len(p.groups), p.prec):
        # groups on a cycle come last, each after one of the cycle not seen yet: none of them is placeable
        ok[gi] = bool(p.options[gi]) and (gi in p.fixed or all(ok.get(t, False) for t in preds.get(gi, ())))
    return sum(ok.values())


def _make_room(p: _Problem, chosen: dict[int, int], keepable: dict[int, int], must: int, moved: int):
    """A schedule as good on moves as `chosen` (which moved `moved` as well as `must`, the group that cannot stay)
    that finishes earlier, or None: `moved` stays where it was, `must` takes an occurrence it shares with one
    kept group, and that group moves to the occurrence that ends earliest beside all the others. The best such
    schedule, checked whole (`_valid`)."""
    occs, options = p.occs, p.options
    base = {gi: oi for gi, oi in chosen.items() if gi != must}
    base[moved] = keepable[moved]
    usage = _Usage(p.cap, p.dur)
    for gi, oi in base.items():
        usage.add(gi, oi)
    preds, succs = _predecessors(p.prec), _successors(p.prec)
    holders = defaultdict(list)
    for gi, oi in base.items():
        if gi not in p.fixed and gi != moved and keepable.get(gi) == oi:
            holders[oi].append(gi)
    ties = set(preds.get(must, [])) | set(succs.get(must, []))
    ends = sorted((occs[oi].end, gi) for gi, oi in base.items())
    finish = max(occs[oi].end for oi in chosen.values())
    best = None
    for oi in options[must]:
        if not _within(p, oi, _window(p, preds, succs, must, base)):
            continue
        for x in holders.get(oi, []):
            if x in ties:  # its move would change the window of the group that must move
                continue
            usage.add(x, oi, -1)
            if usage.fits(must, oi):
                usage.add(must, oi)
                placed = {**base, must: oi}
                del placed[x]
                bounds = _window(p, preds, succs, x, placed)
                fits = [o for o in options[x] if o != oi and _within(p, o, bounds) and usage.fits(x, o)]
                if fits:
                    to = min(fits, key=lambda o: occs[o].end)
                    others = next((end for end, gi in reversed(ends) if gi != x), occs[to].end)
                    end = max(others, occs[oi].end, occs[to].end)
                    if end < finish:
                        finish, best = end, {**placed, x: to}
                usage.add(must, oi, -1)
            usage.add(x, oi)
    return best if best is not None and _valid(p, best) else None


def _one_more_bound(p: _Problem, chosen, keepable, must: int, finish, most: int = 8) -> dt.datetime | None:
    """A finish no schedule can beat that keeps every group but `must` (which cannot stay) and one other where they
    were — the fewest moves when keeping all the others is impossible — or None when not worked out. Whichever
    group y moves, the schedule finishes no earlier than every other kept group's end and than `must` and y placed
    at their earliest beside the rest (`_replan_bound`); only the few y whose leaving could bring the finish
    before `finish` need the latter (at most `most` of them, else None)."""
    kept = {gi: oi for gi, oi in keepable.items() if gi != must}
    placed = {**kept, **{gi: o.index for gi, o in p.fixed.items()}}
    if any(gi not in placed and gi != must for gi in chosen):  # a group new to this plan may go anywhere
        return None
    ends = sorted(((p.occs[oi].end, gi) for gi, oi in placed.items()), reverse=True)
    lowest = None
    checked = 0
    for y in kept:
        others = next((end for end, gi in ends if gi != y), None)
        if others is not None and others >= finish:
            bound = others
        else:
            checked += 1
            if checked > most:
                return None
            rest = {gi: oi for gi, oi in placed.items() if gi != y}
            bound = _replan_bound(p, rest, {must, y})
            if bound is None:  # `must` and y cannot both be placed beside the rest: no such schedule
                continue
        lowest = bound if lowest is None else min(lowest, bound)
    return lowest


def _valid(p: _Problem, chosen: dict[int, int]) -> bool:
    """Every group in one of its options (announced ones where announced), test before prod by the gap, and no
    occurrence over its capacity or an owner's limit."""
    if any(chosen.get(gi) != o.index for gi, o in p.fixed.items()):
        return False
    if any(oi not in p.options[gi] for gi, oi in chosen.items() if gi not in p.fixed):
        return False
    for t, q, _ in p.prec:
        if t in chosen and q in chosen and p.occs[chosen[t]].end + p.gap > p.occs[chosen[q]].start:
            return False
    usage = _Usage(p.cap, p.dur)
    for gi, o in p.fixed.items():  # announced: they hold their place whatever it costs
        usage.add(gi, o.index)
    for gi, oi in chosen.items():
        if gi not in p.fixed:
            if not usage.fits(gi, oi):
                return False
            usage.add(gi, oi)
    return True


def _replan_bound(p: _Problem, chosen: dict[int, int], moved: set[int]) -> dt.datetime | None:
    """The latest of: every kept group's end, and each moved group's earliest end beside the kept groups
    (capacity, owners' limits), after its non-prod groups (kept: their end; moved: their own earliest end), plus
    the gap. Other moved groups can only delay it, so no schedule that keeps the same groups finishes earlier."""
    usage = _Usage(p.cap, p.dur)
    for gi, oi in chosen.items():
        if gi not in moved:
            usage.add(gi, oi)
    preds = _predecessors(p.prec)
    earliest: dict[int, dt.datetime] = {gi: p.occs[oi].end for gi, oi in chosen.items() if gi not in moved}
    for gi in _topological(len(p.groups), p.prec):
        if gi not in moved:
            continue
        not_before = max((earliest[t] + p.gap for t in preds.get(gi, []) if t in earliest), default=None)
        fits = [
            p.occs[oi].end
            for oi in p.options[gi]
            if (not_before is None or p.occs[oi].start >= not_before) and usage.fits(gi, oi)
        ]
        if not fits:
            return None
        earliest[gi] = min(fits)
    return max(earliest.values(), default=None)


def _keeping_all_is_impossible(p: _Problem, keepable: dict[int, int], must_move: set[int]) -> bool:
    """True when no schedule can keep every group that could stay: some group that must move has no occurrence
    that fits beside all of them (capacity, owners' limits) between its kept non-prod groups (plus the gap) and
    its kept prod groups (minus the gap). Then one move more than `must_move` is the fewest."""
    usage = _Usage(p.cap, p.dur)
    kept = {gi: oi for gi, oi in keepable.items() if gi not in must_move} | {gi: o.index for gi, o in p.fixed.items()}
    for gi, oi in kept.items():
        usage.add(gi, oi)
    preds, succs = _predecessors(p.prec), _successors(p.prec)
    for gi in must_move:
        window = _window(p, preds, succs, gi, kept)
        if not any(_within(p, oi, window) and usage.fits(gi, oi) for oi in p.options[gi]):
            return True
    return False


def _cannot_stay(p: _Problem, keepable: dict[int, int], must_move: set[int]) -> set[int]:
    """The groups no schedule can leave where they were: those whose previous occurrence is no longer an option
    (`must_move`), and, transitively, a prod group whose earlier non-prod group cannot stay and has no option
    that ends `gap` before the prod group's previous start."""
    preds = _predecessors(p.prec)
    out = set(must_move)
    changed = True
    while changed:
        changed = False
        for gi, oi in keepable.items():
            if gi in out:
                continue
            start = p.occs[oi].start
            for t in preds.get(gi, []):
                others = [o for o in p.options[t] if o != keepable.get(t)]
                if t in out and all(p.occs[o].end + p.gap > start for o in others):
                    out.add(gi)
                    changed = True
                    break
    return out


def _announced_prod_deadlines(groups, prec, fixed, gap, occs, options, warnings) -> dict:
    """An announced prod group never moves, so its test groups must end `gap` before it starts: their options are
    cut to occurrences ending by then (group -> [(deadline, prod group, system)]). Two announced groups too close
    are kept, with a warning."""
    deadlines: dict[int, list[tuple[dt.datetime, str, str]]] = defaultdict(list)
    # an announced prod group never moves, so its test groups must end `gap` before it starts
    for t, p, system in prec:
        if p in fixed and t in fixed and fixed[p].start < fixed[t].end + gap:
            warnings.append(
                Finding(
                    code="announced-test-before-prod",
                    subject=groups[p].id,
                    message=f"{groups[p].id}: prod of {system} was announced for "
                    f"{fixed[p].start:%Y-%m-%d %H:%M}, less than {gap.days} days after its announced non-prod group "
                    f"{groups[t].id} ends; both kept, because owners were told",
                )
            )
        if p in fixed and t not in fixed:
            deadline = fixed[p].start - gap
            deadlines[t].append((deadline, groups[p].id, system))
            options[t] = [oi for oi in options[t] if occs[oi].end <= deadline]
    return deadlines


def _moved_and_explained(ctx, p: _Problem, prev, chosen, ruled, unscheduled, previous, explain):
    """With --previous: the moved groups and their causes; --explain says a group moved, or that it is announced."""
    groups, fixed = p.groups, p.fixed
    moved = None
    if previous is not None:
        moved = _moves(ctx, p, prev, chosen, ruled, unscheduled)
        for g in groups:
            if g.id in explain:
                explain[g.id] += [f"moved from {m['from']}: {m['cause']}" for m in moved if m["group"] == g.id]
    for gi, g in enumerate(groups):
        if g.id in explain and gi in fixed:
            explain[g.id].insert(0, "announced: owners were told this start, so it is kept as it is")
    return moved


def _previous_occurrences(previous: list[dict], groups: list[Group], occs: list[Occurrence], tz) -> dict[int, int]:
    """Group index -> the occurrence it had in a previous schedule (matched by its databases: a group id changes
    when membership does); the earliest where members had different starts."""
    by_start = {(o.window, o.start): o.index for o in occs}
    start_of: dict[str, tuple[str, dt.datetime]] = {}
    for a in previous:
        start = dt.datetime.fromisoformat(a["start"]).astimezone(tz)
        for d in a.get("databases", []):
            start_of[d] = (a["window"], start)
    prev = {}
    for gi, g in enumerate(groups):
        seen = sorted({start_of[d] for d in g.databases if d in start_of}, key=lambda ws: ws[1])
        if seen and seen[0] in by_start:
            prev[gi] = by_start[seen[0]]
        elif seen:
            prev[gi] = -1  # its previous occurrence no longer exists (a window changed)
    return prev


def _moves(ctx, p: _Problem, prev, chosen, ruled, unscheduled) -> list[dict]:
    """Each previously scheduled group that is not where it was, with the cause (SPEC §3.2)."""
    groups, occs, options, _fixed, prec, gap, _cap, _dur = p.unpack()
    reasons = {u.group.id: [str(r) for r in u.reasons] for u in unscheduled}
    preds = _predecessors(prec)
    outcome_of = {}
    for o in ctx.plan.outcomes:
        if o.status != "done":
            for d in o.databases:
                outcome_of[d] = o
    moved = []
    for gi, poi in sorted(prev.items(), key=lambda kv: groups[kv[0]].id):
        if chosen.get(gi) == poi:
            continue
        g = groups[gi]
        was = occs[poi] if poi >= 0 else None
        failed = next((outcome_of[d] for d in g.databases if d in outcome_of), None)
        if failed is not None:
            cause = f"{failed.status} on {failed.start:%Y-%m-%d %H:%M}" + (f" ({failed.note})" if failed.note else "")
            cause += ": a new window, with notice again"
        elif was is None:
            cause = "its window occurrence no longer exists in the plan"
        elif poi not in set(options[gi]):
            cause = ruled(gi).get(poi) or _ruled_out(ctx, g, was) or "no longer possible there"
        elif any(t in chosen and occs[chosen[t]].end + gap > was.start for t in preds.get(gi, [])):
            late = sorted(
                groups[t].id for t in preds.get(gi, []) if t in chosen and occs[chosen[t]].end + gap > was.start
            )
            cause = f"test-before-prod: follows {', '.join(late)}, which moved"
        elif gi not in chosen:
            cause = "; ".join(reasons.get(g.id, ["no room"]))
        else:
            newcomers = sorted(groups[x].id for x, oi in chosen.items() if oi == poi and prev.get(x) != poi)
            cause = (
                f"capacity: {was.window} {was.start:%Y-%m-%d} now holds {', '.join(newcomers)}, which had to move"
                if newcomers
                else "capacity: its occurrence is taken by groups that cannot move (announced or kept)"
            )
        moved.append(
            {
                "group": g.id,
                "from": was.start.isoformat() if was else None,
                "to": occs[chosen[gi]].start.isoformat() if gi in chosen else None,
                "cause": cause,
            }
        )
    return moved


def _predecessors(prec) -> dict[int, list[int]]:
    preds = defaultdict(list)
    for t, p, _ in prec:
        preds[p].append(t)
    return preds


def _successors(prec) -> dict[int, list[int]]:
    succs = defaultdict(list)
    for t, p, _ in prec:
        succs[t].append(p)
    return succs


def _window(p: _Problem, preds, succs, gi: int, placed: dict[int, int]) -> tuple[dt.datetime | None, ...]:
    """When group `gi` may run beside the placed groups: not before its placed non-prod groups' ends plus the gap,
    not after its placed prod groups' starts minus the gap (None: no limit)."""
    not_before = max((p.occs[placed[t]].end + p.gap for t in preds.get(gi, []) if t in placed), default=None)
    not_after = min((p.occs[placed[q]].start - p.gap for q in succs.get(gi, []) if q in placed), default=None)
    return not_before, not_after


def _within(p: _Problem, oi: int, window: tuple[dt.datetime | None, ...]) -> bool:
    not_before, not_after = window
    return (not_before is None or p.occs[oi].start >= not_before) and (not_after is None or p.occs[oi].end <= not_after)


def _topological(n: int, prec) -> list[int]:
    indeg: Counter[int] = Counter()
    succ = defaultdict(list)
    for t, p in {(t, p) for t, p, _ in prec}:
        indeg[p] += 1
        succ[t].append(p)
    order, ready = [], sorted(i for i in range(n) if indeg[i] == 0)
    import heapq

    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(ready, j)
    seen = set(order)
    order.extend(i for i in range(n) if i not in seen)  # cycles: left for the solver to refuse
    return order


class _Usage:
    """What each occurrence holds: minutes, groups, and groups under each owner's limit."""

    def __init__(self, cap, dur):
        self.cap_min, self.cap_cnt, self.limits = cap
        self.dur = dur
        self.minutes: Counter[int] = Counter()
        self.count: Counter[int] = Counter()
        self.limited: Counter[tuple[int, int]] = Counter()
        self.limits_of: dict[int, list[int]] = defaultdict(list)
        for k, (members, _n, _label) in enumerate(self.limits):
            for gi in members:
                self.limits_of[gi].append(k)

    def fits(self, gi: int, oi: int) -> bool:
        if self.minutes[oi] + self.dur[gi] > self.cap_min[oi]:
            return False
        if self.cap_cnt[oi] is not None and self.count[oi] + 1 > self.cap_cnt[oi]:
            return False
        return all(self.limited[k, oi] + 1 <= self.limits[k][1] for k in self.limits_of.get(gi, ()))

    def add(self, gi: int, oi: int, sign: int = 1) -> None:
        self.minutes[oi] += sign * self.dur[gi]
        self.count[oi] += sign
        for k in self.limits_of.get(gi, ()):
            self.limited[k, oi] += sign


def _greedy(p: _Problem, keep=None) -> dict[int, int]:
    """Earliest fit in precedence order. `keep`: group -> its previous occurrence, taken first where it still fits."""
    groups, occs, options, fixed, prec, gap, cap, dur = p.unpack()
    usage = _Usage(cap, dur)
    chosen: dict[int, int] = {}
    for gi, o in fixed.items():
        chosen[gi] = o.index
        usage.add(gi, o.index)
    preds = _predecessors(prec)
    order = _topological(len(groups), prec)

    def start_ok(gi: int, oi: int) -> bool:
        not_before = max((occs[chosen[t]].end + gap for t in preds.get(gi, [])), default=None)
        return not_before is None or occs[oi].start >= not_before

    for gi in order if keep else ():
        oi = keep.get(gi)
        if oi is None or gi in chosen or any(t not in chosen for t in preds.get(gi, [])):
            continue
        if start_ok(gi, oi) and usage.fits(gi, oi):
            chosen[gi] = oi
            usage.add(gi, oi)
    # within precedence order, the least flexible and largest first
    rank = {gi: k for k, gi in enumerate(order)}
    level: dict[int, int] = {}
    for gi in order:
        level[gi] = 1 + max((level.get(t, 0) for t in preds.get(gi, [])), default=0)
    for gi in sorted(order, key=lambda i: (level[i], len(options[i]), -dur[i], rank[i])):
        if gi in chosen or any(t not in chosen for t in preds.get(gi, [])):
            continue
        for oi in options[gi]:
            if start_ok(gi, oi) and usage.fits(gi, oi):
                chosen[gi] = oi
                usage.add(gi, oi)
                break
    return chosen


def _left_shift(chosen, p: _Problem, hold) -> None:
    """Move each placed group but those in `hold` to its earliest occurrence that still respects capacity and
    test-before-prod. Moving a group earlier never delays anyone else, so the finish can only stay or improve."""
    _groups, occs, options, _fixed, prec, gap, cap, dur = p.unpack()
    preds = _predecessors(prec)
    usage = _Usage(cap, dur)
    for gi, oi in chosen.items():
        usage.add(gi, oi)
    changed = True
    while changed:
        changed = False
        for gi in sorted(chosen, key=lambda i: (occs[chosen[i]].start, i)):
            if gi in hold:
                continue
            current = chosen[gi]
            not_before = max((occs[chosen[t]].end + gap for t in preds.get(gi, []) if t in chosen), default=None)
            for oi in options[gi]:
                o = occs[oi]
                if o.start >= occs[current].start:
                    break
                if not_before is not None and o.start < not_before:
                    continue
                if not usage.fits(gi, oi):
                    continue
                usage.add(gi, current, -1)
                usage.add(gi, oi)
                chosen[gi] = oi
                changed = True
                break


def _solve_cp_sat(p: _Problem, hint, time_limit, bound, keep=None):
    """CP-SAT from the greedy's `hint`: (group -> occurrence, proven optimal), or None. `bound`: a finish no schedule
    placing as many groups as can be placed beats (None: none known)."""
    groups, occs, options, fixed, prec, gap, cap, dur = p.unpack()
    cap_min, cap_cnt, limits = cap
    from oslomig.planning.cpsat import cp_model as import_cp_model

    cp_model = import_cp_model()
    model = cp_model.CpModel()
    end_rank = {t: r for r, t in enumerate(sorted({o.end for o in occs}))}
    x: dict[tuple[int, int], Any] = {}
    per_occ = defaultdict(list)
    for gi, opts in enumerate(options):
        for oi in opts:
            var = model.new_bool_var(f"x{gi}_{oi}")
            x[gi, oi] = var
            per_occ[oi].append(gi)
        if opts:
            if gi in fixed:
                model.add(sum(x[gi, oi] for oi in opts) == 1)
            else:
                model.add_at_most_one(x[gi, oi] for oi in opts)
    for oi, gis in per_occ.items():
        model.add(sum(dur[gi] * x[gi, oi] for gi in gis) <= cap_min[oi])
        if cap_cnt[oi] is not None:
            model.add(sum(x[gi, oi] for gi in gis) <= cap_cnt[oi])
        for members, most, _label in limits:
            mine = [x[gi, oi] for gi in gis if gi in members]
            if len(mine) > most:
                model.add(sum(mine) <= most)
    # test before prod, linear in the number of choices: start/end in minutes from the first occurrence
    origin = min(o.start for o in occs)

    def minutes(t: dt.datetime) -> int:
        return int((t - origin).total_seconds() // 60)

    horizon = minutes(max(o.end for o in occs)) + 1
    gap_min = int(gap.total_seconds() // 60)
    placed_var: dict[int, Any] = {}
    start_var: dict[int, Any] = {}
    end_var: dict[int, Any] = {}
    for gi in sorted({g for t, q, _ in prec for g in (t, q)}):
        opts = options[gi]
        placed_var[gi] = sum(x[gi, oi] for oi in opts) if opts else 0
        start_var[gi] = sum(minutes(occs[oi].start) * x[gi, oi] for oi in opts) if opts else 0
        end_var[gi] = sum(minutes(occs[oi].end) * x[gi, oi] for oi in opts) if opts else 0
    for t, q in sorted({(t, q) for t, q, _ in prec}):  # t: the non-prod group, q: the prod group after it
        if not options[q] or q in fixed:
            # an announced prod group stays whatever its non-prod group does (as in the greedy): the deadline it sets
            # is already in the non-prod group's options. Kept here, it made the model infeasible whenever that group
            # had no occurrence left, and the solver's time was spent for nothing.
            continue
        if not options[t]:
            model.add(placed_var[q] == 0)
            continue
        model.add(placed_var[q] <= placed_var[t])
        # when q is placed: start_q >= end_t + gap; when it is not, start_q is 0 and the big-M term relaxes it
        model.add(start_var[q] >= end_var[t] + gap_min - (horizon + gap_min) * (1 - placed_var[q]))
    scheduled = sum(x.values())
    max_rank = max(end_rank.values(), default=0)
    low = end_rank.get(bound, 0) if bound is not None else 0
    makespan = model.new_int_var(low, max_rank, "makespan")
    for (_gi, oi), var in x.items():
        model.add(makespan >= end_rank[occs[oi].end]).only_enforce_if(var)
    # schedule as many groups as possible, then finish as early as possible; early
    # placement of the others comes from `_left_shift`, which keeps the proof cheap
    # with a previous schedule: as many groups as possible, then as few moved as possible, then the finish
    kept = [x[gi, oi] for gi, oi in sorted((keep or {}).items()) if (gi, oi) in x]
    weight = max_rank + 2
    model.maximize(weight * (len(kept) + 1) * scheduled + weight * sum(kept) - makespan)
    for (gi, oi), var in x.items():
        model.add_hint(var, 1 if hint.get(gi) == oi else 0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # one worker + deterministic time: the same answer every run
    solver.parameters.max_deterministic_time = time_limit
    solver.parameters.max_time_in_seconds = 3 * time_limit  # a safety net on a loaded machine
    solver.parameters.random_seed = 0
    # presolve costs the shipped Oracle plan 1.3 s of its 1.7 s and finds the same optimum; on a re-plan (the
    # moves objective) it pays for itself (400 groups: 7.8 s with it, 12.3 s without); measured in bench/run.py
    solver.parameters.cp_model_presolve = bool(kept)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    chosen = {gi: oi for (gi, oi), var in x.items() if solver.value(var)}
    return chosen, status == cp_model.OPTIMAL


def _lower_bound(p: _Problem, placed: set[int]) -> dt.datetime | None:
    """A finish no schedule placing the same groups can beat: precedence chains, then cumulative capacity."""
    groups, occs, options, _fixed, prec, gap, cap, dur = p.unpack()
    preds = _predecessors(prec)
    earliest_end: dict[int, dt.datetime] = {}
    for gi in _topological(len(groups), prec):
        if gi not in placed:
            continue
        not_before = max((earliest_end[t] + gap for t in preds.get(gi, []) if t in earliest_end), default=None)
        ends = [occs[oi].end for oi in options[gi] if not_before is None or occs[oi].start >= not_before]
        earliest_end[gi] = min(ends) if ends else min(occs[oi].end for oi in options[gi])
    bound = max(earliest_end.values(), default=None)
    cap_min, cap_cnt, _limits = cap
    # cumulative capacity: an occurrence contributes only what the groups able to use it could fill
    users = defaultdict(list)
    for gi in placed:
        for oi in options[gi]:
            users[oi].append(gi)
    demand = sum(dur[gi] for gi in placed)
    count = len(placed)
    acc_min = acc_cnt = 0
    for o in sorted((occs[oi] for oi in users), key=lambda o: o.end):
        who = users[o.index]
        acc_min += min(cap_min[o.index], sum(dur[gi] for gi in who))
        acc_cnt += min(len(who), cap_cnt[o.index] if cap_cnt[o.index] is not None else len(who))
        if acc_min >= demand and acc_cnt >= count:
            bound = max(bound, o.end) if bound else o.end
            break
    return bound


def _reasons(ctx, p: _Problem, gi: int, why, chosen, by_occ) -> list[Finding]:
    """Which constraints ruled out which windows, for a group left unscheduled: one finding each, coded."""
    groups, occs, options, _fixed, prec, gap, cap, dur = p.unpack()
    opts = options[gi]
    subject = groups[gi].id

    def reason(code: str, message: str) -> Finding:
        return Finding(code, message, subject, "error")

    cap_min, cap_cnt, limits = cap
    if not ctx.occs:
        return [reason("no-window", "no window occurs inside the period")]
    reasons = []
    per_window: dict[str, Counter] = defaultdict(Counter)
    for oi, text in why.items():
        per_window[occs[oi].window][text] += 1
    for window in sorted(per_window):
        total = sum(1 for o in ctx.occs if o.window == window)
        ruled_out = sum(per_window[window].values())
        parts = "; ".join(f"{n}x {text}" for text, n in sorted(per_window[window].items()))
        reasons.append(
            reason("window-ruled-out", f"window {window}: {ruled_out} of {total} occurrences ruled out ({parts})")
        )
    for t in sorted({t for t, p, _ in prec if p == gi} if opts else ()):
        systems = ", ".join(sorted({s for tt, p, s in prec if p == gi and tt == t}))
        if t not in chosen:
            reasons.append(
                reason(
                    "test-before-prod",
                    f"test-before-prod: the non-prod group {groups[t].id} of {systems} is not scheduled",
                )
            )
        elif not any(occs[oi].start >= occs[chosen[t]].end + gap for oi in opts):
            reasons.append(
                reason(
                    "test-before-prod",
                    f"test-before-prod: no usable occurrence starts {gap.days} days after {groups[t].id} ends "
                    f"({occs[chosen[t]].end:%Y-%m-%d %H:%M})",
                )
            )
    full = [
        oi
        for oi in opts
        if sum(dur[x] for x in by_occ.get(oi, [])) + dur[gi] > cap_min[oi]
        or (cap_cnt[oi] is not None and len(by_occ.get(oi, [])) >= cap_cnt[oi])
    ]
    if full:
        reasons.append(
            reason(
                "capacity",
                f"capacity: {len(full)} of the {len(opts)} occurrences it could use alone are full with other groups",
            )
        )
    for members, most, label in limits:
        if gi not in members:
            continue
        at_limit = [oi for oi in opts if sum(1 for x in by_occ.get(oi, []) if x in members) >= most]
        if at_limit:
            reasons.append(
                reason(
                    "owner-limit",
                    f"{label}: max_per_occurrence {most} reached in {len(at_limit)} of the {len(opts)} occurrences "
                    "it could use alone",
                )
            )
    return reasons or [reason("no-fit", "no occurrence fits together with the other groups' constraints")]


def _explain(ctx, p: _Problem, gi: int, chosen, why) -> list[str]:
    groups, occs, _options, _fixed, prec, gap, _cap, _dur = p.unpack()
    g = groups[gi]
    lines = []
    if gi in chosen:
        o = occs[chosen[gi]]
        lines.append(
            f"placed in {o.window} {o.start:%Y-%m-%d %H:%M}–{o.end:%Y-%m-%d %H:%M} ({g.estimated_hours:.2f} h of "
            f"{o.real_hours:g} h)"
        )
        limit = o.start
    else:
        lines.append("not placed")
        limit = None
    for occ in ctx.occs:
        if limit is not None and occ.start >= limit:
            break
        reason = why.get(occ.index)
        if reason is None:
            blocking = [
                groups[t].id for t, p, _ in prec if p == gi and t in chosen and occs[chosen[t]].end + gap > occ.start
            ]
            reason = (
                f"test-before-prod: waits for {', '.join(sorted(set(blocking)))}"
                if blocking
                else "capacity or a better overall finish (used by other groups)"
            )
        lines.append(f"  {occ.window} {occ.start:%Y-%m-%d %H:%M}: {reason}")
    return lines
