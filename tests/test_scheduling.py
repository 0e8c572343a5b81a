from __future__ import annotations

import datetime as dt
import os

from estate import make_inventory, make_plan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oslomig.planning.grouping import compute_groups
from oslomig.planning.scheduling import build_schedule
from oslomig.planning.timewindows import occurrences
from oslomig.planning.verifier import verify_schedule

TODAY = dt.date(2021, 4, 1)


def schedule(plan, inv, today=TODAY, **kw):
    result = build_schedule(plan, inv, compute_groups(plan, inv), today, **kw)
    assert verify_schedule(result.as_json(), plan, inv, today) == []
    return result


def starts(result):
    return {a.group.databases[0]: a.occurrence.start for a in result.assignments}


def test_window_across_daylight_saving_changes():
    plan = make_plan(
        period={"start": "2021-03-20", "end": "2021-11-06"},
        windows=[{"name": "sat", "weekdays": ["sat"], "start": "18:00", "hours": 10}],
    )
    occs = {o.start.date(): o for o in occurrences(plan)}
    assert occs[dt.date(2021, 10, 30)].real_hours == 11  # clocks go back: an hour longer
    assert occs[dt.date(2021, 3, 27)].real_hours == 9  # clocks go forward: an hour shorter
    assert occs[dt.date(2021, 10, 23)].real_hours == 10
    assert occs[dt.date(2021, 10, 30)].end.utcoffset() == dt.timedelta(hours=1)
    # 10.5 h fits only the October night; 9.5 h fits every night but the March one
    inv = make_inventory([{"id": "h1/A/big", "instance": "h1/A", "size_gb": 1900}])  # 1 + 9.5 h
    result = schedule(
        make_plan(period={"start": "2021-10-01", "end": "2021-11-06"}, windows=plan.model_dump()["windows"]), inv
    )
    assert starts(result)["h1/A/big"].date() == dt.date(2021, 10, 30)
    inv2 = make_inventory([{"id": "h1/A/mid", "instance": "h1/A", "size_gb": 1700}])  # 9.5 h
    spring = schedule(
        make_plan(period={"start": "2021-03-20", "end": "2021-04-30"}, windows=plan.model_dump()["windows"]),
        inv2,
        today=dt.date(2021, 3, 13),
    )  # first candidate: 27 March
    assert starts(spring)["h1/A/mid"].date() == dt.date(2021, 4, 3)  # not 27 March


def test_notice_blackouts_and_holidays():
    inv = make_inventory([{"id": "h1/A/x", "instance": "h1/A"}], systems=[{"id": "PAY", "databases": ["h1/A/x"]}])
    plan = make_plan(blackouts=[{"name": "holidays", "holidays": "NO"}])
    # today 2021-04-28 + 14 days = 2021-05-12; Thursday 13 May 2021 is Ascension Day; next is Tue 18 May
    result = schedule(plan, inv, today=dt.date(2021, 4, 28))
    assert starts(result)["h1/A/x"].date() == dt.date(2021, 5, 18)
    payroll = make_plan(blackouts=[{"name": "payroll", "monthly_days": [4, 5, 6], "systems": ["PAY"]}])
    assert starts(schedule(payroll, inv))["h1/A/x"].date() == dt.date(2021, 5, 11)  # 4 May and 6 May are out
    other = make_plan(blackouts=[{"name": "payroll", "monthly_days": [4, 5, 6], "systems": ["OTHER"]}])
    assert starts(schedule(other, inv))["h1/A/x"].date() == dt.date(2021, 5, 4)


def _per_night(result):
    nights = {}
    for a in result.assignments:
        nights.setdefault(a.occurrence.start, []).append(a)
    return sorted((len(v) for v in nights.values()), reverse=True)


def test_capacity_parallel_and_max_groups():
    window = {"name": "w", "weekdays": ["tue"], "start": "18:00", "hours": 10, "parallel": 2, "max_groups": 3}
    plan = make_plan(windows=[window])
    eight_hours = make_inventory([{"id": f"h{i}/A/x", "instance": f"h{i}/A", "size_gb": 1400} for i in range(5)])
    assert _per_night(schedule(plan, eight_hours)) == [2, 2, 1]  # 3 x 8 h > 10 h x 2
    two_hours = make_inventory([{"id": f"h{i}/A/x", "instance": f"h{i}/A", "size_gb": 200} for i in range(5)])
    assert _per_night(schedule(plan, two_hours)) == [3, 2]  # max_groups


def test_engines_restrict_windows():
    inv = make_inventory(
        [{"id": "h1/O/x", "instance": "h1/O"}], instances=[{"id": "h1/O", "engine": "oracle", "host": "h1"}]
    )
    plan = make_plan(
        windows=[
            {"name": "sql-only", "weekdays": ["tue"], "start": "18:00", "hours": 10, "engines": ["sqlserver"]},
            {"name": "any", "weekdays": ["sat"], "start": "08:00", "hours": 10},
        ]
    )
    (a,) = schedule(plan, inv).assignments
    assert a.occurrence.window == "any"


