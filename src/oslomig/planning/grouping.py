"""Co-migration groups (SPEC §3): databases tied by a `bind` rule move together.

Groups are the connected components of the ties over the *whole* inventory
(union-find over database indices, near-linear), then selected by scope.
A group's id hashes its sorted membership, so it stays the same between
runs while the membership does.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress, repeat
from operator import attrgetter, itemgetter
from typing import Any

import xxhash

from oslomig.collector import without_cycle_collector
from oslomig.loading import Inventory
from oslomig.models import DatabasePlan
from oslomig.planning.findings import Finding

NON_PROD = frozenset({"test", "dev", "staging", "other"})
# how the records gather names: vocabularies this small as bit sets, this many distinct names sorted by numpy
_FEW_NAMES = 63
_MANY_NAMES = 4096
_SCIPY_FROM = 200_000  # graph nodes from which scipy finds the components (see `_components`)


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
    """A group's id: a hash of its sorted membership."""
    return _group_ids([members])[0]


def _group_ids(members_of: list[list[str]]) -> list[str]:
    """`group_id` of every group, hashed through map() (no Python frame per group)."""
    digests = map(xxhash.xxh64_hexdigest, map(str.encode, map("\n".join, members_of)))
    return ["G-" + h[:10] for h in digests]


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


@without_cycle_collector  # it would rescan the millions of live inventory objects while this allocates
def compute_groups(plan: DatabasePlan, inv: Inventory) -> GroupingResult:
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
    db_ids = list(inv.databases)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the databases' id order (a string sort, ~0.4 s at a million) is worked out beside the steps bound to the
        # interpreter: numpy lets go of the GIL while it sorts
        id_rank = pool.submit(_rank, db_ids, np)
        nodes = _Nodes.of(inv, db_ids, np)
        # the sorted names the records are made of, worked out beside the graph's steps in the same way
        vocab = pool.submit(_Vocab.of, inv, nodes, np)
        labels = _components(nodes, *_tie_edges(nodes, bind, plan.grouping.systems, np), np)
        bound_keys = _bound_keys(nodes, bind, plan.grouping.systems, labels, np)
        members, migrated_mask, scope_mask = _selected(plan, inv, nodes, labels[: nodes.n], np)
        nodes.id_rank = id_rank.result()
        names = vocab.result()
    groups, warnings = _group_records(plan, inv, nodes, names, labels[: nodes.n], bound_keys, members, migrated_mask,
                                      scope_mask, np)  # fmt: skip
    if "links" not in bind and nodes.link_pairs:
        warnings.extend(_unbound_links(groups, nodes.link_pairs))
    warnings.sort(key=lambda w: w.sort_key)
    return GroupingResult(plan.name, groups, warnings)


