"""Window occurrences and blackout days in the plan's time zone (SPEC §3).

A window `start: "18:00", hours: 10` means 18:00 local to 04:00 local: the
wall-clock span people are told. Across a daylight-saving change the real
duration differs (11 h in the October night, 9 h in the March night); the
real duration is what a group's `estimated_hours` must fit in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from oslomig.models import WEEKDAYS, Blackout, DatabasePlan, Window


@dataclass(frozen=True)
class Occurrence:
    index: int
    window: str
    start: dt.datetime  # aware, plan tz
    end: dt.datetime  # aware, plan tz
    parallel: int
    max_groups: int | None
    engines: frozenset[str]
    hours: float  # as written in the plan

    @property
    def real_hours(self) -> float:
        # through UTC: aware datetimes sharing one tzinfo subtract as wall-clock times in Python
        utc = dt.UTC
        return (self.end.astimezone(utc) - self.start.astimezone(utc)).total_seconds() / 3600.0

    @property
    def days(self) -> tuple[dt.date, ...]:
        """Every local calendar day the occurrence touches (an end exactly at midnight does not touch the next day)."""
        last = (self.end - dt.timedelta(microseconds=1)).date()
        first = self.start.date()
        return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))


def local_span(day: dt.date, start: str, hours: float, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    hh, mm = (int(x) for x in start.split(":"))
    naive = dt.datetime.combine(day, dt.time(hh, mm))
    begin = naive.replace(tzinfo=tz)
    # wall-clock arithmetic: add to the naive local time, then attach the zone
    # (fold=0 picks the first of a repeated hour)
    end = (naive + dt.timedelta(hours=hours)).replace(tzinfo=tz)
    # normalise non-existent local times (spring gap) by a round trip through UTC
    return _normal(begin), _normal(end)


def exists_locally(naive: dt.datetime, tz: ZoneInfo) -> bool:
    """False for a wall-clock time the spring clock change skips (02:30 on the last Sunday of March in Oslo)."""
    return _normal(naive.replace(tzinfo=tz)).replace(tzinfo=None) == naive


def _normal(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).astimezone(value.tzinfo)


def window_days(window: Window, first: dt.date, last: dt.date) -> list[dt.date]:
    wanted = {WEEKDAYS.index(d) for d in window.weekdays}
    days = {d for d in window.dates if first <= d <= last}
    if wanted:
        day = first
        while day <= last:
            if day.weekday() in wanted:
                days.add(day)
            day += dt.timedelta(days=1)
    return sorted(days)


def occurrences(plan: DatabasePlan) -> list[Occurrence]:
    """Every occurrence of every window whose span lies inside the period, in start order (then window order)."""
    tz = ZoneInfo(plan.timezone)
    period_end = dt.datetime.combine(plan.period.end + dt.timedelta(days=1), dt.time()).replace(tzinfo=tz)
    found = []
    for order, window in enumerate(plan.windows):
        if window.hours <= 0 or window.parallel < 1:
            continue
        hh, mm = (int(x) for x in window.start.split(":"))
        for day in window_days(window, plan.period.start, plan.period.end):
            if not exists_locally(dt.datetime.combine(day, dt.time(hh, mm)), tz):
                # the start time does not exist that night (spring clock change): no occurrence, rather than a start
                # an hour later than owners were told; the verifier rules the same
                continue
            start, end = local_span(day, window.start, window.hours, tz)
            if end > period_end:
                continue
            found.append((start, order, window, end))
    found.sort(key=lambda x: (x[0], x[1]))
    return [
        Occurrence(i, w.name, s, e, w.parallel, w.max_groups, frozenset(w.engines), w.hours)
        for i, (s, _, w, e) in enumerate(found)
    ]


def matching_window(plan: DatabasePlan, start: dt.datetime) -> Window | None:
    """The window of which a local start time is an occurrence (ignoring the period), if any."""
    day = start.date()
    hhmm = start.strftime("%H:%M")
    for window in plan.windows:
        if window.start == hhmm and (day in window.dates or WEEKDAYS[day.weekday()] in window.weekdays):
            return window
    return None


@lru_cache(maxsize=64)
def _holiday_days(country: str, years: tuple[int, ...]) -> frozenset[dt.date]:
    import holidays

    code, _, subdiv = country.partition("-")
    kwargs: dict[str, Any] = {"years": list(years)}
    if subdiv:
        kwargs["subdiv"] = subdiv
    if code == "NO":
        kwargs["include_sundays"] = False  # Norway's calendar counts every Sunday as a holiday; we mean the named days
    try:
        return frozenset(holidays.country_holidays(code, **kwargs).keys())
    except TypeError:  # a country without include_sundays
        kwargs.pop("include_sundays", None)
        return frozenset(holidays.country_holidays(code, **kwargs).keys())


def supported_country(country: str) -> bool:
    """Whether the holidays package has a calendar for the country: the registry's codes, aliases included
    (the same keys as `holidays.list_supported_countries()`, which imports every country's module: 0.15-0.25 s)."""
    from holidays.registry import EntityLoader

    return country.partition("-")[0] in EntityLoader.get_country_codes(True)


def blackout_days(blackout: Blackout, first: dt.date, last: dt.date) -> frozenset[dt.date]:
    """The days of [first, last] that a blackout covers."""
    if blackout.from_ is not None and blackout.to is not None:
        lo, hi = max(first, blackout.from_), min(last, blackout.to)
        return frozenset(lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)) if lo <= hi else frozenset()
    if blackout.holidays:
        years = tuple(range(first.year, last.year + 1))
        return frozenset(d for d in _holiday_days(blackout.holidays, years) if first <= d <= last)
    out = set()
    day = first
    weekdays = {WEEKDAYS.index(w) for w in blackout.weekdays}
    monthly = set(blackout.monthly_days)
    while day <= last:
        if day.day in monthly or day.weekday() in weekdays:
            out.add(day)
        day += dt.timedelta(days=1)
    return frozenset(out)