def test_test_before_prod():
    dbs = [
        {"id": "p1/A/app", "instance": "p1/A", "environment": "prod"},
        {"id": "t1/A/app_test", "instance": "t1/A", "environment": "test", "size_gb": 1000},
    ]
    inv = make_inventory(dbs, systems=[{"id": "S", "databases": ["*/app*"]}])
    result = schedule(make_plan(), inv)
    s = starts(result)
    test_end = next(a.occurrence.end for a in result.assignments if a.group.databases == ["t1/A/app_test"])
    assert s["p1/A/app"] >= test_end + dt.timedelta(days=7)
    # a chain that cannot fit in the period: the prod group is unscheduled with the reason
    tight = schedule(make_plan(test_before_prod_days=60), inv)
    (u,) = tight.unscheduled
    assert u.group.databases == ["p1/A/app"] and any("test-before-prod" in r for r in u.reasons)


def test_announced_kept_in_blackout_and_counts_against_capacity():
    dbs = [{"id": "h1/A/x", "instance": "h1/A", "size_gb": 1400}, {"id": "h2/A/y", "instance": "h2/A", "size_gb": 1400}]
    inv = make_inventory(dbs)
    plan = make_plan(
        windows=[{"name": "w", "weekdays": ["tue"], "start": "18:00", "hours": 10}],
        blackouts=[{"name": "frozen", "from": "2021-05-01", "to": "2021-05-05"}],
        announced=[{"database": "h1/A/x", "start": "2021-05-04T18:00"}],
    )
    result = schedule(plan, inv, today=dt.date(2021, 4, 28))  # the announced start is inside the notice period too
    s = starts(result)
    assert s["h1/A/x"] == dt.datetime(2021, 5, 4, 18, 0, tzinfo=s["h1/A/x"].tzinfo)
    assert s["h2/A/y"].date() == dt.date(2021, 5, 18)  # 11 May is before the notice date; 4 May is full
    assert {w.code for w in result.warnings} >= {"announced-in-blackout"}
    assert [a.announced for a in result.assignments] == [True, False]


def test_bad_plans_explain_every_unscheduled_group():
    inv = make_inventory(
        [{"id": "h1/A/huge", "instance": "h1/A", "size_gb": 5000}, {"id": "h2/A/ok", "instance": "h2/A"}]
    )
    too_big = schedule(make_plan(), inv)
    (u,) = too_big.unscheduled
    assert "too short (10 h) for 26.00 h" in u.reasons[0]
    blacked = schedule(make_plan(blackouts=[{"name": "all", "from": "2021-05-01", "to": "2021-07-01"}]), inv)
    reasons = {u.group.databases[0]: " ".join(map(str, u.reasons)) for u in blacked.unscheduled}
    assert "17x blackout all" in reasons["h2/A/ok"] and "too short" in reasons["h1/A/huge"]
    late = schedule(make_plan(), inv, today=dt.date(2021, 6, 25))
    assert len(late.unscheduled) == 2 and "before the notice date 2021-07-09" in late.unscheduled[1].reasons[0]
    no_windows = schedule(make_plan(windows=[]), inv)
    assert [[(r.code, str(r)) for r in u.reasons] for u in no_windows.unscheduled] == [
        [("no-window", "no window occurs inside the period")]
    ] * 2


def test_deterministic_output():
    dbs = [{"id": f"h{i % 4}/A/d{i}", "instance": f"h{i % 4}/A", "size_gb": 100 * i} for i in range(12)]
    inv = make_inventory(dbs)
    plan = make_plan(windows=[{"name": "w", "weekdays": ["tue"], "start": "18:00", "hours": 10, "max_groups": 1}])
    a = build_schedule(plan, inv, compute_groups(plan, inv), TODAY).as_json()
    b = build_schedule(plan, inv, compute_groups(plan, inv), TODAY).as_json()
    assert a == b