@dataclass
class _Nodes:
    """The graph's nodes as index ranges (databases first, then instances, hosts, clusters, availability groups
    and systems), and each database's instance, owner and availability group as arrays."""

    db_ids: list[str]
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
    size: Any  # per database: size_gb, float64
    env_names: list[str]  # the environments, sorted ("other" for none)
    env_code: Any  # per database: its environment's index in env_names
    host_flat: list[str]  # every instance's hosts (listed in the inventory or not), one instance after another
    host_counts: Any  # per instance: how many of host_flat are its (int64)
    id_rank: Any = None  # per database: its id's place in sorted order (set once worked out)

    @cached_property
    def index(self) -> dict[str, int]:
        """Database id -> its node (built when a plan names databases: migrated, excluded, linked)."""
        return dict(zip(self.db_ids, range(len(self.db_ids))))

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
    def of(cls, inv: Inventory, db_ids: list[str], np) -> _Nodes:
        inst_ids, host_ids, sys_ids = list(inv.instances), list(inv.hosts), list(inv.systems)
        inst_index = dict(zip(inst_ids, range(len(inst_ids))))
        host_index = dict(zip(host_ids, range(len(host_ids))))
        sys_index = dict(zip(sys_ids, range(len(sys_ids))))
        clusters = list(map(attrgetter("cluster"), inv.hosts.values()))
        cluster_ids = sorted(set(clusters) - {None, ""})
        cluster_index = dict(zip(cluster_ids, range(len(cluster_ids))))
        # one pass over the databases' own dicts, then a column at a time: map() over C getters is the fastest
        # per-database access CPython offers (an attribute per pass costs a third more)
        fields = [d.__dict__ for d in inv.databases.values()]
        ag_of = list(map(itemgetter("availability_group"), fields))
        ag_ids = sorted(set(ag_of) - {None, ""})  # the set made in C: a comprehension took 0.07-0.13 s
        # the instance names listed first, then looked up: two passes over memory take less time than one that does
        # both (0.5 s against 0.85 s at a million databases: each pass's reads are independent and overlap)
        db_inst = _lookup(inst_index, list(map(itemgetter("instance"), fields)), np)
        # each database's system (None: no owner, -1 from the lookup), one map over C getters: no dict in between
        owner = _lookup(sys_index, map(inv.owner.get, db_ids), np)
        ag_idx = _lookup({k: i for i, k in enumerate(ag_ids)}, ag_of, np)
        size = np.fromiter(map(itemgetter("size_gb"), fields), dtype=np.float64, count=len(fields))
        env_names, env_code = _codes(list(map(itemgetter("environment"), fields)), np, none="other")
        host_flat, host_counts = _hosts_of(inv, np)
        ih_all = np.repeat(np.arange(len(inst_ids), dtype=np.int64), host_counts)
        ih_code = _lookup(host_index, host_flat, np)
        ih_inst_a, ih_host_a = ih_all[ih_code >= 0], ih_code[ih_code >= 0]  # hosts the inventory lists
        host_cluster = _lookup(cluster_index, clusters, np)
        ic_pairs = np.stack([ih_inst_a, host_cluster[ih_host_a]], axis=1).reshape(-1, 2)
        ic_pairs = ic_pairs[ic_pairs[:, 1] >= 0]  # hosts in a cluster (few): then made unique
        ic_pairs = np.unique(ic_pairs, axis=0) if len(ic_pairs) else np.zeros((0, 2), np.int64)
        linked = compress(range(len(fields)), map(itemgetter("links"), fields))  # the few databases with links
        known = inv.databases
        link_pairs = [(db_ids[i], link) for i in linked for link in fields[i]["links"] if link in known]
        return cls(db_ids, inst_ids, host_ids, cluster_ids, ag_ids, sys_ids, db_inst, owner, ag_idx,
                   ih_inst_a, ih_host_a, ic_pairs, link_pairs, size, env_names,
                   env_code, host_flat, host_counts)  # fmt: skip


@dataclass
class _Vocab:
    """The names a group record lists, each kind sorted, and every instance's and system's codes into them."""

    inst_names: list[str]
    inst_rank: Any  # per instance: its name's place in inst_names
    host_names: list[str]
    host_code: Any  # every instance's hosts, in compressed rows (instance k's: host_code[host_ptr[k]:host_ptr[k + 1]])
    host_ptr: Any
    engine_names: list[str]
    engine_code: Any  # per instance
    sys_names: list[str]
    sys_rank: Any  # per system
    agency_names: list[str]
    agency_code: Any  # per system, -1 for none

    @classmethod
    def of(cls, inv: Inventory, nodes: _Nodes, np) -> _Vocab:
        inst_names, inst_rank = _codes(nodes.inst_ids, np)
        host_names, host_code = _codes(nodes.host_flat, np)
        host_ptr = np.zeros(len(nodes.host_counts) + 1, dtype=np.int64)
        np.cumsum(nodes.host_counts, out=host_ptr[1:])
        engine_names, engine_code = _codes([i.engine for i in inv.instances.values()], np)
        sys_names, sys_rank = _codes(nodes.sys_ids, np)
        agency_names, agency_code = _codes([inv.systems[s].agency for s in nodes.sys_ids], np)
        return cls(inst_names, inst_rank, host_names, host_code, host_ptr, engine_names, engine_code, sys_names,
                   sys_rank, agency_names, agency_code)  # fmt: skip


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
    """The connected component of every node, numbered in order of each component's first node: by scipy on a
    sparse matrix of the edges for a big estate, by numpy alone below `_SCIPY_FROM` nodes (importing scipy's
    graph module took 0.45 s, longer than the rest of grouping the shipped estate)."""
    count = nodes.offsets[-1]
    if count < _SCIPY_FROM:
        return _hook_and_jump(count, r, c, np)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(count, count)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels


