"""The verifier, one constraint at a time: a correct schedule of a small estate, tampered with one way per case,
must produce exactly the expected sentences (and the boundary cases none)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from estate import make_inventory, make_plan

from oslomig.planning.grouping import compute_groups
from oslomig.planning.scheduling import build_schedule
from oslomig.planning.verifier import verify_schedule as findings


def verify_schedule(*args) -> list[str]:
    """The verifier's sentences; every finding is also a coded error about a subject (checked here each time)."""
    found = findings(*args)
    for f in found:
        assert f.severity == "error" and f.code and f.code.replace("-", "").isalpha() and f.message, f
    return [str(f) for f in found]


TODAY = dt.date(2021, 4, 1)
INV = make_inventory(
    [
        {"id": "t1/A/test", "instance": "t1/A", "size_gb": 200, "environment": "test"},
        {"id": "p1/A/prod", "instance": "p1/A", "size_gb": 200, "environment": "prod"},
        {"id": "p1/A/prod2", "instance": "p1/A", "size_gb": 0, "environment": "prod"},
        {"id": "q1/B/x", "instance": "q1/B", "size_gb": 0, "environment": "prod", "availability_group": "ag1"},
        {"id": "q2/B/y", "instance": "q2/B", "size_gb": 0, "environment": "prod", "availability_group": "ag1"},
    ],
    systems=[
        {"id": "S1", "agency": "UKE", "databases": ["t1/A/test", "p1/A/prod", "p1/A/prod2"]},
        {"id": "S2", "agency": "UKE", "databases": ["q1/B/x", "q2/B/y"]},
    ],
)
PLAN = make_plan(
    period={"start": "2021-05-03", "end": "2021-06-30"},
    test_before_prod_days=7,
    windows=[
        {"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 6, "parallel": 1},
        {"name": "sat", "weekdays": ["sat"], "start": "18:00", "hours": 6, "max_groups": 1},
    ],
)


@pytest.fixture(scope="module")
def good():
    result = build_schedule(PLAN, INV, compute_groups(PLAN, INV), TODAY).as_json()
    assert verify_schedule(result, PLAN, INV, TODAY) == []
    return result


def group_of(schedule, db):
    return next(a for a in schedule["assignments"] if db in a["databases"])


def move(a, start: str, window: str | None = None):
    begin = dt.datetime.fromisoformat(start)
    a["start"] = begin.isoformat()
    a["end"] = (begin + dt.timedelta(hours=6)).isoformat()
    if window:
        a["window"] = window


def test_estimated_hours_must_add_up(good):
    s = copy.deepcopy(good)
    a = group_of(s, "t1/A/test")
    a["estimated_hours"] = 9.0
    assert verify_schedule(s, PLAN, INV, TODAY) == [
        f"{a['group']}: estimated_hours 9.0 but the databases add up to 2.000"
    ]


def test_the_period_end_is_inclusive_and_nothing_after_it(good):
    s = copy.deepcopy(good)
    a = group_of(s, "q1/B/x")
    move(a, "2021-06-29T18:00:00+02:00", "tue")  # ends 00:00 on the 30th: inside
    assert verify_schedule(s, PLAN, INV, TODAY) == []
    plan = PLAN.model_copy(update={"period": PLAN.period.model_copy(update={"end": dt.date(2021, 6, 29)})})
    assert verify_schedule(s, plan, INV, TODAY) == []  # ends exactly at midnight after the last day: inside
    move(a, "2021-07-06T18:00:00+02:00", "tue")
    assert verify_schedule(s, PLAN, INV, TODAY) == [
        f"{a['group']}: 2021-07-06T18:00:00+02:00–2021-07-07T00:00:00+02:00 is outside the period"
    ]


def test_capacity_and_max_groups_per_occurrence(good):
    s = copy.deepcopy(good)
    prod, ag = group_of(s, "p1/A/prod"), group_of(s, "q1/B/x")
    move(ag, prod["start"], prod["window"])  # the sat window takes one group
    assert verify_schedule(s, PLAN, INV, TODAY) == [f"sat {prod['start']}: 2 groups exceed max_groups 1"]
    big = INV.databases["t1/A/test"].model_copy(update={"size_gb": 900})  # 1 + 4.5 h next to the 1 h group
    inv = copy.copy(INV)
    inv.databases = {**INV.databases, "t1/A/test": big}
    s2 = copy.deepcopy(good)
    group_of(s2, "t1/A/test")["estimated_hours"] = 5.5
    assert verify_schedule(s2, PLAN, inv, TODAY) == [
        f"tue {group_of(s2, 't1/A/test')['start']}: 6.50 h of groups exceed 6 h x 1"
    ]


def test_test_before_prod(good):
    s = copy.deepcopy(good)
    test, prod = group_of(s, "t1/A/test"), group_of(s, "p1/A/prod")
    move(prod, "2021-05-11T18:00:00+02:00", "tue")  # 6 days 18 hours after the test group ends
    assert verify_schedule(s, PLAN, INV, TODAY) == [
        f"{prod['group']}: prod of S1 starts 2021-05-11 18:00, less than 7 days after {test['group']} ends"
    ]
    assert verify_schedule(s, PLAN.model_copy(update={"test_before_prod_days": 6}), INV, TODAY) == []


def test_prod_scheduled_while_its_test_group_is_not(good):
    s = copy.deepcopy(good)
    test, prod = group_of(s, "t1/A/test"), group_of(s, "p1/A/prod")
    s["assignments"].remove(test)
    s["unscheduled"].append({"group": test["group"], "databases": test["databases"], "reasons": ["tampered"]})
    assert verify_schedule(s, PLAN, INV, TODAY) == [
        f"{prod['group']}: prod of S1 is scheduled but its non-prod group {test['group']} is not"
    ]
    s["unscheduled"][-1]["reasons"] = []
    assert f"{test['group']}: unscheduled without a reason" in verify_schedule(s, PLAN, INV, TODAY)


def test_bound_databases_must_not_be_split(good):
    s = copy.deepcopy(good)
    ag = group_of(s, "q1/B/x")
    ag["databases"] = ["q1/B/x"]
    s["assignments"].append({**copy.deepcopy(ag), "group": "G-split", "databases": ["q2/B/y"]})
    assert verify_schedule(s, PLAN, INV, TODAY) == [
        f"databases of availability_group ag1 are split over G-split, {ag['group']}"
        if ag["group"] > "G-split"
        else f"databases of availability_group ag1 are split over {ag['group']}, G-split"
    ]
    s2 = copy.deepcopy(good)
    prod = group_of(s2, "p1/A/prod")
    prod["databases"] = ["p1/A/prod"]
    s2["assignments"].append(
        {**copy.deepcopy(prod), "group": "G-inst", "databases": ["p1/A/prod2"], "estimated_hours": 1.0}
    )
    broken = verify_schedule(s2, PLAN, INV, TODAY)
    assert any(line.startswith("databases of instance p1/A are split over") for line in broken)
    assert any(line.startswith("databases of host p1 are split over") for line in broken)