# ------------------------------------------------------------ property tests

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def estates(draw):
    n_hosts = draw(st.integers(1, 10))
    n_dbs = draw(st.integers(n_hosts, n_hosts + 12))
    dbs = []
    for i in range(n_dbs):
        host = draw(st.integers(0, n_hosts - 1)) if i >= n_hosts else i  # every host holds at least one database
        inst = draw(st.sampled_from(["A", "B"]))
        dbs.append(
            {
                "id": f"h{host}/{inst}/db{i}",
                "instance": f"h{host}/{inst}",
                "size_gb": draw(st.sampled_from([0, 10, 10, 40, 150, 600, 1200, 2500])),
                "environment": draw(st.sampled_from(["prod", "prod", "prod", "test", "dev"])),
                "availability_group": draw(st.sampled_from([None, None, None, "ag1"])),
            }
        )
    engines = {f"h{h}/{i}": draw(st.sampled_from(["sqlserver", "oracle"])) for h in range(n_hosts) for i in "AB"}
    instances = [
        {"id": i, "engine": e, "host": i.split("/")[0]}
        for i, e in sorted(engines.items())
        if any(d["instance"] == i for d in dbs)
    ]
    hosts = [{"name": f"h{h}", "cluster": draw(st.sampled_from([None, None, "c1"]))} for h in range(n_hosts)]
    n_sys = draw(st.integers(1, 4))
    owner = {d["id"]: draw(st.integers(0, n_sys - 1)) for d in dbs}
    systems = [
        {"id": f"S{s}", "agency": "UKE", "databases": [d for d, o in owner.items() if o == s] or ["nomatch-*"]}
        for s in range(n_sys)
    ]
    systems = [s for s in systems if s["databases"] != ["nomatch-*"]]
    inv = make_inventory(dbs, hosts=hosts, instances=instances, systems=systems)
    windows = []
    for w in range(draw(st.sampled_from([0, 1, 1, 2]))):
        windows.append(
            {
                "name": f"w{w}",
                "weekdays": draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True)),
                "start": draw(st.sampled_from(["08:00", "18:00", "22:30", "02:30"])),
                "hours": draw(st.sampled_from([2, 6, 10, 14])),
                "parallel": draw(st.integers(1, 3)),
                "max_groups": draw(st.sampled_from([None, None, 1, 2, 3])),
                "engines": draw(st.sampled_from([[], ["sqlserver"]])),
            }
        )
    blackouts = draw(
        st.sampled_from(
            [
                [],
                [{"name": "ferie", "from": "2021-07-01", "to": "2021-08-08"}],
                [{"name": "h", "holidays": "NO"}, {"name": "pay", "monthly_days": [9, 10], "systems": ["S0"]}],
            ]
        )
    )
    # periods that cross the March and October clock changes (a 02:30 start does not exist on the March night)
    plan = make_plan(
        period={
            "start": draw(st.sampled_from(["2021-03-01", "2021-05-03"])),
            "end": draw(st.sampled_from(["2021-06-15", "2021-09-30", "2021-11-10"])),
        },
        windows=windows,
        blackouts=blackouts,
        test_before_prod_days=draw(st.sampled_from([0, 7, 30])),
        scope={"engines": draw(st.sampled_from([[], ["sqlserver"]]))},
        migrated=draw(st.lists(st.sampled_from([d["id"] for d in dbs]), max_size=2, unique=True)),
    )
    occs = occurrences(plan)
    if occs and draw(st.booleans()):
        o = draw(st.sampled_from(occs))
        plan = plan.model_copy(
            update={
                "announced": [
                    type(plan)
                    .model_validate(
                        {
                            **plan.model_dump(by_alias=True),
                            "announced": [
                                {
                                    "database": draw(st.sampled_from([d["id"] for d in dbs])),
                                    "start": o.start.replace(tzinfo=None).isoformat(),
                                }
                            ],
                        }
                    )
                    .announced[0]
                ]
            }
        )
    today = draw(st.sampled_from([dt.date(2021, 2, 1), dt.date(2021, 4, 1), dt.date(2021, 5, 20), dt.date(2021, 8, 1)]))
    return plan, inv, today