def _hook_and_jump(count: int, r, c, np):
    """Connected components by hooking and pointer jumping. Every node points at its tree's root; each round,
    across every edge between two trees, the larger root is hooked onto the smaller (pointers only ever go down,
    so no cycle forms, and each tree with such an edge merges with another: the number of trees at least halves
    a round), then every node is pointed at its root again. A component's root is its smallest node, so numbering
    the roots in order numbers the components as scipy does."""
    parent = np.arange(count, dtype=np.int64)
    while len(r):
        pr, pc = parent[r], parent[c]
        across = pr != pc
        r, c, pr, pc = r[across], c[across], pr[across], pc[across]
        if not len(r):
            break
        np.minimum.at(parent, np.maximum(pr, pc), np.minimum(pr, pc))
        while not np.array_equal(grand := parent[parent], parent):
            parent = grand
    return np.unique(parent, return_inverse=True)[1]


def _bound_keys(nodes: _Nodes, bind: set[str], systems: bool, labels, np) -> dict[int, list[dict]]:
    """Per component, the keys that really tie it (two or more databases share them): its `bound_by`, sorted by
    rule, then key (rules are taken in that order, keys by name within a rule). Every rule's keys are gathered
    first, then put in their components' lists by one stable sort on the component (a dict's list appended to a
    key at a time took 0.23 s for 240,000 instances)."""
    off_inst, off_host, off_clu, _off_ag, _off_sys, _ = nodes.offsets
    db_label = labels[: nodes.n]
    db_inst, owner, ag_idx, ic_pairs = nodes.db_inst, nodes.owner, nodes.ag_idx, nodes.ic_pairs
    per_inst = np.bincount(db_inst[db_inst >= 0], minlength=len(nodes.inst_ids))
    comps: list = []  # per rule, each key's component, the keys in order
    entries: list[dict] = []

    def add_bound(rule: str, names: list[str], counts, node_offset: int, members=None) -> None:
        tied = np.flatnonzero(counts >= 2)
        comp = labels[node_offset + tied] if members is None else db_label[members[tied]]
        keys = _pick(names, tied.tolist())
        order = _order(keys, np)  # by name (sorted by numpy, not a key function per name)
        comps.append(comp[order])
        entries.extend([{"rule": rule, "key": key} for key in _pick(keys, order.tolist())])

    def first_member(idx):
        """Each key's first database (keys no database holds: 0, never read, as their count is 0)."""
        held = np.flatnonzero(idx >= 0)
        first = np.zeros(int(idx.max()) + 1 if len(held) else 0, dtype=np.int64)
        first[idx[held][::-1]] = held[::-1]  # the last write wins: the first database
        return first

    if "availability_group" in bind and nodes.ag_ids:
        counts = np.bincount(ag_idx[ag_idx >= 0], minlength=len(nodes.ag_ids))
        add_bound("availability_group", nodes.ag_ids, counts, 0, members=first_member(ag_idx))
    if "cluster" in bind and len(ic_pairs):
        weights = np.bincount(ic_pairs[:, 1], weights=per_inst[ic_pairs[:, 0]], minlength=len(nodes.cluster_ids))
        add_bound("cluster", nodes.cluster_ids, weights, off_clu)
    if "host" in bind:
        weights = np.bincount(nodes.ih_host, weights=per_inst[nodes.ih_inst], minlength=len(nodes.host_ids))
        add_bound("host", nodes.host_ids, weights, off_host)
    if "instance" in bind:
        add_bound("instance", nodes.inst_ids, per_inst, off_inst)
    if "links" in bind:
        links: dict[int, set[str]] = {}
        for a, b in nodes.link_pairs:
            lo, hi = sorted((a, b))
            links.setdefault(int(db_label[nodes.index[a]]), set()).add(f"{lo} -> {hi}")
        for c, keys in sorted(links.items()):
            comps.append(np.full(len(keys), c, dtype=np.int64))
            entries.extend({"rule": "links", "key": k} for k in sorted(keys))
    if systems and nodes.sys_ids:
        counts = np.bincount(owner[owner >= 0], minlength=len(nodes.sys_ids))
        add_bound("systems", nodes.sys_ids, counts, 0, members=first_member(owner))
    if not entries:
        return {}
    comp = np.concatenate(comps).astype(np.int64)
    order = np.argsort(comp, kind="stable")  # by component; within one, in rule order, then by key
    comp = comp[order]
    starts = np.flatnonzero(np.concatenate(([True], comp[1:] != comp[:-1])))
    ordered = _pick(entries, order.tolist())
    return dict(zip(comp[starts].tolist(), _split(ordered, [*starts.tolist(), len(comp)])))


