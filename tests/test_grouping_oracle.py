"""compute_groups (columns, numpy, scipy) held to a plain union-find over the SPEC §3 ties, on generated estates:
members, order, every aggregated field, bound_by, migrated and out-of-scope members."""

from __future__ import annotations

import pytest
from estate import make_inventory, make_plan
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oslomig.planning import grouping
from oslomig.planning.grouping import NON_PROD, compute_groups, group_id

HOSTS = ["h4", "Ø5", "h1", "h3", "h2"]  # not in name order: records list names sorted, not as listed


@st.composite
def estates(draw):
    n_inst = draw(st.integers(1, 6))
    instances = []
    for k in range(n_inst):
        on = draw(st.lists(st.sampled_from(HOSTS + ["ghost"]), min_size=1, max_size=2, unique=True))
        engine = draw(st.sampled_from(["sqlserver", "oracle"]))
        where = {"host": on[0]} if len(on) == 1 else {"hosts": on}
        instances.append({"id": f"i{(k * 7) % 10}", "engine": engine, **where})
    dbs = []
    for d in range(draw(st.integers(1, 12))):
        dbs.append(
            {
                "id": draw(st.sampled_from(["b", "a", "Z", "æ"])) + f"{d:02d}",
                "instance": f"i{(draw(st.integers(0, n_inst - 1)) * 7) % 10}",
                "size_gb": draw(st.sampled_from([0.1, 0.2, 1.5, 3.0, 10.0])),
                "environment": draw(st.sampled_from([None, "prod", "test", "dev"])),
                "availability_group": draw(st.sampled_from([None, None, "ag1", "ag2"])),
                "links": [],
            }
        )
    ids = [d["id"] for d in dbs]
    for d in dbs:
        d["links"] = draw(st.lists(st.sampled_from([*ids, "elsewhere"]), max_size=1))
    hosts = [{"name": h, **({"cluster": "c1"} if h in draw(st.sets(st.sampled_from(HOSTS))) else {})} for h in HOSTS]
    systems = [
        {
            "id": f"S{s}",
            "agency": draw(st.sampled_from([None, "UKE", "BYM"])),
            "databases": [draw(st.sampled_from(ids))],
        }
        for s in range(draw(st.integers(0, 3)))
    ]
    bind = draw(st.sets(st.sampled_from(["instance", "host", "cluster", "availability_group", "links"])))
    plan = {
        "grouping": {"bind": sorted(bind), "systems": draw(st.booleans())},
        "migrated": draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)),
        "scope": {
            "engines": draw(st.sampled_from([[], ["oracle"]])),
            "exclude": draw(st.lists(st.sampled_from(ids), max_size=2)),
        },
    }  # fmt: skip
    return dbs, instances, hosts, systems, plan


