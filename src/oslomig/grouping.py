"""Co-migration groups (SPEC §3): databases tied by a `bind` rule move together.

Groups are the connected components of the ties over the *whole* inventory
(union-find over database indices, near-linear), then selected by scope.
A group's id hashes its sorted membership, so it stays the same between
runs while the membership does.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import xxhash

from oslomig.loading import Inventory
from oslomig.models import DatabasePlan

NON_PROD = frozenset({"test", "dev", "staging", "other"})


@dataclass
class Group:
    id: str
    databases: list[str]
    instances: list[str]
    hosts: list[str]
    systems: list[str]
    agencies: list[str]
    engines: list[str]
    environments: list[str]
    size_gb: float
    estimated_hours: float
    bound_by: list[dict]
    migrated: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)
    # per member database, the bound ties it takes part in (for drawing; not part of the JSON)
    ties: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict:
        out = {
            "id": self.id, "databases": self.databases, "instances": self.instances, "hosts": self.hosts,
            "systems": self.systems, "agencies": self.agencies, "engines": self.engines,
            "environments": self.environments, "size_gb": round(self.size_gb, 3),
            "estimated_hours": round(self.estimated_hours, 3), "bound_by": self.bound_by,
        }
        if self.migrated:
            out["migrated"] = self.migrated
        if self.out_of_scope:
            out["out_of_scope"] = self.out_of_scope
        return out


@dataclass
class GroupingResult:
    plan: str
    groups: list[Group]
    warnings: list[dict]

    def as_json(self) -> dict:
        return {"plan": self.plan, "groups": [g.as_json() for g in self.groups], "warnings": self.warnings}


def group_id(members: list[str]) -> str:
    return "G-" + xxhash.xxh64("\n".join(members).encode()).hexdigest()[:10]


def in_scope(plan: DatabasePlan, inv: Inventory) -> set[str]:
    """Databases the plan's scope selects (before ties pull others in)."""
    scope = plan.scope
    engines = set(scope.engines)
    agencies = set(scope.agencies)
    systems = set(scope.systems)
    exclude = set(scope.exclude)
    chosen = set()
    for did, db in inv.databases.items():
        inst = inv.instances.get(db.instance)
        if inst is None:
            continue
        if engines and inst.engine not in engines:
            continue
        owner = inv.owner.get(did)
        if systems and owner not in systems:
            continue
        if agencies:
            system = inv.systems.get(owner) if owner else None
            if system is None or system.agency not in agencies:
                continue
        if did in exclude or db.instance in exclude or exclude.intersection(inst.all_hosts):
            continue
        chosen.add(did)
    return chosen