def _selected(plan: DatabasePlan, inv: Inventory, nodes: _Nodes, db_label, np) -> tuple:
    """The databases of every component that holds a database in scope and not yet migrated, and the migrated and
    in-scope masks."""
    scope_mask = _scope_mask(plan, inv, np, nodes)
    migrated_mask = np.zeros(nodes.n, dtype=bool)
    for d in plan.migrated:
        if d in nodes.index:
            migrated_mask[nodes.index[d]] = True
    wanted = np.zeros(int(db_label.max()) + 1, dtype=bool)
    wanted[db_label[scope_mask & ~migrated_mask]] = True
    members = np.flatnonzero(wanted[db_label])
    return members, migrated_mask, scope_mask


def _per_group(n_groups: int, group, code, names: list, np) -> list[list]:
    """For items (group index, code into the sorted vocabulary `names`), `group` ascending: each group's distinct
    names in order."""
    if len(names) <= _FEW_NAMES and len(group):
        return _per_group_few(n_groups, group, code, names, np)
    width = max(len(names), 1)
    keys = np.unique(group.astype(np.int64) * width + code)
    g, c = np.divmod(keys, width)
    return _split([names[k] for k in c.tolist()], np.searchsorted(g, np.arange(n_groups + 1)).tolist())


def _per_group_few(n_groups: int, group, code, names: list, np) -> list[list]:
    """`_per_group` for a vocabulary of at most 63 names (engines, environments, agencies): each group's names as a
    bit set, OR-ed over its run of items, then one list per distinct set, copied for each group."""
    bit = np.left_shift(np.uint64(1), code.astype(np.uint64))
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    sets = np.zeros(n_groups, dtype=np.uint64)
    sets[group[starts]] = np.bitwise_or.reduceat(bit, starts)
    distinct, which = np.unique(sets, return_inverse=True)
    lists = [[name for k, name in enumerate(names) if int(mask) >> k & 1] for mask in distinct.tolist()]
    return list(map(list, map(lists.__getitem__, which.tolist())))


class _Members:
    """The selected databases sorted by component, then by id, with each one's group index; groups are numbered in
    their final order (by first moving member's id)."""

    def __init__(self, nodes: _Nodes, db_label, members, migrated_mask, np):
        n = nodes.n
        id_rank = nodes.id_rank[members]
        labels = db_label[members]
        by = np.argsort(labels.astype(np.int64) * n + id_rank)  # by component, then id (keys unique)
        members, labels, id_rank = members[by], labels[by], id_rank[by]
        # component number of every member, in label order; each component has a moving member (it was selected
        # for one), so the components are the groups
        comp = np.zeros(len(members), dtype=np.int64)
        comp[1:] = np.cumsum(labels[1:] != labels[:-1])
        moving = ~migrated_mask[members]
        first = np.flatnonzero(moving)
        n_groups = int(comp[-1]) + 1
        # the first moving member of each component: its id ranks the groups
        first_moving = first[np.unique(comp[first], return_index=True)[1]]
        in_order = np.argsort(id_rank[first_moving], kind="stable")  # the components in their groups' order
        final = np.empty(n_groups, dtype=np.int64)
        final[in_order] = np.arange(n_groups, dtype=np.int64)
        # each component's run of members, already by id, moved as a whole into its group's place: no second sort
        starts = np.flatnonzero(np.concatenate(([True], comp[1:] != comp[:-1])))
        sizes = np.diff(np.append(starts, len(comp)))[in_order]
        by = np.repeat(starts[in_order] - (np.cumsum(sizes) - sizes), sizes) + np.arange(len(comp), dtype=np.int64)
        self.members, self.group, self.moving = members[by], final[comp[by]], moving[by]
        self.label = labels[by]
        self.n_groups = n_groups


