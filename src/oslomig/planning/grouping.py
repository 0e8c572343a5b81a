"""Co-migration groups (SPEC §3): databases tied by a `bind` rule move together.

Groups are the connected components of the ties over the *whole* inventory
(union-find over database indices, near-linear), then selected by scope.
A group's id hashes its sorted membership, so it stays the same between
runs while the membership does.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

import xxhash

from oslomig.loading import Inventory
from oslomig.models import DatabasePlan
from oslomig.planning.findings import Finding

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

    def as_json(self) -> dict:
        out = {
            "id": self.id,
            "databases": self.databases,
            "instances": self.instances,
            "hosts": self.hosts,
            "systems": self.systems,
            "agencies": self.agencies,
            "engines": self.engines,
            "environments": self.environments,
            "size_gb": round(self.size_gb, 3),
            "estimated_hours": round(self.estimated_hours, 3),
            "bound_by": self.bound_by,
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
    warnings: list[Finding]

    def as_json(self) -> dict:
        return {
            "plan": self.plan,
            "groups": [g.as_json() for g in self.groups],
            "warnings": [w.as_json() for w in self.warnings],
        }


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
    # The cyclic GC would re-scan the millions of live inventory objects again and again
    # while this allocates (making it superlinear); nothing here creates reference cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compute_groups(plan, inv)
    finally:
        if was_enabled:
            gc.enable()


def _compute_groups(plan: DatabasePlan, inv: Inventory) -> GroupingResult:
    """Connected components of the bind ties over the whole inventory, then selected by scope.

    Built on arrays so a million databases take seconds: every database, instance,
    host, cluster, availability group and (when bound) system is a node of one
    sparse graph; ties are its edges; scipy finds the components. In steps: the
    nodes, the edges the bind rules draw, the components, the keys that really
    tie, the components in scope, then one group record per component.
    """
    import numpy as np

    if not inv.databases:
        return GroupingResult(plan.name, [], [])
    bind: set[str] = set(plan.grouping.bind)
    nodes = _Nodes.of(inv, np)
    labels = _components(nodes, *_tie_edges(nodes, bind, plan.grouping.systems, np), np)
    bound_keys = _bound_keys(nodes, bind, plan.grouping.systems, labels, np)
    order, cut, migrated_mask, scope_mask = _selected(plan, inv, nodes, labels[: nodes.n], np)
    groups, warnings = _group_records(plan, inv, nodes, labels[: nodes.n], bound_keys, order, cut, migrated_mask,
                                      scope_mask)  # fmt: skip
    if "links" not in bind and nodes.link_pairs:
        warnings.extend(_unbound_links(groups, nodes.link_pairs))
    groups.sort(key=lambda g: g.databases[0])
    warnings.sort(key=lambda w: w.sort_key)
    return GroupingResult(plan.name, groups, warnings)


@dataclass
class _Nodes:
    """The graph's nodes as index ranges (databases first, then instances, hosts, clusters, availability groups
    and systems), and each database's instance, owner and availability group as arrays."""

    db_ids: list[str]
    dbs: list
    index: dict[str, int]
    inst_ids: list[str]
    host_ids: list[str]
    cluster_ids: list[str]
    ag_ids: list[str]
    sys_ids: list[str]
    db_inst: Any  # numpy int64 per database: its instance's index, -1 for none
    owner: Any  # per database: its system's index, -1 for none
    ag_idx: Any  # per database: its availability group's index, -1 for none
    ih_inst: Any  # instance -> host pairs (an instance on a RAC or failover cluster has several hosts)
    ih_host: Any
    ic_pairs: Any  # instance -> cluster pairs
    link_pairs: list[tuple[str, str]]

    @property
    def n(self) -> int:
        return len(self.db_ids)

    @property
    def offsets(self) -> tuple[int, int, int, int, int, int]:
        """Where instances, hosts, clusters, availability groups and systems start, and the node count."""
        off_inst = self.n
        off_host = off_inst + len(self.inst_ids)
        off_clu = off_host + len(self.host_ids)
        off_ag = off_clu + len(self.cluster_ids)
        off_sys = off_ag + len(self.ag_ids)
        return off_inst, off_host, off_clu, off_ag, off_sys, off_sys + len(self.sys_ids)

    @classmethod
    def of(cls, inv: Inventory, np) -> _Nodes:
        db_ids = list(inv.databases)
        dbs = list(inv.databases.values())
        index = {d: i for i, d in enumerate(db_ids)}
        inst_ids, host_ids, sys_ids = list(inv.instances), list(inv.hosts), list(inv.systems)
        inst_index = {k: i for i, k in enumerate(inst_ids)}
        host_index = {k: i for i, k in enumerate(host_ids)}
        sys_index = {k: i for i, k in enumerate(sys_ids)}
        cluster_ids = sorted({h.cluster for h in inv.hosts.values() if h.cluster})
        cluster_index = {k: i for i, k in enumerate(cluster_ids)}
        ag_of = [d.availability_group for d in dbs]
        ag_ids = sorted({a for a in ag_of if a})
        # map() over a dict's __getitem__ with a -1 default: the fastest per-database lookup CPython offers
        db_inst = np.array(list(map(_Default(inst_index).__getitem__, [d.instance for d in dbs])), dtype=np.int64)
        owner_lookup = _Default({d: sys_index[s] for d, s in inv.owner.items() if s in sys_index})
        owner = np.array(list(map(owner_lookup.__getitem__, db_ids)), dtype=np.int64)
        ag_lookup = _Default({k: i for i, k in enumerate(ag_ids)})
        ag_idx = np.array(list(map(ag_lookup.__getitem__, ag_of)), dtype=np.int64)
        ih_inst, ih_host = [], []
        for k, inst in enumerate(inv.instances.values()):
            for h in inst.all_hosts:
                if h in host_index:
                    ih_inst.append(k)
                    ih_host.append(host_index[h])
        ih_inst_a, ih_host_a = np.array(ih_inst, dtype=np.int64), np.array(ih_host, dtype=np.int64)
        host_cluster = np.array(
            [cluster_index.get(h.cluster, -1) if h.cluster else -1 for h in inv.hosts.values()], dtype=np.int64
        )
        ic_pairs = (
            np.unique(np.stack([ih_inst_a, host_cluster[ih_host_a]], axis=1), axis=0)
            if len(ih_inst)
            else np.zeros((0, 2), np.int64)
        )
        link_pairs = [(db_ids[i], link) for i, d in enumerate(dbs) if d.links for link in d.links if link in index]
        return cls(db_ids, dbs, index, inst_ids, host_ids, cluster_ids, ag_ids, sys_ids, db_inst, owner, ag_idx,
                   ih_inst_a, ih_host_a, ic_pairs[ic_pairs[:, 1] >= 0], link_pairs)  # fmt: skip