@settings(
    max_examples=int(os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(estates(), st.booleans())
def test_every_schedule_passes_the_verifier(case, use_solver):
    """Greedy alone and the CP-SAT path (forced, even where the greedy schedule is already at the bound) must both
    produce schedules the independent verifier accepts; the solver never schedules fewer groups than the greedy."""
    from hypothesis import event

    plan, inv, today = case
    grouping = compute_groups(plan, inv)
    greedy = build_schedule(plan, inv, grouping, today, use_solver=False).as_json()
    result = (
        build_schedule(plan, inv, grouping, today, time_limit=2.0, force_solver=use_solver).as_json()
        if use_solver
        else greedy
    )
    assert verify_schedule(result, plan, inv, today) == []
    placed = {d for a in result["assignments"] for d in a["databases"]} | {
        d for u in result["unscheduled"] for d in u["databases"]
    }
    from oslomig.planning.grouping import in_scope

    assert in_scope(plan, inv) - set(plan.migrated) <= placed
    assert all(u["reasons"] for u in result["unscheduled"])
    assert result["summary"]["scheduled"] >= greedy["summary"]["scheduled"]
    if result["summary"]["finish"] and result["summary"]["lower_bound"]:
        assert result["summary"]["lower_bound"] <= result["summary"]["finish"]
    shared = {}
    for a in result["assignments"]:
        shared.setdefault((a["window"], a["start"]), []).append(a["group"])
    event(
        "two or more groups share an occurrence"
        if any(len(v) > 1 for v in shared.values())
        else "one group per occurrence"
    )
    event(f"solver: {result['summary'].get('solver', '?')}")
    # no assignment starts at a local time the clocks skip
    from zoneinfo import ZoneInfo

    for a in result["assignments"]:
        local = dt.datetime.fromisoformat(a["start"]).astimezone(ZoneInfo(plan.timezone))
        window = next(w for w in plan.windows if w.name == a["window"])
        assert local.strftime("%H:%M") == window.start


def test_vectorised_feasibility_matches_the_rule_one_by_one():
    """The numpy filter and `_ruled_out` must agree exactly: too strict hides windows, too lax breaks rules."""
    from pathlib import Path

    from oslomig.loading import parse_model, read_document
    from oslomig.models import DatabasePlan
    from oslomig.planning import scheduling
    from oslomig.planning.timewindows import blackout_days
    from oslomig.problems import Problems
    from oslomig.validation import load_checked_inventory

    root = Path(__file__).resolve().parent.parent
    problems = Problems()
    inv = load_checked_inventory([root / "inventories"], problems)
    plan = parse_model(read_document(root / "plans" / "sql-2021.yaml", problems), DatabasePlan, problems)
    today = dt.date(2021, 5, 20)
    occs = occurrences(plan)
    sets = [
        blackout_days(b, plan.period.start - dt.timedelta(days=1), plan.period.end + dt.timedelta(days=2))
        for b in plan.blackouts
    ]
    ctx = scheduling._Ctx(plan, inv, today, occs, None, sets)
    feasible = scheduling._Feasibility(ctx)
    for group in compute_groups(plan, inv).groups:
        one_by_one = [o.index for o in occs if scheduling._ruled_out(ctx, group, o) is None]
        assert feasible.options(group) == one_by_one, group.id


def test_the_verifier_holds_the_notice_rule_to_notice_days():
    """A start less than notice_days after today breaks rule 6; exactly notice_days after is allowed."""
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-06-30"},
        notice_days=10,
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10}],
    )
    inv = make_inventory([{"id": "h1/A/db", "instance": "h1/A", "size_gb": 10}])
    result = build_schedule(plan, inv, compute_groups(plan, inv), dt.date(2021, 5, 1)).as_json()
    assert result["assignments"][0]["start"].startswith("2021-05-11")  # the first Tuesday 10 days on
    assert verify_schedule(result, plan, inv, dt.date(2021, 5, 1)) == []
    late = verify_schedule(result, plan, inv, dt.date(2021, 5, 2))  # now it starts 9 days after today
    assert [(f.code, f.subject, str(f)) for f in late] == [
        (
            "notice",
            result["assignments"][0]["group"],
            f"{result['assignments'][0]['group']}: starts 2021-05-11, less than 10 days after 2021-05-02",
        )
    ]
    stricter = plan.model_copy(update={"notice_days": 11})
    assert verify_schedule(result, stricter, inv, dt.date(2021, 5, 1))


def test_the_cp_sat_model_itself_is_right():
    """The CP-SAT path, forced, on an instance with precedence (test before prod), capacity, max_groups and an
    announced group: it must answer (not fall back to the greedy), prove optimality, place every group, match the
    greedy's finish where the greedy is optimal, and pass the verifier. A wrong model is infeasible (falls back),
    or breaks a rule the verifier sees, or finishes later."""
    dbs = []
    for s in range(3):
        dbs.append({"id": f"t{s}/A/test", "instance": f"t{s}/A", "size_gb": 200 * (s + 1), "environment": "test"})
        dbs.append({"id": f"p{s}/A/prod", "instance": f"p{s}/A", "size_gb": 300, "environment": "prod"})
    systems = [{"id": f"S{s}", "agency": "UKE", "databases": [f"t{s}/A/test", f"p{s}/A/prod"]} for s in range(3)]
    inv = make_inventory(dbs, systems=systems)
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-07-30"},
        test_before_prod_days=7,
        windows=[
            {"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10, "parallel": 1, "max_groups": 2},
            {"name": "thu", "weekdays": ["thu"], "start": "20:00", "hours": 6, "parallel": 1},
        ],
        announced=[{"database": "t0/A/test", "start": "2021-05-25T18:00"}],
    )
    today = dt.date(2021, 4, 20)
    grouping = compute_groups(plan, inv)
    greedy = build_schedule(plan, inv, grouping, today, use_solver=False).as_json()
    solved = build_schedule(plan, inv, grouping, today, force_solver=True, time_limit=10).as_json()
    assert solved["summary"]["solver"] == "cp-sat" and solved["summary"]["proven_optimal"]
    assert solved["summary"]["scheduled"] == len(grouping.groups) == 6
    assert verify_schedule(solved, plan, inv, today) == []
    assert solved["summary"]["finish"] <= greedy["summary"]["finish"]
    announced = next(a for a in solved["assignments"] if "t0/A/test" in a["databases"])
    assert announced["start"] == "2021-05-25T18:00:00+02:00" and announced["announced"]