def _oracle(inv, plan):
    """Union-find over each database and the keys it is tied by (SPEC §3), then the groups by hand."""
    bind, parent = set(plan.grouping.bind), {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    def hosts_of(inst):
        return [h for h in inst.all_hosts if h in inv.hosts]

    # an instance ties its hosts (and their clusters) even with no database on it: RAC nodes move together
    for k, inst in inv.instances.items() if bind & {"instance", "host"} else ():
        for h in hosts_of(inst):
            if "host" in bind:
                union(("i", k), ("h", h))
            if "cluster" in bind and inv.hosts[h].cluster:
                union(("i", k), ("c", inv.hosts[h].cluster))
    for did, db in inv.databases.items():
        find(did)
        inst = inv.instances.get(db.instance)
        if inst is not None and bind & {"instance", "host"}:
            union(did, ("i", db.instance))
        elif inst is not None and "cluster" in bind:
            for h in hosts_of(inst):
                if inv.hosts[h].cluster:
                    union(did, ("c", inv.hosts[h].cluster))
        if "availability_group" in bind and db.availability_group:
            union(did, ("ag", db.availability_group))
        if plan.grouping.systems and did in inv.owner:
            union(did, ("s", inv.owner[did]))
        for link in db.links if "links" in bind else ():
            if link in inv.databases:
                union(did, link)
    comps: dict = {}
    for did in inv.databases:
        comps.setdefault(find(did), []).append(did)
    scope, migrated = plan.scope, set(plan.migrated)

    def in_scope(did):
        db = inv.databases[did]
        inst = inv.instances.get(db.instance)
        excluded = did in scope.exclude or db.instance in scope.exclude or set(scope.exclude) & set(inst.all_hosts)
        return inst is not None and (not scope.engines or inst.engine in scope.engines) and not excluded

    out = []
    for members in comps.values():
        if not any(in_scope(d) and d not in migrated for d in members):
            continue
        moving = sorted(d for d in members if d not in migrated)
        insts = [inv.instances[inv.databases[d].instance] for d in moving if inv.databases[d].instance in inv.instances]
        systems = sorted({inv.owner[d] for d in moving if d in inv.owner})
        size = sum(inv.databases[d].size_gb for d in moving)
        out.append(
            {
                "id": group_id(moving),
                "databases": moving,
                "instances": sorted({i.id for i in insts}),
                "hosts": sorted({h for i in insts for h in i.all_hosts}),
                "systems": systems,
                "agencies": sorted({inv.systems[s].agency for s in systems} - {None}),
                "engines": sorted({i.engine for i in insts}),
                "environments": sorted({inv.databases[d].environment or "other" for d in moving}),
                "size_gb": round(size, 3),
                "estimated_hours": round(
                    plan.timing.overhead_hours + size * (1.0 / plan.timing.throughput_gb_per_hour), 3
                ),
                "bound_by": _bound_by(inv, plan, members),
                **({"migrated": sorted(d for d in members if d in migrated)} if migrated & set(members) else {}),
                **({"out_of_scope": [d for d in moving if not in_scope(d)]} if not all(map(in_scope, moving)) else {}),
            }
        )
    return sorted(out, key=lambda g: g["databases"][0])


def _bound_by(inv, plan, members):
    """The keys two or more databases of the inventory share, per bound rule."""
    bind, keys = set(plan.grouping.bind), []
    dbs = [inv.databases[d] for d in members]

    def shared(rule, key_of):
        counts: dict = {}
        for db in dbs:
            for k in key_of(db):
                counts[k] = counts.get(k, 0) + 1
        keys.extend((rule, k) for k, n in counts.items() if n >= 2)

    def inst_hosts(db):
        inst = inv.instances.get(db.instance)
        return [h for h in (inst.all_hosts if inst else []) if h in inv.hosts]

    if "instance" in bind:
        shared("instance", lambda db: [db.instance] if db.instance in inv.instances else [])
    if "host" in bind:
        shared("host", inst_hosts)
    if "cluster" in bind:
        shared("cluster", lambda db: sorted({c for h in inst_hosts(db) if (c := inv.hosts[h].cluster)}))
    if "availability_group" in bind:
        shared("availability_group", lambda db: [db.availability_group] if db.availability_group else [])
    if plan.grouping.systems:
        shared("systems", lambda db: [inv.owner[db.id]] if db.id in inv.owner else [])
    if "links" in bind:
        keys.extend(
            ("links", " -> ".join(sorted((db.id, link)))) for db in dbs for link in db.links if link in inv.databases
        )
    return [{"rule": r, "key": k} for r, k in sorted(set(keys))]


_WARNINGS = ("mixed-environments", "partly-migrated", "out-of-scope-member")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
@example(
    (
        [{"id": "a1", "instance": "i0", "size_gb": 0.1, "environment": "prod", "links": []},
         {"id": "a0", "instance": "i0", "size_gb": 0.2, "environment": "test", "links": []}],
        [{"id": "i0", "engine": "oracle", "hosts": ["h1", "ghost"]}],
        [{"name": h} for h in HOSTS],
        [{"id": "S0", "agency": None, "databases": ["a1"]}],
        {"grouping": {"bind": ["host"], "systems": True}, "migrated": [], "scope": {"engines": [], "exclude": []}},
    )
)  # fmt: skip
@example(
    (
        [{"id": "b1", "instance": "i0", "size_gb": 1.5, "environment": "prod", "links": []},
         {"id": "a2", "instance": "i7", "size_gb": 3.0, "environment": "prod", "links": []},
         {"id": "a3", "instance": "i7", "size_gb": 3.0, "environment": None, "links": []}],
        [{"id": "i0", "engine": "oracle", "host": "h1"}, {"id": "i7", "engine": "sqlserver", "host": "h1"}],
        [{"name": h} for h in HOSTS],
        [],
        {"grouping": {"bind": ["host"]}, "migrated": ["a3"], "scope": {"engines": ["oracle"], "exclude": []}},
    )
)  # fmt: skip
@pytest.mark.parametrize(
    "few, many, scipy_from", [(63, 4096, 200_000), (0, 0, 0)], ids=["bit-sets-and-dicts", "numpy-sorts"]
)
def test_groups_equal_a_plain_union_find(few, many, scipy_from, estate):
    dbs, instances, hosts, systems, plan_fields = estate
    inv = make_inventory(
        dbs, hosts=hosts, systems=systems, instances=instances, agencies=[{"id": "UKE"}, {"id": "BYM"}]
    )
    plan = make_plan(**plan_fields)
    # small estates take the bit-set and dict paths and numpy's components; (0, 0, 0) sends them the way a big
    # estate's names and graph go
    saved = grouping._FEW_NAMES, grouping._MANY_NAMES, grouping._SCIPY_FROM
    grouping._FEW_NAMES, grouping._MANY_NAMES, grouping._SCIPY_FROM = few, many, scipy_from
    try:
        result = compute_groups(plan, inv).as_json()
    finally:
        grouping._FEW_NAMES, grouping._MANY_NAMES, grouping._SCIPY_FROM = saved
    expected = _oracle(inv, plan)
    assert [g["databases"] for g in result["groups"]] == [g["databases"] for g in expected]
    for got, want in zip(result["groups"], expected):
        for key in sorted(set(got) | set(want)):
            assert got.get(key) == want.get(key), (got["id"], key)
    groups = result["groups"]
    mixed = {g["id"] for g in groups if "prod" in g["environments"] and NON_PROD & set(g["environments"])}
    warned = {code: {w["subject"] for w in result["warnings"] if w["code"] == code} for code in _WARNINGS}
    assert warned["mixed-environments"] == mixed
    assert warned["partly-migrated"] == {g["id"] for g in groups if g.get("migrated")}
    assert warned["out-of-scope-member"] == {g["id"] for g in groups if g.get("out_of_scope")}


@pytest.mark.parametrize(
    "names", [["b", "a", "Ø", "ab", "a\0"], ["a\0", "a", "a\0\0"], ["x"], []], ids=["text", "nul", "one", "none"]
)
def test_rank_matches_python_order(names):
    """Ids are ranked by numpy where it can (not with trailing NULs, which numpy's text drops) and by Python
    otherwise: either way Python's order."""
    import numpy as np

    want = sorted(range(len(names)), key=names.__getitem__)
    assert grouping._rank(names, np).tolist() == [want.index(i) for i in range(len(names))]
    saved, grouping._MANY_NAMES = grouping._MANY_NAMES, 0  # as for the many names of a big estate
    try:
        codes = grouping._codes(names + names, np)
    finally:
        grouping._MANY_NAMES = saved
    assert codes[0] == sorted(set(names)) and [codes[0][c] for c in codes[1].tolist()] == names + names


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 60),
    edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80),
    chain=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_components_by_numpy_equal_scipys(count, edges, chain, seed):
    """Hooking and pointer jumping finds scipy's components, numbered alike, on random graphs and on long chains
    in shuffled order (the most rounds)."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = [(a % count, b % count) for a, b in edges]
    if chain:
        order = np.random.default_rng(seed).permutation(count).tolist()
        pairs += list(zip(order, order[1:]))
    r = np.array([a for a, _b in pairs], dtype=np.int64)
    c = np.array([b for _a, b in pairs], dtype=np.int64)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(count, count)).tocsr()
    _, expected = connected_components(graph, directed=False)
    assert grouping._hook_and_jump(count, r, c, np).tolist() == expected.tolist()