def _tie_edges(nodes: _Nodes, bind: set[str], systems: bool, np) -> tuple[Any, Any]:
    """The edges the bind rules draw: database-instance, instance-host, instance-cluster, database-availability
    group, database-system, database-database (links)."""
    off_inst, off_host, off_clu, off_ag, off_sys, _ = nodes.offsets
    rows, cols = [], []
    has_inst = nodes.db_inst >= 0
    db_range = np.arange(nodes.n, dtype=np.int64)
    ic_pairs = nodes.ic_pairs
    if bind & {"instance", "host"}:
        rows.append(db_range[has_inst])
        cols.append(off_inst + nodes.db_inst[has_inst])
        if "host" in bind:
            rows.append(off_inst + nodes.ih_inst)
            cols.append(off_host + nodes.ih_host)
        if "cluster" in bind and len(ic_pairs):
            rows.append(off_inst + ic_pairs[:, 0])
            cols.append(off_clu + ic_pairs[:, 1])
    elif "cluster" in bind and len(ic_pairs):
        # clusters alone: a database meets its cluster directly, not through its instance
        inst_to_pairs: dict[int, list[int]] = {}
        for inst_k, clu in ic_pairs.tolist():
            inst_to_pairs.setdefault(inst_k, []).append(clu)
        for i in np.flatnonzero(np.isin(nodes.db_inst, ic_pairs[:, 0])).tolist():
            for clu in inst_to_pairs[int(nodes.db_inst[i])]:
                rows.append(np.array([i]))
                cols.append(np.array([off_clu + clu]))
    if "availability_group" in bind:
        m = nodes.ag_idx >= 0
        rows.append(db_range[m])
        cols.append(off_ag + nodes.ag_idx[m])
    if systems:
        m = nodes.owner >= 0
        rows.append(db_range[m])
        cols.append(off_sys + nodes.owner[m])
    if "links" in bind and nodes.link_pairs:
        rows.append(np.array([nodes.index[a] for a, _ in nodes.link_pairs], dtype=np.int64))
        cols.append(np.array([nodes.index[b] for _, b in nodes.link_pairs], dtype=np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return r, c


def _components(nodes: _Nodes, r, c, np):
    """The connected component of every node (scipy, on a sparse matrix of the edges)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    count = nodes.offsets[-1]
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(count, count)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels


def _bound_keys(nodes: _Nodes, bind: set[str], systems: bool, labels, np) -> dict[int, list[tuple[str, str]]]:
    """Per component, the keys that really tie it (two or more databases share them), for `bound_by`."""
    off_inst, off_host, off_clu, _off_ag, _off_sys, _ = nodes.offsets
    db_label = labels[: nodes.n]
    db_inst, owner, ag_idx, ic_pairs = nodes.db_inst, nodes.owner, nodes.ag_idx, nodes.ic_pairs
    per_inst = np.bincount(db_inst[db_inst >= 0], minlength=len(nodes.inst_ids))
    bound_keys: dict[int, list[tuple[str, str]]] = {}

    def add_bound(rule: str, names: list[str], counts, node_offset: int, members=None) -> None:
        for k in np.flatnonzero(counts >= 2).tolist():
            bound_keys.setdefault(
                int(labels[node_offset + k]) if members is None else int(db_label[members[k]]), []
            ).append((rule, names[k]))

    def first_member(idx) -> dict[int, int]:
        first: dict[int, int] = {}
        for i in np.flatnonzero(idx >= 0).tolist():
            first.setdefault(int(idx[i]), i)
        return first

    if "instance" in bind:
        add_bound("instance", nodes.inst_ids, per_inst, off_inst)
    if "host" in bind:
        weights = np.bincount(nodes.ih_host, weights=per_inst[nodes.ih_inst], minlength=len(nodes.host_ids))
        add_bound("host", nodes.host_ids, weights, off_host)
    if "cluster" in bind and len(ic_pairs):
        weights = np.bincount(ic_pairs[:, 1], weights=per_inst[ic_pairs[:, 0]], minlength=len(nodes.cluster_ids))
        add_bound("cluster", nodes.cluster_ids, weights, off_clu)
    if "availability_group" in bind and nodes.ag_ids:
        counts = np.bincount(ag_idx[ag_idx >= 0], minlength=len(nodes.ag_ids))
        add_bound("availability_group", nodes.ag_ids, counts, 0, members=first_member(ag_idx))
    if systems and nodes.sys_ids:
        counts = np.bincount(owner[owner >= 0], minlength=len(nodes.sys_ids))
        add_bound("systems", nodes.sys_ids, counts, 0, members=first_member(owner))
    if "links" in bind:
        for a, b in nodes.link_pairs:
            lo, hi = sorted((a, b))
            bound_keys.setdefault(int(db_label[nodes.index[a]]), []).append(("links", f"{lo} -> {hi}"))
    return bound_keys


def _selected(plan: DatabasePlan, inv: Inventory, nodes: _Nodes, db_label, np) -> tuple:
    """The databases of every component that holds a database in scope and not yet migrated, ordered by
    component (`order`, with `cut` where a component ends), and the migrated and in-scope masks."""
    scope_mask = _scope_mask(plan, inv, np, nodes.index, nodes.db_inst, nodes.owner, nodes.sys_ids)
    migrated_mask = np.zeros(nodes.n, dtype=bool)
    for d in plan.migrated:
        if d in nodes.index:
            migrated_mask[nodes.index[d]] = True
    wanted = np.unique(db_label[scope_mask & ~migrated_mask])
    members = np.flatnonzero(np.isin(db_label, wanted))
    order = members[np.argsort(db_label[members], kind="stable")]
    cut = np.flatnonzero(np.diff(db_label[order])) + 1
    return order, cut, migrated_mask, scope_mask


def _group_records(
    plan: DatabasePlan, inv: Inventory, nodes: _Nodes, db_label, bound_keys, order, cut, migrated_mask, scope_mask
) -> tuple[list[Group], list[Finding]]:
    """One Group per selected component, from plain lists (element access on numpy arrays is slow)."""
    db_ids, dbs, inst_ids, sys_ids = nodes.db_ids, nodes.dbs, nodes.inst_ids, nodes.sys_ids
    inst_hosts = [inst.all_hosts for inst in inv.instances.values()]
    inst_engine = [inst.engine for inst in inv.instances.values()]
    mig, dinst = migrated_mask.tolist(), nodes.db_inst.tolist()
    own, in_scope_l = nodes.owner.tolist(), scope_mask.tolist()
    sizes = [d.size_gb for d in dbs]
    envs_of = [d.environment or "other" for d in dbs]
    agency_of = [inv.systems[s].agency for s in sys_ids]
    hours_per_gb = 1.0 / plan.timing.throughput_gb_per_hour
    overhead = plan.timing.overhead_hours
    key = db_ids.__getitem__
    has_migrated = bool(migrated_mask.any())
    groups: list[Group] = []
    warnings: list[Finding] = []
    db_label_l = db_label.tolist()
    order_l = order.tolist()
    bounds = [0, *cut.tolist(), len(order_l)] if order_l else [0]
    for lo_i, hi_i in zip(bounds, bounds[1:]):
        idxs = order_l[lo_i:hi_i]
        if len(idxs) > 1:
            idxs.sort(key=key)
        moving_idx = [i for i in idxs if not mig[i]] if has_migrated else idxs
        moving = [db_ids[i] for i in moving_idx]
        done = [db_ids[i] for i in idxs if mig[i]] if has_migrated else []
        if len(moving_idx) == 1:  # the common case: a database alone on its server
            i = moving_idx[0]
            k, o = dinst[i], own[i]
            insts = {k} if k >= 0 else set()
            sys_set = {o} if o >= 0 else set()
            envs = [envs_of[i]]
            size = sizes[i]
        else:
            insts = {dinst[i] for i in moving_idx} - {-1}
            sys_set = {own[i] for i in moving_idx} - {-1}
            envs = sorted({envs_of[i] for i in moving_idx})
            size = sum(sizes[i] for i in moving_idx)
        ties = sorted(set(bound_keys.get(db_label_l[idxs[0]], ())))
        groups.append(
            Group(
                id=group_id(moving),
                databases=moving,
                instances=sorted(inst_ids[k] for k in insts),
                hosts=sorted({h for k in insts for h in inst_hosts[k]}),
                systems=sorted(sys_ids[k] for k in sys_set),
                agencies=sorted({agency_of[k] for k in sys_set} - {None}),
                engines=sorted({inst_engine[k] for k in insts}),
                environments=envs,
                size_gb=size,
                estimated_hours=overhead + size * hours_per_gb,
                bound_by=[{"rule": r, "key": k} for r, k in ties],
                migrated=done,
                out_of_scope=[db_ids[i] for i in moving_idx if not in_scope_l[i]],
            )
        )
        warnings.extend(_group_warnings(plan, inv, groups[-1], envs, done))
    return groups, warnings


def _group_warnings(plan: DatabasePlan, inv: Inventory, g: Group, envs: list[str], done: list[str]) -> list[Finding]:
    """What a person should know about one group: members pulled in from outside the scope, prod and non-prod
    together, members already migrated."""
    out: list[Finding] = []
    outside = g.out_of_scope
    for d in outside:
        how = [f"{r} {k}" for r, k in member_ties(plan, inv, g, d)]
        out.append(
            Finding(
                code="out-of-scope-member",
                subject=g.id,
                message=f"{g.id}: {d} is outside the plan's scope but moves with the group (tied by "
                f"{', '.join(how) or 'the group'})",
            )
        )
    if "prod" in envs and NON_PROD.intersection(envs):
        out.append(
            Finding(
                code="mixed-environments",
                subject=g.id,
                message=f"{g.id}: mixes prod and non-prod databases ({', '.join(envs)}); test-before-prod "
                "cannot be kept inside one group",
            )
        )
    if done:
        out.append(
            Finding(
                code="partly-migrated",
                subject=g.id,
                message=f"{g.id}: {len(done)} member(s) already migrated ({', '.join(done)}); the rest still "
                "move together",
            )
        )
    return out


def _unbound_links(groups: list[Group], link_pairs: list[tuple[str, str]]) -> list[Finding]:
    """Links that cross groups when `links` is not bound: they may move in different windows."""
    out: list[Finding] = []
    group_of = {d: g.id for g in groups for d in g.databases}
    for a, b in link_pairs:
        ga, gb = group_of.get(a), group_of.get(b)
        if (ga or gb) and ga != gb:
            out.append(
                Finding(
                    code="unbound-link",
                    subject=ga or gb or "",
                    message=f"{a} links to {b} in "
                    f"{'another group' if ga and gb else 'a database outside this plan'}; "
                    "they may move in different windows (bind `links` to keep them together)",
                )
            )
    return out


class _Default(dict):
    """A dict copy whose missing keys read as -1, for `map(d.__getitem__, keys)`."""

    def __missing__(self, key):
        return -1


def _scope_mask(plan, inv, np, index, db_inst, owner, sys_ids):
    scope = plan.scope
    mask = db_inst >= 0
    if scope.engines:
        ok = np.array([inst.engine in scope.engines for inst in inv.instances.values()] + [False], dtype=bool)
        mask &= ok[db_inst]  # index -1 hits the trailing False
    if scope.systems or scope.agencies:
        allowed = np.array(
            [
                (not scope.systems or s in scope.systems)
                and (not scope.agencies or inv.systems[s].agency in scope.agencies)
                for s in sys_ids
            ]
            + [False],
            dtype=bool,
        )
        mask &= allowed[owner]
    if scope.exclude:
        exclude = set(scope.exclude)
        bad_inst = np.array(
            [k in exclude or bool(exclude.intersection(inst.all_hosts)) for k, inst in inv.instances.items()] + [False],
            dtype=bool,
        )
        mask &= ~bad_inst[db_inst]
        for d in exclude:
            if d in index:
                mask[index[d]] = False
    return mask


def member_ties(plan: DatabasePlan, inv: Inventory, group: Group, db_id: str) -> list[tuple[str, str]]:
    """The group's bound ties that this member takes part in (for warnings and drawings)."""
    db = inv.databases[db_id]
    inst = inv.instances.get(db.instance)
    hosts = inst.all_hosts if inst else []
    mine = {
        ("instance", db.instance),
        ("availability_group", db.availability_group or ""),
        ("systems", inv.owner.get(db_id, "")),
    }
    mine |= {("host", h) for h in hosts}
    mine |= {("cluster", c) for h in hosts if h in inv.hosts and (c := inv.hosts[h].cluster)}
    out = []
    for b in group.bound_by:
        key = (b["rule"], b["key"])
        if key in mine or (b["rule"] == "links" and db_id in b["key"].split(" -> ")):
            out.append(key)
    return out