def test_prod_groups_whose_test_group_can_never_move_do_not_stop_the_proof():
    """An announced prod group stays though its test group has no occurrence left before it (the deadline has
    passed); a prod group whose test group fits no window can never be placed. The greedy places everything else at
    the lower bound, so its answer is proven without the solver; the solver, forced, agrees and proves it too (it
    once called such a model infeasible, because the announced group's precedence was kept as a constraint)."""
    dbs = []
    for s, test_gb in ((0, 10), (1, 10), (2, 100_000)):  # S2's test database fits no 10-hour window
        dbs.append({"id": f"t{s}/A/test", "instance": f"t{s}/A", "size_gb": test_gb, "environment": "test"})
        dbs.append({"id": f"p{s}/A/prod", "instance": f"p{s}/A", "size_gb": 10, "environment": "prod"})
    systems = [{"id": f"S{s}", "agency": "UKE", "databases": [f"t{s}/A/test", f"p{s}/A/prod"]} for s in range(3)]
    inv = make_inventory(dbs, systems=systems)
    plan = make_plan(announced=[{"database": "p0/A/prod", "start": "2021-06-08T18:00"}])
    today = dt.date(2021, 6, 3)  # t0 had to end by 1 June 18:00, before any occurrence after the notice date
    grouping = compute_groups(plan, inv)
    greedy = schedule(plan, inv, today=today).as_json()
    placed = sorted(d for a in greedy["assignments"] for d in a["databases"])
    assert placed == ["p0/A/prod", "p1/A/prod", "t1/A/test"]
    assert (greedy["summary"]["solver"], greedy["summary"]["proven_optimal"]) == ("greedy", True)
    assert greedy["summary"]["finish"] == greedy["summary"]["lower_bound"]
    solved = build_schedule(plan, inv, grouping, today, force_solver=True, time_limit=10).as_json()
    assert (solved["summary"]["solver"], solved["summary"]["proven_optimal"]) == ("cp-sat", True)
    assert sorted(d for a in solved["assignments"] for d in a["databases"]) == placed
    assert solved["summary"]["finish"] == greedy["summary"]["finish"]
    assert verify_schedule(solved, plan, inv, today) == []


def test_announced_groups_are_kept_with_a_warning_for_each_way_they_break_the_rules():
    """Owners were told: an announced start stays even outside the period, in a blackout, in a window too short, or
    where members were announced apart; each gets its warning, word for word, and the verifier accepts the result."""
    dbs = [
        {"id": "a1/A/out", "instance": "a1/A", "size_gb": 10, "environment": "prod"},
        {"id": "b1/A/black", "instance": "b1/A", "size_gb": 10, "environment": "prod"},
        {"id": "c1/A/big", "instance": "c1/A", "size_gb": 2000, "environment": "prod"},
        {"id": "d1/A/one", "instance": "d1/A", "size_gb": 333, "environment": "prod"},
        {"id": "d1/A/two", "instance": "d1/A", "size_gb": 0, "environment": "prod"},
        {"id": "e1/A/nowin", "instance": "e1/A", "size_gb": 1, "environment": "prod"},
    ]
    inv = make_inventory(dbs)
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-06-30"},
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 6}],
        blackouts=[{"name": "pinse", "from": "2021-05-25", "to": "2021-05-25"}],
        announced=[
            {"database": "a1/A/out", "start": "2021-07-06T18:00"},
            {"database": "b1/A/black", "start": "2021-05-25T18:00"},
            {"database": "c1/A/big", "start": "2021-05-18T18:00"},
            {"database": "d1/A/one", "start": "2021-05-18T18:00"},
            {"database": "d1/A/two", "start": "2021-06-01T18:00"},
            {"database": "e1/A/nowin", "start": "2021-05-19T18:00"},
        ],
    )
    grouping = compute_groups(plan, inv)
    gid = {d: g.id for g in grouping.groups for d in g.databases}
    result = build_schedule(plan, inv, grouping, dt.date(2021, 5, 17)).as_json()
    got = sorted((w["code"], w["message"]) for w in result["warnings"])
    assert got == sorted(
        [
            (
                "announced-outside-period",
                f"{gid['a1/A/out']}: announced start 2021-07-06 18:00 lies outside the period; kept as announced",
            ),
            (
                "announced-in-blackout",
                f"{gid['b1/A/black']}: announced start 2021-05-25 18:00 falls in blackout pinse; "
                "kept, because owners were told",
            ),
            (
                "announced-does-not-fit",
                f"{gid['c1/A/big']}: announced window tue 2021-05-18 18:00 is too short (6 h) for "
                "11.00 h; kept, because owners were told",
            ),
            (
                "announced-conflict",
                f"{gid['d1/A/one']}: members were announced for different starts; keeping 2021-05-18 18:00",
            ),
            (
                "announced-not-a-window",
                f"{gid['e1/A/nowin']}: announced start 2021-05-19 18:00 is not an occurrence of any "
                "window; kept as announced",
            ),
        ]
    )
    by_group = {a["group"]: a for a in result["assignments"]}
    assert by_group[gid["a1/A/out"]]["start"] == "2021-07-06T18:00:00+02:00" and by_group[gid["a1/A/out"]]["announced"]
    assert by_group[gid["c1/A/big"]]["start"] == "2021-05-18T18:00:00+02:00"
    # the 2.665 h group and the 11 h group share the 18 May occurrence: announced groups count against capacity
    d = by_group[gid["d1/A/one"]]
    assert (d["start"], d["estimated_hours"], d["size_gb"]) == ("2021-05-18T18:00:00+02:00", 2.665, 333.0)
    # a start that is no occurrence is not kept: the group is scheduled like any other, after the notice date
    assert by_group[gid["e1/A/nowin"]]["announced"] is False
    assert by_group[gid["e1/A/nowin"]]["start"] == "2021-06-01T18:00:00+02:00"
    summary = result["summary"]
    assert summary["finish"] == "2021-07-07T00:00:00+02:00" and summary["lower_bound"] is not None
    assert summary["gap_hours"] is not None and summary["gap_hours"] >= 0


