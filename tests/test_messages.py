"""Messages people read, checked to the word: schema errors, hints, tab positions, --explain."""

from __future__ import annotations

import datetime as dt

import pytest
from estate import make_inventory, make_plan

from oslomig import models
from oslomig.loading import _type_name, allowed_keys, parse_model
from oslomig.problems import Problems
from oslomig.yamlload import YamlError, load_text


@pytest.mark.parametrize(
    "text,name",
    [
        ("- a\n", "a list"),
        ("just text\n", "a string"),
        ("42\n", "a number"),
        ("4.5\n", "a number"),
        ("true\n", "a boolean"),
        ("~\n", "nothing"),
    ],
)
def test_the_top_level_names_what_it_found(text, name):
    problems = Problems()
    assert parse_model(load_text(text, "f.yaml"), models.DatabasePlan, problems) is None
    assert [p.message for p in problems] == [f"the top level must be a mapping of keys, not {name}"]
    assert _type_name({}) == "dict"


def _messages(text: str, cls=models.DatabasePlan) -> list[tuple[int, int, str, str]]:
    problems = Problems()
    parse_model(load_text(text, "f.yaml"), cls, problems)
    return sorted((p.line, p.column, p.code, p.message) for p in problems)


def test_missing_keys_say_where_only_below_the_top():
    assert _messages("kind: database-migration\nname: x\n") == [(1, 1, "missing", "missing required key 'period'")]
    got = _messages("kind: database-migration\nname: x\nperiod: {start: 2021-05-03}\n")
    assert got == [(3, 9, "missing", "missing required key 'end' in period")]


def test_unknown_keys_get_one_hint_or_the_allowed_list():
    got = _messages(
        "kind: database-migration\nname: x\nperiod: {start: 2021-05-03, end: 2021-06-01}\n"
        "windows: [{name: w, weekdays: [tue], start: '18:00', hours: 4, paralel: 2}]\n"
    )
    assert got == [(4, 64, "unknown-key", "unknown key 'paralel' in windows[0] (did you mean 'parallel'?)")]
    got = _messages("kind: database-migration\nname: x\nperiod: {start: 2021-05-03, end: 2021-06-01, zzz: 1}\n")
    assert got == [(3, 46, "unknown-key", "unknown key 'zzz' in period; allowed: start, end")]
    got = _messages(
        "kind: share-migration\nname: x\nshares:\n  - id: s\n    source: /x\n"
        "    target: {site: 'https://t.sharepoint.com/sites/S', libary: Docs}\n",
        models.SharePlan,
    )
    assert got == [(6, 56, "unknown-key", "unknown key 'libary' in shares[0].target (did you mean 'library'?)")]


def test_allowed_keys_walk_lists_optionals_and_aliases():
    assert allowed_keys(models.DatabasePlan, ("period",)) == ["start", "end"]
    assert allowed_keys(models.DatabasePlan, ("blackouts", 3))[:3] == ["name", "from", "to"]
    assert allowed_keys(models.SharePlan, ("shares", 0, "ssh")) == [
        "key_file",
        "known_hosts",
        "accept_new_host_key",
        "timeout_s",
    ]
    assert allowed_keys(models.SharePlan, ("shares", 0, "routes", 1, "target"))[:2] == ["site", "library"]
    assert allowed_keys(models.DatabasePlan, ("name",)) == []
    assert allowed_keys(models.DatabasePlan, ("windows", 0, "name", "deeper")) == []


def test_wrong_types_name_the_value():
    got = _messages(
        "kind: database-migration\nname: x\nperiod: {start: 2021-05-03, end: 2021-06-01}\nnotice_days: many\n"
    )
    assert got == [
        (
            4,
            14,
            "wrong-type",
            "notice_days: Input should be a valid integer, unable to parse string as an integer (got 'many')",
        )
    ]


@pytest.mark.parametrize(
    "text,line,col",
    [
        ("a:\n\tb: 1\n", 2, 1),
        ("a:\n  b: 1\n  \tc: 2\n", 3, 3),
        ("a:\n  - x\n\t- y\n", 3, 1),
    ],
)
def test_a_tab_in_indentation_is_found_where_it_is(text, line, col):
    with pytest.raises(YamlError) as err:
        load_text(text)
    assert (err.value.code, err.value.line, err.value.column) == ("tab-indent", line, col)


def test_a_syntax_error_without_tabs_is_not_called_a_tab():
    with pytest.raises(YamlError) as err:
        load_text("a: [1, 2\nb:\t3\n")
    assert err.value.code == "yaml-syntax"


def test_explain_says_why_each_earlier_window_was_passed_over():
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.scheduling import build_schedule

    inv = make_inventory(
        [
            {"id": "t1/A/test", "instance": "t1/A", "size_gb": 200, "environment": "test"},
            {"id": "p1/A/prod", "instance": "p1/A", "size_gb": 200, "environment": "prod"},
        ],
        systems=[{"id": "S1", "agency": "UKE", "databases": ["t1/A/test", "p1/A/prod"]}],
    )
    plan = make_plan(
        period={"start": "2021-05-03", "end": "2021-06-30"},
        test_before_prod_days=7,
        windows=[{"name": "tue", "weekdays": ["tue"], "start": "18:00", "hours": 10}],
        blackouts=[{"name": "pinse", "from": "2021-05-25", "to": "2021-05-25"}],
    )
    grouping = compute_groups(plan, inv)
    prod = next(g.id for g in grouping.groups if "p1/A/prod" in g.databases)
    test = next(g.id for g in grouping.groups if "t1/A/test" in g.databases)
    sched = build_schedule(plan, inv, grouping, dt.date(2021, 4, 27), explain_group=prod)
    assert sched.explain[prod] == [
        "placed in tue 2021-06-01 18:00–2021-06-02 04:00 (2.00 h of 10 h)",
        "  tue 2021-05-04 18:00: before the notice date 2021-05-11",
        f"  tue 2021-05-11 18:00: test-before-prod: waits for {test}",
        f"  tue 2021-05-18 18:00: test-before-prod: waits for {test}",
        "  tue 2021-05-25 18:00: blackout pinse",
    ]
    first = build_schedule(plan, inv, grouping, dt.date(2021, 4, 27), explain_group=test)
    assert first.explain[test][0] == "placed in tue 2021-05-11 18:00–2021-05-12 04:00 (2.00 h of 10 h)"
