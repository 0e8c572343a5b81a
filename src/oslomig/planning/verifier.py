"""An independent check of a schedule against the plan's hard constraints (SPEC §3).

It reads the schedule *as JSON* (what users and scripts see) and recomputes
everything it needs from the plan and inventory with its own code: it does
not reuse the scheduler's occurrence expansion, feasibility filter or
grouping, so a bug there cannot hide itself here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from oslomig.loading import Inventory
from oslomig.models import WEEKDAYS, DatabasePlan
from oslomig.planning.findings import Finding


def _days_touched(start: dt.datetime, end: dt.datetime) -> set[dt.date]:
    days, day = set(), start.date()
    last = (end - dt.timedelta(seconds=1)).date()
    while day <= last:
        days.add(day)
        day += dt.timedelta(days=1)
    return days


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    code, _, sub = country.partition("-")
    kw: dict[str, Any] = {"subdiv": sub} if sub else {}
    if code == "NO":
        kw["include_sundays"] = False
    return frozenset(holidays.country_holidays(code, years=[year], **kw))


def _blackout_hits(plan: DatabasePlan, day: dt.date, systems: set[str], agencies: set[str]) -> list[str]:
    hits = []
    for b in plan.blackouts:
        if (b.systems or b.agencies) and not (systems & set(b.systems) or agencies & set(b.agencies)):
            continue
        if (
            b.from_
            and b.to
            and b.from_ <= day <= b.to
            or b.monthly_days
            and day.day in b.monthly_days
            or b.weekdays
            and WEEKDAYS[day.weekday()] in b.weekdays
            or b.holidays
            and day in _holidays(b.holidays, day.year)
        ):
            hits.append(b.name)
    return hits


class _Check:
    """The verifier's state while it reads one schedule; each method checks one kind of constraint."""

    def __init__(self, schedule: dict, plan: DatabasePlan, inv: Inventory, today: dt.date):
        self.schedule, self.plan, self.inv, self.today = schedule, plan, inv, today
        tz = ZoneInfo(plan.timezone)
        problems: list[Finding] = []
        windows = {w.name: w for w in plan.windows}
        migrated = set(plan.migrated)
        announced = {a.database: (a.start if a.start.tzinfo else a.start.replace(tzinfo=tz)) for a in plan.announced}
        usage: dict[tuple[str, str], list[tuple[str, float, bool]]] = defaultdict(list)
        touched: dict[tuple[str, str], list[tuple[set, set, bool]]] = defaultdict(list)
        start_of: dict[str, dt.datetime] = {}
        end_of: dict[str, dt.datetime] = {}
        seen: dict[str, str] = {}
        period_start = dt.datetime.combine(plan.period.start, dt.time()).replace(tzinfo=tz)
        period_end = dt.datetime.combine(plan.period.end + dt.timedelta(days=1), dt.time()).replace(tzinfo=tz)
        self.tz = tz
        self.problems = problems
        self.windows = windows
        self.migrated = migrated
        self.announced = announced
        self.usage = usage
        self.touched = touched
        self.start_of = start_of
        self.end_of = end_of
        self.seen = seen
        self.period_start = period_start
        self.period_end = period_end
        self.announced_groups: set[str] = set()
        self.handled: set[str] = set()

    def check_assignments(self) -> None:
        """One window occurrence per assignment: rules 0-2, 4-6 and the owners' dates and windows."""
        for a in self.schedule["assignments"]:
            gid = a["group"]
            w = self.windows.get(a["window"])
            if w is None:
                self.problems.append(Finding.of("unknown-window", f"{gid}: window {a['window']!r} is not in the plan"))
                continue
            unknown = [d for d in a["databases"] if d not in self.inv.databases]
            if unknown:
                self.problems.append(
                    Finding.of(
                        "unknown-database",
                        f"{gid}: {', '.join(unknown[:5])} {'is' if len(unknown) == 1 else 'are'} not in the inventory",
                    )
                )
                continue
            start, end = dt.datetime.fromisoformat(a["start"]), dt.datetime.fromisoformat(a["end"])
            self._is_an_occurrence(a, w, start, end)
            est = self._estimate(a)
            is_announced = self._announced(a, start)
            systems = {self.inv.owner[d] for d in a["databases"] if d in self.inv.owner}
            agencies = {ag for s in systems if (ag := self.inv.systems[s].agency)}
            if not is_announced:  # an announced group is kept as announced, even where it no longer fits
                self._fits(a, w, start, end, est)
                self._dates(gid, start, end, systems, agencies)
                self._owners(gid, w, start, end, systems, agencies)
            self._record(a, w, start, end, est, is_announced, systems, agencies)

    def _is_an_occurrence(self, a: dict, w, start: dt.datetime, end: dt.datetime) -> None:
        """Rule 0: the bounds are a real occurrence of the window (wall-clock start + hours)."""
        gid, local = a["group"], start.astimezone(self.tz)
        if local.strftime("%H:%M") != w.start or not (
            local.date() in w.dates or WEEKDAYS[local.weekday()] in w.weekdays
        ):
            self.problems.append(
                Finding.of("not-an-occurrence", f"{gid}: {a['start']} is not an occurrence of window {w.name}")
            )
        wall_end = (local.replace(tzinfo=None) + dt.timedelta(hours=w.hours)).replace(tzinfo=self.tz)
        if wall_end.astimezone(dt.UTC) != end.astimezone(dt.UTC):
            self.problems.append(
                Finding.of(
                    "wrong-end", f"{a['group']}: end {a['end']} is not {w.hours:g} wall-clock hours after the start"
                )
            )

    def _estimate(self, a: dict) -> float:
        """The estimated hours recomputed from the inventory; the schedule's own figure must agree."""
        timing = self.plan.timing
        est = timing.overhead_hours + sum(self.inv.databases[d].size_gb for d in a["databases"]) / (
            timing.throughput_gb_per_hour
        )
        if abs(est - a["estimated_hours"]) > 0.01:
            self.problems.append(
                Finding.of(
                    "wrong-estimate",
                    f"{a['group']}: estimated_hours {a['estimated_hours']} but the databases add up to {est:.3f}",
                )
            )
        return est

    def _announced(self, a: dict, start: dt.datetime) -> bool:
        """Whether a member was announced for this very start (and a group marked announced must be)."""
        announced = self.announced
        is_announced = any(
            d in announced and announced[d].astimezone(dt.UTC) == start.astimezone(dt.UTC) for d in a["databases"]
        )
        if a.get("announced") and not is_announced:
            self.problems.append(
                Finding.of(
                    "not-announced", f"{a['group']}: marked announced, but no member was announced for {a['start']}"
                )
            )
        return is_announced

    def _fits(self, a: dict, w, start: dt.datetime, end: dt.datetime, est: float) -> None:
        """Rules 1, 2 and 4: inside the period, long enough, an engine the window allows."""
        gid, inv = a["group"], self.inv
        if start < self.period_start or end > self.period_end:
            self.problems.append(Finding.of("outside-period", f"{gid}: {a['start']}–{a['end']} is outside the period"))
        real_hours = (end - start).total_seconds() / 3600
        if est > real_hours + 1e-6:
            self.problems.append(
                Finding.of("window-too-short", f"{gid}: needs {est:.2f} h, window {w.name} gives {real_hours:g} h")
            )
        engines = {inv.instances[inv.databases[d].instance].engine for d in a["databases"]}
        if w.engines and not engines <= set(w.engines):
            self.problems.append(
                Finding.of("engine-not-allowed", f"{gid}: engines {sorted(engines)} not allowed in window {w.name}")
            )

    def _dates(self, gid: str, start: dt.datetime, end: dt.datetime, systems: set, agencies: set) -> None:
        """Rules 5 and 6: no day in a blackout of the group's systems or agencies; notice before the start."""
        local, plan = start.astimezone(self.tz), self.plan
        for day in sorted(_days_touched(local, end.astimezone(self.tz))):
            for name in _blackout_hits(plan, day, systems, agencies):
                self.problems.append(Finding.of("blackout", f"{gid}: {day} is in blackout {name}"))
        if local.date() < self.today + dt.timedelta(days=plan.notice_days):
            self.problems.append(
                Finding.of(
                    "notice", f"{gid}: starts {local.date()}, less than {plan.notice_days} days after {self.today}"
                )
            )

    def _owners(self, gid: str, w, start: dt.datetime, end: dt.datetime, systems: set, agencies: set) -> None:
        """Rule 8: the owners' answers that name the group's systems or agencies: dates and windows."""
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        for c in self.plan.constraints:
            if not (set(c.systems) & systems or set(c.agencies) & agencies):
                continue
            who = ", ".join([*c.systems, *c.agencies])
            if c.not_before is not None and first < c.not_before:
                self.problems.append(
                    Finding.of(
                        "owner-not-before", f"{gid}: starts {first}, before {c.not_before} (owner constraint {who})"
                    )
                )
            if c.not_after is not None and last > c.not_after:
                self.problems.append(
                    Finding.of("owner-not-after", f"{gid}: ends {last}, after {c.not_after} (owner constraint {who})")
                )
            if c.windows and w.name not in c.windows:
                self.problems.append(
                    Finding.of(
                        "owner-windows",
                        f"{gid}: window {w.name} is not one of {', '.join(c.windows)} (owner constraint {who})",
                    )
                )

    def _record(self, a: dict, w, start, end, est: float, is_announced: bool, systems: set, agencies: set) -> None:
        """What the checks across assignments need; a database scheduled twice or already migrated."""
        gid = a["group"]
        self.touched[(w.name, a["start"])].append((systems, agencies, is_announced))
        self.usage[(w.name, a["start"])].append((gid, est, is_announced))
        self.start_of[gid], self.end_of[gid] = start, end
        for d in a["databases"]:
            if d in self.seen:
                self.problems.append(Finding.of("scheduled-twice", f"{d} is in both {self.seen[d]} and {gid}"))
            self.seen[d] = gid
            if d in self.migrated:
                self.problems.append(Finding.of("already-migrated", f"{gid}: {d} is already migrated"))

    def check_capacity(self) -> None:
        """Rule 3: hours and groups per occurrence."""
        schedule = self.schedule
        problems = self.problems
        windows = self.windows
        usage = self.usage
        # 3. capacity per occurrence
        for (wname, occ_start), items in usage.items():
            w = windows[wname]
            first = next(a for a in schedule["assignments"] if a["window"] == wname and a["start"] == occ_start)
            real = (
                dt.datetime.fromisoformat(first["end"]) - dt.datetime.fromisoformat(occ_start)
            ).total_seconds() / 3600
            if all(announced_ for _, _, announced_ in items):
                continue  # only announced groups: what owners were told stands, full or not
            if sum(h for _, h, _ in items) > real * w.parallel + 1e-6:
                problems.append(
                    Finding.of(
                        "capacity-hours",
                        f"{wname} {occ_start}: {sum(h for _, h, _ in items):.2f} h of groups exceed "
                        f"{real:g} h x {w.parallel}",
                    )
                )
            if w.max_groups is not None and len(items) > w.max_groups:
                problems.append(
                    Finding.of(
                        "capacity-groups", f"{wname} {occ_start}: {len(items)} groups exceed max_groups {w.max_groups}"
                    )
                )

    def check_owner_limits(self) -> None:
        """Owners' max_per_occurrence."""
        plan = self.plan
        problems = self.problems
        touched = self.touched
        # 8. owners' answers: testers per occurrence
        for c in plan.constraints:
            if c.max_per_occurrence is None:
                continue
            for (wname, occ_start), touching in sorted(touched.items()):
                mine = [x for x in touching if set(c.systems) & x[0] or set(c.agencies) & x[1]]
                if len(mine) > c.max_per_occurrence and not all(x[2] for x in mine):
                    problems.append(
                        Finding.of(
                            "owner-max-per-occurrence",
                            f"{wname} {occ_start}: {len(mine)} groups of {', '.join([*c.systems, *c.agencies])} exceed "
                            f"max_per_occurrence {c.max_per_occurrence}",
                        )
                    )

    def check_unscheduled(self) -> None:
        """Unscheduled groups have reasons and known databases, listed once."""
        schedule = self.schedule
        inv = self.inv
        problems = self.problems
        seen = self.seen
        announced_groups = {a["group"] for a in schedule["assignments"] if a.get("announced")}
        for u in schedule.get("unscheduled", []):
            if not u.get("reasons"):
                problems.append(Finding.of("unscheduled-without-reason", f"{u['group']}: unscheduled without a reason"))
            for d in u.get("databases", []):
                if d not in inv.databases:
                    problems.append(
                        Finding.of(
                            "unknown-database", f"{u.get('group')}: unscheduled database {d} is not in the inventory"
                        )
                    )
                    continue
                if d in seen:
                    problems.append(
                        Finding.of(
                            "scheduled-twice", f"{d} is both scheduled ({seen[d]}) and unscheduled ({u['group']})"
                        )
                    )
                seen[d] = u["group"]
        self.announced_groups = announced_groups

    def check_handled(self) -> None:
        """Groups left to a coordinating plan."""
        schedule = self.schedule
        plan = self.plan
        problems = self.problems
        seen = self.seen
        # groups another plan takes (coordinate_with): covered there, never here too
        handled = {h.get("group", "") for h in schedule.get("handled_by", [])}
        for h in schedule.get("handled_by", []):
            if not plan.coordinate_with:
                problems.append(
                    Finding.of(
                        "handled-without-coordination",
                        f"{h.get('group')}: left to {h.get('plan')}, but this plan coordinates with no plan",
                    )
                )
            for d in h.get("databases", []):
                if d in seen:
                    problems.append(
                        Finding.of(
                            "scheduled-twice", f"{d} is both scheduled here ({seen[d]}) and left to {h.get('plan')}"
                        )
                    )
                seen[d] = h.get("group", "")
        self.handled = handled

    def check_test_before_prod(self) -> None:
        """Rule 7: test before prod, per system."""
        plan = self.plan
        inv = self.inv
        problems = self.problems
        start_of = self.start_of
        end_of = self.end_of
        seen = self.seen
        announced_groups = self.announced_groups
        handled = self.handled
        # 7. test before prod, per system
        by_system: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for d, gid in seen.items():
            owner = inv.owner.get(d)
            if owner is not None:
                env = inv.databases[d].environment or "other"
                by_system[owner][0 if env == "prod" else 1].append(gid)
        gap = dt.timedelta(days=plan.test_before_prod_days)
        for system, (prod_groups, test_groups) in by_system.items():
            for p in set(prod_groups):
                if p not in start_of:
                    continue
                for t in set(test_groups):
                    if t == p:
                        continue
                    if p in announced_groups and t in announced_groups:
                        # both were announced: owners were told, the scheduler keeps both and warns
                        # (announced-test-before-prod); not a fault of the schedule
                        continue
                    if t in handled:
                        continue  # the other plan schedules it; the scheduler warns (test-before-prod-across-plans)
                    if t not in end_of and p in announced_groups:
                        # an announced prod group never moves; its unplaceable test group is reported, not a breach
                        continue
                    if t not in end_of:
                        problems.append(
                            Finding.of(
                                "test-before-prod",
                                f"{p}: prod of {system} is scheduled but its non-prod group {t} is not",
                            )
                        )
                    elif start_of[p] < end_of[t] + gap:
                        problems.append(
                            Finding.of(
                                "test-before-prod",
                                f"{p}: prod of {system} starts {start_of[p]:%Y-%m-%d %H:%M}, "
                                f"less than {gap.days} days after "
                                f"{t} ends",
                            )
                        )

    def check_coverage(self) -> None:
        """Every in-scope database once; bound databases together."""
        plan = self.plan
        inv = self.inv
        problems = self.problems
        migrated = self.migrated
        seen = self.seen
        # coverage and co-migration: every in-scope database once; databases on one instance or host together
        from oslomig.planning.grouping import in_scope  # scope selection is a rule of the plan, not of the solver

        for d in sorted(in_scope(plan, inv) - migrated):
            if d not in seen:
                problems.append(
                    Finding.of("not-covered", f"{d} is in scope but neither scheduled nor listed as unscheduled")
                )
        bind = set(plan.grouping.bind)
        together: dict[tuple[str, str], set[str]] = defaultdict(set)
        for d, gid in seen.items():
            db = inv.databases[d]
            if "instance" in bind:
                together[("instance", db.instance)].add(gid)
            if "host" in bind:
                for h in inv.instances[db.instance].all_hosts:
                    together[("host", h)].add(gid)
            if "availability_group" in bind and db.availability_group:
                together[("availability_group", db.availability_group)].add(gid)
        for (rule, key), gids in sorted(together.items()):
            if len(gids) > 1:
                problems.append(
                    Finding.of("group-split", f"databases of {rule} {key} are split over {', '.join(sorted(gids))}")
                )


def verify_schedule(schedule: dict, plan: DatabasePlan, inv: Inventory, today: dt.date) -> list[Finding]:
    """Every hard constraint the schedule breaks, as sentences with codes (empty: it holds)."""
    check = _Check(schedule, plan, inv, today)
    check.check_assignments()
    check.check_capacity()
    check.check_owner_limits()
    check.check_unscheduled()
    check.check_handled()
    check.check_test_before_prod()
    check.check_coverage()
    return check.problems