def test_a_group_exactly_as_long_as_the_window_fits_and_a_minute_more_does_not():
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-05-31"},
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 6}],
    )
    exact = make_inventory([{"id": "h1/A/db", "instance": "h1/A", "size_gb": 1000}])  # 1 + 1000/200 = 6.0 h
    result = build_schedule(plan, exact, compute_groups(plan, exact), TODAY).as_json()
    assert result["summary"]["scheduled"] == 1 and result["assignments"][0]["estimated_hours"] == 6.0
    over = make_inventory([{"id": "h1/A/db", "instance": "h1/A", "size_gb": 1001}])  # 6.005 h
    result = build_schedule(plan, over, compute_groups(plan, over), TODAY).as_json()
    assert result["summary"]["scheduled"] == 0
    assert result["unscheduled"][0]["reasons"] == [
        "window tue: 4 of 4 occurrences ruled out (4x too short (6 h) for 6.00 h)"
    ]


def test_an_announced_group_takes_its_place_under_max_groups():
    dbs = [{"id": f"h{i}/A/db", "instance": f"h{i}/A", "size_gb": 10} for i in range(4)]
    inv = make_inventory(dbs)
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-05-31"},
        notice_days=0,
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10, "parallel": 4, "max_groups": 2}],
        announced=[{"database": "h0/A/db", "start": "2021-05-04T18:00"}],
    )
    result = build_schedule(plan, inv, compute_groups(plan, inv), dt.date(2021, 5, 1), use_solver=False).as_json()
    assert verify_schedule(result, plan, inv, dt.date(2021, 5, 1)) == []
    per_start = {}
    for a in result["assignments"]:
        per_start.setdefault(a["start"], []).append(a["databases"][0])
    assert per_start == {
        "2021-05-04T18:00:00+02:00": ["h0/A/db", "h1/A/db"],
        "2021-05-11T18:00:00+02:00": ["h2/A/db", "h3/A/db"],
    }


def replan_not_beaten_by_the_solver(changed, inv, grouping, today, previous):
    """The re-plan, checked by the verifier; where the greedy calls it optimal without the solver, CP-SAT on the
    same objective (as many groups scheduled, as few moved, finish as early) must not do better."""
    again = build_schedule(changed, inv, grouping, today, time_limit=2.0, previous=previous)
    assert verify_schedule(again.as_json(), changed, inv, today) == []
    if again.proven_optimal and again.solver == "greedy":
        solved = build_schedule(changed, inv, grouping, today, time_limit=5.0, previous=previous, force_solver=True)

        def score(s) -> tuple:
            return len(s.assignments), -len(s.moved or []), -(s.finish.timestamp() if s.finish else 0)

        assert score(solved) <= score(again), (score(solved), score(again))
    return again