def compute_groups(plan: DatabasePlan, inv: Inventory) -> GroupingResult:
    ids = sorted(inv.databases)
    index = {d: i for i, d in enumerate(ids)}
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bind = set(plan.grouping.bind)
    first_of: dict[tuple[str, str], int] = {}
    tie_count: dict[tuple[str, str], int] = {}
    ties_of: list[list[tuple[str, str]]] = [[] for _ in ids]

    def tie(i: int, rule: str, key: str) -> None:
        k = (rule, key)
        ties_of[i].append(k)
        j = first_of.setdefault(k, i)
        if j != i:
            tie_count[k] = tie_count.get(k, 1) + 1
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)

    cluster_of = {name: h.cluster for name, h in inv.hosts.items() if h.cluster}
    unbound_links: list[tuple[str, str]] = []
    for i, did in enumerate(ids):
        db = inv.databases[did]
        inst = inv.instances.get(db.instance)
        hosts = inst.all_hosts if inst else []
        if "instance" in bind:
            tie(i, "instance", db.instance)
        if "host" in bind:
            for h in hosts:
                tie(i, "host", h)
        if "cluster" in bind:
            for h in hosts:
                if h in cluster_of:
                    tie(i, "cluster", cluster_of[h])
        if "availability_group" in bind and db.availability_group:
            tie(i, "availability_group", db.availability_group)
        if plan.grouping.systems and did in inv.owner:
            tie(i, "systems", inv.owner[did])
        for link in db.links:
            if link not in index:
                continue
            if "links" in bind:
                a, b = sorted((did, link))
                key = f"{a} -> {b}"
                tie(i, "links", key)
                tie(index[link], "links", key)
            else:
                unbound_links.append((did, link))

    members: dict[int, list[int]] = {}
    for i in range(len(ids)):
        members.setdefault(find(i), []).append(i)
    bound: dict[int, list[tuple[str, str]]] = {}
    for k, n in tie_count.items():
        bound.setdefault(find(first_of[k]), []).append(k)

    scope = in_scope(plan, inv)
    migrated = set(plan.migrated)
    hours_per_gb = 1.0 / plan.timing.throughput_gb_per_hour
    groups: list[Group] = []
    warnings: list[dict] = []
    for root, idxs in members.items():
        dbs = [ids[i] for i in idxs]  # already sorted: indices ascend
        if not any(d in scope and d not in migrated for d in dbs):
            continue
        moving = [d for d in dbs if d not in migrated]
        done = [d for d in dbs if d in migrated]
        gid = group_id(moving)
        instances, hosts, systems, agencies, engines, envs = set(), set(), set(), set(), set(), set()
        size = 0.0
        for d in moving:
            db = inv.databases[d]
            size += db.size_gb
            instances.add(db.instance)
            inst = inv.instances.get(db.instance)
            if inst:
                hosts.update(inst.all_hosts)
                engines.add(inst.engine)
            owner = inv.owner.get(d)
            if owner:
                systems.add(owner)
                agency = inv.systems[owner].agency
                if agency:
                    agencies.add(agency)
            envs.add(db.environment or "other")
        outside = [d for d in moving if d not in scope]
        group_ties = sorted(bound.get(root, []))
        groups.append(Group(
            id=gid, databases=moving, instances=sorted(instances), hosts=sorted(hosts), systems=sorted(systems),
            agencies=sorted(agencies), engines=sorted(engines), environments=sorted(envs), size_gb=size,
            estimated_hours=plan.timing.overhead_hours + size * hours_per_gb,
            bound_by=[{"rule": r, "key": k} for r, k in group_ties], migrated=done, out_of_scope=outside,
            ties={d: sorted(set(ties_of[index[d]]) & set(group_ties)) for d in moving},
        ))
        tied = set(group_ties)
        for d in outside:
            how = [f"{r} {k}" for r, k in ties_of[index[d]] if (r, k) in tied]
            warnings.append({"code": "out-of-scope-member", "group": gid,
                             "message": f"{gid}: {d} is outside the plan's scope but moves with the group (tied by {', '.join(how) or 'the group'})"})
        if envs & {"prod"} and envs & NON_PROD:
            warnings.append({"code": "mixed-environments", "group": gid,
                             "message": f"{gid}: mixes prod and non-prod databases ({', '.join(sorted(envs))}); test-before-prod cannot be kept inside one group"})
        if done:
            warnings.append({"code": "partly-migrated", "group": gid,
                             "message": f"{gid}: {len(done)} member(s) already migrated ({', '.join(done)}); the rest still move together"})
    group_of = {d: g.id for g in groups for d in g.databases}
    for a, b in unbound_links:
        ga, gb = group_of.get(a), group_of.get(b)
        if (ga or gb) and ga != gb:
            warnings.append({"code": "unbound-link", "group": ga or gb,
                             "message": f"{a} links to {b} in {'another group' if ga and gb else 'a database outside this plan'}; "
                                        "they may move in different windows (bind `links` to keep them together)"})
    groups.sort(key=lambda g: g.databases[0])
    warnings.sort(key=lambda w: (w["code"], w["message"]))
    return GroupingResult(plan.name, groups, warnings)


def matches(pattern: str, ident: str) -> bool:
    return fnmatch.fnmatchcase(ident, pattern)
