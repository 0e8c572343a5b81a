from __future__ import annotations

import json

from estate import make_inventory, make_plan

from oslomig.planning.grouping import compute_groups


def ids(result):
    return sorted(tuple(g.databases) for g in result.groups)


def test_instance_host_cluster_and_ag_ties():
    inv = make_inventory(
        [
            {"id": "h1/A/db1", "instance": "h1/A", "size_gb": 10},
            {"id": "h1/B/db2", "instance": "h1/B", "size_gb": 10},  # same host as db1
            {"id": "h2/A/db3", "instance": "h2/A", "size_gb": 10},  # h2 clustered with h3
            {"id": "h3/A/db4", "instance": "h3/A", "size_gb": 10},
            {"id": "h4/A/db5", "instance": "h4/A", "size_gb": 10, "availability_group": "ag1"},
            {"id": "h5/A/db6", "instance": "h5/A", "size_gb": 10, "availability_group": "ag1"},
            {"id": "h6/A/db7", "instance": "h6/A", "size_gb": 10},  # alone
        ],
        hosts=[
            {"name": "h1"},
            {"name": "h2", "cluster": "c1"},
            {"name": "h3", "cluster": "c1"},
            {"name": "h4"},
            {"name": "h5"},
            {"name": "h6"},
        ],
    )
    result = compute_groups(make_plan(), inv)
    assert ids(result) == [("h1/A/db1", "h1/B/db2"), ("h2/A/db3", "h3/A/db4"), ("h4/A/db5", "h5/A/db6"), ("h6/A/db7",)]
    bound = {g.databases[0]: g.bound_by for g in result.groups}
    assert bound["h1/A/db1"] == [{"rule": "host", "key": "h1"}]
    assert bound["h2/A/db3"] == [{"rule": "cluster", "key": "c1"}]
    assert bound["h4/A/db5"] == [{"rule": "availability_group", "key": "ag1"}]
    assert bound["h6/A/db7"] == []


def test_bind_subset_and_rac_hosts():
    inv = make_inventory(
        [{"id": "rac/I/A", "instance": "rac/I"}, {"id": "n2/J/B", "instance": "n2/J"}],
        instances=[
            {"id": "rac/I", "engine": "oracle", "hosts": ["n1", "n2"]},
            {"id": "n2/J", "engine": "oracle", "host": "n2"},
        ],
    )
    assert len(compute_groups(make_plan(), inv).groups) == 1  # the RAC's second node carries J too
    only_instance = make_plan(grouping={"bind": ["instance"]})
    assert len(compute_groups(only_instance, inv).groups) == 2


def test_links_bound_or_warned():
    dbs = [{"id": "h1/A/x", "instance": "h1/A", "links": ["h2/A/y"]}, {"id": "h2/A/y", "instance": "h2/A"}]
    inv = make_inventory(dbs)
    unbound = compute_groups(make_plan(), inv)
    assert len(unbound.groups) == 2
    assert [w.code for w in unbound.warnings] == ["unbound-link"]
    bound = compute_groups(make_plan(grouping={"bind": ["instance", "host", "links"]}), inv)
    assert len(bound.groups) == 1 and bound.groups[0].bound_by == [{"rule": "links", "key": "h1/A/x -> h2/A/y"}]


def test_systems_binding():
    dbs = [{"id": "h1/A/x", "instance": "h1/A"}, {"id": "h2/A/y", "instance": "h2/A"}]
    inv = make_inventory(dbs, systems=[{"id": "S1", "databases": ["*/x", "*/y"]}])
    assert len(compute_groups(make_plan(), inv).groups) == 2
    assert len(compute_groups(make_plan(grouping={"systems": True}), inv).groups) == 1


def test_scope_pulls_in_tied_members_with_a_warning():
    dbs = [
        {"id": "h1/A/sql", "instance": "h1/A"},
        {"id": "h1/O/ora", "instance": "h1/O"},
        {"id": "h2/O/ora2", "instance": "h2/O"},
    ]
    inv = make_inventory(
        dbs,
        instances=[
            {"id": "h1/A", "engine": "sqlserver", "host": "h1"},
            {"id": "h1/O", "engine": "oracle", "host": "h1"},
            {"id": "h2/O", "engine": "oracle", "host": "h2"},
        ],
    )
    result = compute_groups(make_plan(scope={"engines": ["sqlserver"]}), inv)
    assert ids(result) == [("h1/A/sql", "h1/O/ora")]
    (warning,) = result.warnings
    assert (
        warning.code == "out-of-scope-member"
        and warning.subject == result.groups[0].id
        and "h1/O/ora" in warning.message
        and "host h1" in warning.message
    )


def test_exclude_migrated_and_mixed_warnings():
    dbs = [
        {"id": "h1/A/p", "instance": "h1/A", "environment": "prod", "size_gb": 100},
        {"id": "h1/A/t", "instance": "h1/A", "environment": "test", "size_gb": 50},
        {"id": "h9/A/gone", "instance": "h9/A"},
    ]
    inv = make_inventory(dbs)
    result = compute_groups(make_plan(migrated=["h1/A/t"], scope={"exclude": ["h9"]}), inv)
    (group,) = result.groups
    assert group.databases == ["h1/A/p"] and group.migrated == ["h1/A/t"]
    assert group.size_gb == 100 and group.estimated_hours == 1.0 + 100 / 200
    assert [w.code for w in result.warnings] == ["partly-migrated"]
    mixed = compute_groups(make_plan(), inv)
    assert "mixed-environments" in {w.code for w in mixed.warnings}


def test_group_ids_are_stable_and_membership_based():
    dbs = [
        {"id": "h1/A/x", "instance": "h1/A"},
        {"id": "h1/A/y", "instance": "h1/A"},
        {"id": "h2/A/z", "instance": "h2/A"},
    ]
    first = compute_groups(make_plan(), make_inventory(dbs))
    again = compute_groups(make_plan(), make_inventory(list(reversed(dbs))))
    assert json.dumps(first.as_json()) == json.dumps(again.as_json())
    grown = compute_groups(make_plan(), make_inventory(dbs + [{"id": "h3/A/w", "instance": "h3/A"}]))
    before = {g.id for g in first.groups}
    assert before <= {g.id for g in grown.groups}  # unchanged groups keep their ids
    changed = compute_groups(make_plan(), make_inventory(dbs + [{"id": "h2/A/v", "instance": "h2/A"}]))
    assert len({g.id for g in changed.groups} - before) == 1  # only the changed group gets a new id


def test_json_fields_match_spec():
    inv = make_inventory(
        [{"id": "h1/A/x", "instance": "h1/A", "size_gb": 1, "environment": "prod"}],
        systems=[{"id": "S1", "agency": "UKE", "databases": ["h1/A/x"]}],
    )
    payload = compute_groups(make_plan(), inv).as_json()
    assert set(payload) == {"plan", "groups", "warnings"}
    assert set(payload["groups"][0]) == {
        "id",
        "databases",
        "instances",
        "hosts",
        "systems",
        "agencies",
        "engines",
        "environments",
        "size_gb",
        "estimated_hours",
        "bound_by",
    }
    g = payload["groups"][0]
    assert (g["systems"], g["agencies"], g["engines"], g["environments"]) == (["S1"], ["UKE"], ["sqlserver"], ["prod"])