def _group_records(
    plan: DatabasePlan,
    inv: Inventory,
    nodes: _Nodes,
    names: _Vocab,
    db_label,
    bound_keys,
    members,
    migrated_mask,
    scope_mask,
    np,
) -> tuple[list[Group], list[Finding]]:
    """One Group per selected component, in order of its first database. Every list a group holds (members,
    instances, hosts, systems, agencies, engines, environments) is gathered for all groups at once with numpy
    (`_per_group`); the records are then made by map() over those lists."""
    if not len(members):
        return [], []
    m = _Members(nodes, db_label, members, migrated_mask, np)
    n_groups = m.n_groups
    db_ids = nodes.db_ids
    mv, mv_group = m.members[m.moving], m.group[m.moving]
    mv_ids = _pick(db_ids, mv.tolist())
    mv_sizes = nodes.size[mv].tolist()
    mv_at = np.searchsorted(mv_group, np.arange(n_groups + 1)).tolist()
    group_label = m.label[m.moving][mv_at[:-1]].tolist()
    # each group's instances (group, instance) once, and through them its instances, hosts and engines
    inst = nodes.db_inst[mv]
    has = inst >= 0
    pairs = np.unique(mv_group[has] * max(len(nodes.inst_ids), 1) + inst[has])
    pair_group, pair_inst = np.divmod(pairs, max(len(nodes.inst_ids), 1))
    instances_of = _per_group(n_groups, pair_group, names.inst_rank[pair_inst], names.inst_names, np)
    host_ptr = names.host_ptr
    counts = host_ptr[pair_inst + 1] - host_ptr[pair_inst]
    at = np.repeat(host_ptr[pair_inst] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    hosts_of = _per_group(n_groups, np.repeat(pair_group, counts), names.host_code[at], names.host_names, np)
    engines_of = _per_group(n_groups, pair_group, names.engine_code[pair_inst], names.engine_names, np)
    # systems and their agencies
    own = nodes.owner[mv]
    has = own >= 0
    systems_of = _per_group(n_groups, mv_group[has], names.sys_rank[own[has]], names.sys_names, np)
    agency = names.agency_code[own[has]]
    ok = agency >= 0
    agencies_of = _per_group(n_groups, mv_group[has][ok], agency[ok], names.agency_names, np)
    envs_of = _per_group(n_groups, mv_group, nodes.env_code[mv], nodes.env_names, np)
    # the rarer lists: members already migrated, members outside the scope (both in group order already)
    done_group, done = m.group[~m.moving], m.members[~m.moving]
    done_flat, done_at = (
        _pick(db_ids, done.tolist()),
        np.searchsorted(done_group, np.arange(n_groups + 1)),
    )
    outside = ~scope_mask[mv]
    outside_flat = _pick(db_ids, mv[outside].tolist())
    outside_at = np.searchsorted(mv_group[outside], np.arange(n_groups + 1))
    hours_per_gb = 1.0 / plan.timing.throughput_gb_per_hour
    overhead = plan.timing.overhead_hours
    members_of = _split(mv_ids, mv_at)
    sizes = list(map(sum, _split(mv_sizes, mv_at)))
    # map() over the columns: the records are built without a bytecode loop (192,207 groups: 1.5 s -> 0.8 s)
    groups = list(
        map(
            Group,
            _group_ids(members_of),
            members_of,
            instances_of,
            hosts_of,
            systems_of,
            agencies_of,
            engines_of,
            envs_of,
            sizes,
            [overhead + size * hours_per_gb for size in sizes],
            [bound_keys.get(label) or [] for label in group_label],
            _split(done_flat, done_at.tolist()),
            _split(outside_flat, outside_at.tolist()),
        )
    )
    # warnings: groups with members migrated or outside the scope, or with more than one environment
    several_envs = np.fromiter(map(len, envs_of), dtype=np.int64, count=n_groups) > 1
    flagged = (np.diff(done_at) > 0) | (np.diff(outside_at) > 0) | several_envs
    warnings: list[Finding] = []
    for g in np.flatnonzero(flagged).tolist():
        group, envs = groups[g], envs_of[g]
        if group.migrated or group.out_of_scope or ("prod" in envs and NON_PROD.intersection(envs)):
            warnings.extend(_group_warnings(plan, inv, group, envs, group.migrated))
    return groups, warnings


def _split(flat: list, at: list[int]) -> list[list]:
    """Each group's slice of a flat list (group g: flat[at[g]:at[g + 1]])."""
    if not flat:  # every slice empty (no systems, nothing migrated): new lists without slicing
        return list(map(list, repeat((), len(at) - 1)))
    return list(map(flat.__getitem__, map(slice, at[:-1], at[1:])))


def _pick(items: list, at: list[int]) -> list:
    """`[items[k] for k in at]`, by one itemgetter over all places: a C loop, 0.17 s for a million places in random
    order against 0.43 s for map() over items.__getitem__ (itemgetter of one place returns the item, not a tuple)."""
    if len(at) < 2:
        return [items[k] for k in at]
    return list(itemgetter(*at)(items))


def _lookup(index: dict, keys, np):
    """Each key's value in `index` (-1 where it has none) as an int64 array: map() over dict.get with a default is
    the fastest per-item lookup CPython offers."""
    return np.array(list(map(index.get, keys, repeat(-1))), dtype=np.int64)


def _numpy_sorts(names: list[str]) -> bool:
    """Whether numpy may sort these names as fixed-width text: they fit in 256 MB so, and none ends in NUL (numpy
    drops trailing NULs, so "a\0" would sort as "a")."""
    width = max(map(len, names), default=0)
    return len(names) * width * 4 <= 256 << 20 and "\0\n" not in "\n".join(names) + "\n"


def _order(names: list[str], np):
    """The places of the names (unique) in sorted order, as an int64 array. numpy sorts the names when they fit in
    256 MB as fixed-width text (it lets go of the GIL while sorting), Python's sort otherwise."""
    if _numpy_sorts(names):
        return np.argsort(np.array(names), kind="stable")
    return np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)