@settings(
    max_examples=int(os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(estates(), st.integers(0, 3), st.sampled_from([("2021-05-01", "2021-06-30"), ("2021-03-01", "2021-09-30")]))
def test_a_replan_the_greedy_calls_optimal_is_not_beaten_by_the_solver(case, system, span):
    """A re-plan (one new blackout for one system) that the greedy claims optimal (every group placed, every group
    kept that can stay, the finish at the bound) must not be beaten by CP-SAT on the same objective: as many groups
    scheduled, as few moved, finish as early."""
    from hypothesis import assume, event

    from oslomig.models import Blackout

    plan, inv, today = case
    grouping = compute_groups(plan, inv)
    first = build_schedule(plan, inv, grouping, today, use_solver=False).as_json()
    assume(first["assignments"])
    blackout = Blackout.model_validate({"name": "new", "from": span[0], "to": span[1], "systems": [f"S{system}"]})
    changed = plan.model_copy(update={"blackouts": [*plan.blackouts, blackout]})
    again = replan_not_beaten_by_the_solver(changed, inv, grouping, today, first["assignments"])
    event(f"re-plan solver: {again.solver.split(' ')[0]}; proven {again.proven_optimal}")


@settings(
    max_examples=int(os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(estates())
def test_a_plan_the_greedy_calls_optimal_is_not_beaten_by_the_solver(case):
    """A first plan the greedy claims optimal (every placeable group placed, the finish at the bound) must not be
    beaten by CP-SAT: prod groups behind a test group that cannot move, announced groups and cycles of mixed groups
    included (what `_placeable` counts)."""
    from hypothesis import event

    plan, inv, today = case
    again = replan_not_beaten_by_the_solver(plan, inv, compute_groups(plan, inv), today, None)
    event(f"solver: {again.solver.split(' ')[0]}; proven {again.proven_optimal}")


def test_a_replan_proves_the_extra_move_a_full_week_forces():
    """Tuesdays only, one group a night. The test group T loses its night to a blackout; its prod group P can stay
    only if T moves to the one earlier free night. When that night is free, only T moves; when a kept group fills
    it, P must move too, and the greedy proves this (no solver run) — the fewest moves and the finish both at
    their bounds."""
    from oslomig.models import Blackout

    dbs = [
        {"id": "t1/A/app_test", "instance": "t1/A", "size_gb": 10, "environment": "test"},
        {"id": "p1/A/app", "instance": "p1/A", "size_gb": 10, "environment": "prod"},
        {"id": "f1/A/filler", "instance": "f1/A", "size_gb": 10, "environment": "prod"},
    ]
    systems = [
        {"id": "S0", "agency": "UKE", "databases": ["t1/A/app_test", "p1/A/app"]},
        {"id": "S1", "agency": "UKE", "databases": ["f1/A/filler"]},
    ]
    inv = make_inventory(dbs, systems=systems)
    window = {"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10, "max_groups": 1}
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-06-30"}, windows=[window], notice_days=0, test_before_prod_days=7
    )
    grouping = compute_groups(plan, inv)
    gid = {g.databases[0]: g.id for g in grouping.groups}

    def at(day: str) -> str:
        return f"2021-05-{day}T18:00:00+02:00"

    def previous(filler_day: str) -> list[dict]:
        rows = [("t1/A/app_test", "11"), ("p1/A/app", "25"), ("f1/A/filler", filler_day)]
        return [
            {
                "group": gid[d],
                "window": "tue",
                "start": at(day),
                "end": at(day),
                "databases": [d],
                "estimated_hours": 1.0,
            }  # fmt: skip
            for d, day in rows
        ]

    blackout = Blackout.model_validate({"name": "b", "from": "2021-05-11", "to": "2021-05-11", "systems": ["S0"]})
    changed = plan.model_copy(update={"blackouts": [blackout]})
    today = dt.date(2021, 5, 1)
    # the night of the 4th is free: T moves there, P stays on the 25th
    free = build_schedule(changed, inv, grouping, today, previous=previous("18"))
    assert [m["group"] for m in free.moved] == [gid["t1/A/app_test"]]
    assert free.proven_optimal and free.solver == "greedy"  # proven without the solver
    # the filler holds the 4th: one move more is needed, and which group takes it is a choice. Moving P (T to the
    # 18th, P to 1 June) finishes a week later than moving the filler (T to the 4th, the filler to the 18th): the
    # greedy makes room for T by moving the filler instead, and that finish is at the bound, so no solver runs
    full = build_schedule(changed, inv, grouping, today, previous=previous("04"))
    assert len(full.moved) == 2 and full.solver == "greedy" and full.proven_optimal
    assert full.finish == dt.datetime(2021, 5, 26, 4, tzinfo=full.finish.tzinfo)
    assert {m["group"] for m in full.moved} == {gid["t1/A/app_test"], gid["f1/A/filler"]}
    assert verify_schedule(full.as_json(), changed, inv, today) == []


@st.composite
def full_nights(draw):
    """Tuesdays only, one group a night, systems of a test and a prod database (test moves a week before prod) and
    single fillers, packed night after night by a first plan: a blackout then forces groups to move where the
    nights around them are taken, the case where one move more than the blacked-out groups is needed."""
    n_pairs = draw(st.integers(1, 4))
    n_fillers = draw(st.integers(0, 5))
    dbs, systems = [], []
    for s in range(n_pairs):
        dbs.append({"id": f"t{s}/A/app", "instance": f"t{s}/A", "size_gb": 10, "environment": "test"})
        dbs.append({"id": f"p{s}/A/app", "instance": f"p{s}/A", "size_gb": 10, "environment": "prod"})
        systems.append({"id": f"S{s}", "agency": "UKE", "databases": [f"t{s}/A/app", f"p{s}/A/app"]})
    for f in range(n_fillers):
        dbs.append({"id": f"f{f}/A/x", "instance": f"f{f}/A", "size_gb": 10, "environment": "prod"})
        systems.append({"id": f"F{f}", "agency": "UKE", "databases": [f"f{f}/A/x"]})
    inv = make_inventory(dbs, systems=systems)
    window = {"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10, "max_groups": 1}
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-08-31"}, windows=[window], notice_days=0, test_before_prod_days=7
    )
    system = draw(st.sampled_from([s["id"] for s in systems]))
    first = draw(st.integers(0, 8))
    span = (dt.date(2021, 5, 4) + dt.timedelta(weeks=first), dt.date(2021, 5, 4) + dt.timedelta(weeks=first + 1))
    return plan, inv, system, span


@settings(
    max_examples=int(os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(full_nights())
def test_a_replan_on_full_nights_is_optimal_when_the_greedy_says_so(case):
    """Where the greedy makes room for a group that must move (another group moves instead of its prod group) and
    calls the result optimal without the solver, CP-SAT on the same objective does no better."""
    from hypothesis import event

    from oslomig.models import Blackout

    plan, inv, system, span = case
    today = dt.date(2021, 5, 1)
    grouping = compute_groups(plan, inv)
    first = build_schedule(plan, inv, grouping, today, use_solver=False).as_json()
    blackout = Blackout.model_validate({"name": "new", "from": str(span[0]), "to": str(span[1]), "systems": [system]})
    changed = plan.model_copy(update={"blackouts": [blackout]})
    again = replan_not_beaten_by_the_solver(changed, inv, grouping, today, first["assignments"])
    event(f"{len(again.moved)} moved; {again.solver.split(' ')[0]}; proven {again.proven_optimal}")


def test_a_greedy_that_leaves_a_placeable_group_out_at_the_bound_is_not_called_optimal():
    """Three groups, three Tuesdays, one group a night. X (the largest, so placed first) can take the 4th or the
    18th, Y and Z the 4th or the 11th. The greedy puts X on the 4th and Y on the 11th: Z is left out, and the finish
    (the 11th) equals the bound for the two it placed. That is no proof: all three fit (X on the 18th), and the
    solver finds it."""
    dbs = [
        {"id": "x1/A/big", "instance": "x1/A", "size_gb": 600},
        {"id": "y1/A/app", "instance": "y1/A", "size_gb": 10},
        {"id": "z1/A/app", "instance": "z1/A", "size_gb": 10},
    ]
    systems = [{"id": f"S{k}", "agency": "UKE", "databases": [db["id"]]} for k, db in enumerate(dbs)]
    inv = make_inventory(dbs, systems=systems)
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-05-19"},
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10, "max_groups": 1}],
        notice_days=0,
        blackouts=[
            {"name": "x-busy", "from": "2021-05-11", "to": "2021-05-11", "systems": ["S0"]},
            {"name": "yz-busy", "from": "2021-05-18", "to": "2021-05-18", "systems": ["S1", "S2"]},
        ],
    )
    grouping = compute_groups(plan, inv)
    greedy = build_schedule(plan, inv, grouping, dt.date(2021, 5, 1), use_solver=False)
    assert len(greedy.assignments) == 2 and not greedy.proven_optimal  # the case: the greedy alone misses one
    result = build_schedule(plan, inv, grouping, dt.date(2021, 5, 1))
    assert verify_schedule(result.as_json(), plan, inv, dt.date(2021, 5, 1)) == []
    starts = {a["databases"][0]: a["start"][:10] for a in result.as_json()["assignments"]}
    assert starts == {"x1/A/big": "2021-05-18", "y1/A/app": "2021-05-04", "z1/A/app": "2021-05-11"} or starts == {
        "x1/A/big": "2021-05-18",
        "y1/A/app": "2021-05-11",
        "z1/A/app": "2021-05-04",
    }
    assert result.proven_optimal and result.solver != "greedy"