def _rank(names: list[str], np):
    """Each name's place in sorted order (names unique), as an int64 array (`_order` inverted)."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[_order(names, np)] = np.arange(len(names), dtype=np.int64)
    return rank


def _codes(values: list, np, none: str | None = None) -> tuple[list, Any]:
    """The distinct values, sorted, and each value's index among them; None reads as `none`, or -1 when that is
    None too. Many distinct names (instances, hosts) are sorted by numpy, a few through a dict."""
    distinct = set(values)
    if len(distinct) > _MANY_NAMES and None not in distinct and _numpy_sorts(values):
        names_a, codes = np.unique(np.array(values), return_inverse=True)
        return names_a.tolist(), codes.astype(np.int64)
    names = sorted({v for v in distinct if v is not None} | ({none} if none is not None else set()))
    lookup: dict = {v: k for k, v in enumerate(names)}
    if none is not None:
        lookup[None] = lookup[none]
    return names, _lookup(lookup, values, np)


def _hosts_of(inv: Inventory, np) -> tuple[list[str], Any]:
    """Every instance's hosts (`Instance.all_hosts`: its `host`, else its `hosts`), one instance after another, and
    how many each has. Read from the instances' own dicts a column at a time: the property, called per instance,
    took 0.1 s at 240,000 instances; most have one `host`, and then its column is the list."""
    fields = [i.__dict__ for i in inv.instances.values()]
    single = list(map(itemgetter("host"), fields))
    if None not in single:
        return single, np.ones(len(single), dtype=np.int64)
    per = [[h] if h is not None else list(f["hosts"] or []) for h, f in zip(single, fields, strict=True)]
    return [h for hs in per for h in hs], np.fromiter(map(len, per), dtype=np.int64, count=len(per))


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


def _scope_mask(plan, inv, np, nodes: _Nodes):
    scope = plan.scope
    db_inst, owner, sys_ids = nodes.db_inst, nodes.owner, nodes.sys_ids
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
            if d in nodes.index:
                mask[nodes.index[d]] = False
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
