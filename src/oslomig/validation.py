"""Checks beyond the schema: references, ownership, windows, cycles (SPEC §2–§5).

Each check is a small function taking what it checks and a `Problems` to
report into; `validate_paths` is what `oslomig validate` runs.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oslomig import models
from oslomig.errors import OslomigError
from oslomig.loading import (
    Inventory,
    display_path,
    document_kind,
    parse_model,
    plan_inventory_dir,
    read_document,
    read_inventory,
    yaml_files,
)
from oslomig.problems import Problems
from oslomig.yamlload import Document

_GLOB = re.compile(r"[*?\[]")


# ------------------------------------------------------------------ inventory


def check_inventory(inv: Inventory, problems: Problems) -> None:
    check_references(inv, problems)
    resolve_ownership(inv, problems)
    check_dependency_cycles(inv, problems)


def _dangling(
    problems: Problems, where: tuple[str, int, int], what: str, ident: str, kinds: str, severity: str = "error"
) -> None:
    add = problems.error if severity == "error" else problems.warning
    add(*where, "dangling-ref", f"{what} '{ident}' is not defined in the inventory ({kinds})")


def check_references(inv: Inventory, problems: Problems) -> None:
    for sid, system in inv.systems.items():
        origin = inv.origin("systems", sid)
        if system.agency is not None and system.agency not in inv.agencies:
            _dangling(problems, origin.at("agency"), "agency", system.agency, "agencies")
        for i, dep in enumerate(system.depends_on):
            if dep not in inv.systems:
                _dangling(problems, origin.at("depends_on", i), "system", dep, "systems")
    for iid, instance in inv.instances.items():
        origin = inv.origin("instances", iid)
        if instance.host is not None and instance.host not in inv.hosts:
            _dangling(problems, origin.at("host"), "host", instance.host, "hosts")
        for i, host in enumerate(instance.hosts or []):
            if host not in inv.hosts:
                _dangling(problems, origin.at("hosts", i), "host", host, "hosts")
    for did, db in inv.databases.items():
        origin = inv.origin("databases", did)
        if db.instance not in inv.instances:
            _dangling(problems, origin.at("instance"), "instance", db.instance, "instances")
        for i, link in enumerate(db.links):
            if link not in inv.databases:
                _dangling(
                    problems,
                    origin.at("links", i),
                    "linked database",
                    link,
                    "databases; a link outside the estate",
                    "warning",
                )
    for shid, share in inv.shares.items():
        origin = inv.origin("shares", shid)
        if share.host not in inv.hosts:
            _dangling(problems, origin.at("host"), "host", share.host, "hosts")
        if share.agency is not None and share.agency not in inv.agencies:
            _dangling(problems, origin.at("agency"), "agency", share.agency, "agencies")


class _GlobIndex:
    """The ids a glob can match, without testing every id against every pattern (10,000 systems' patterns over
    100,000 databases were 10^9 tests): by bisection over sorted lists for the shapes inventories use —
    `HEAD*…` (ids starting with HEAD) and `*/NAME…` (ids with a segment after a `/` starting with NAME) — and by
    the longest literal run (a substring test) for the rest. Every candidate is still matched by the pattern."""

    def __init__(self, ids: list[str]):
        self.ids = sorted(ids)
        self._segments: list[tuple[str, str]] | None = None

    @staticmethod
    def _prefixed(rows: list, prefix: str, key=lambda r: r) -> list:
        i = bisect.bisect_left(rows, prefix, key=key)
        out = []
        while i < len(rows) and key(rows[i]).startswith(prefix):
            out.append(rows[i])
            i += 1
        return out

    def candidates(self, pattern: str) -> list[str]:
        if "[" in pattern:
            return self.ids
        head = re.split(r"[*?]", pattern, maxsplit=1)[0]
        if head:
            return self._prefixed(self.ids, head)
        m = re.match(r"\*/([^*?/]+)", pattern)
        if m:
            if self._segments is None:
                self._segments = sorted((seg, d) for d in self.ids for seg in d.split("/")[1:])
            return sorted({d for _seg, d in self._prefixed(self._segments, m[1], key=lambda r: r[0])})
        literal = max(re.split(r"[*?]", pattern), key=len)
        return [d for d in self.ids if literal in d] if literal else self.ids


def resolve_ownership(inv: Inventory, problems: Problems | None = None) -> dict[str, str]:
    """Which system owns each database: exact ids by lookup, globs by one compiled pattern each."""
    problems = problems if problems is not None else Problems()
    owner: dict[str, str] = {}
    claimed_at: dict[str, tuple[str, int, int]] = {}
    db_ids = sorted(inv.databases)
    globs = _GlobIndex(db_ids)
    for sid in sorted(inv.systems):
        system = inv.systems[sid]
        origin = inv.origin("systems", sid)
        for i, pattern in enumerate(system.databases):
            if _GLOB.search(pattern):
                rx = re.compile(fnmatch.translate(pattern))
                matched = [d for d in globs.candidates(pattern) if rx.match(d)]
            else:
                matched = [pattern] if pattern in inv.databases else []
            where = origin.at("databases", i)
            if not matched:
                problems.error(
                    *where,
                    "dangling-ref",
                    f"system {sid}: database pattern '{pattern}' matches no database in the inventory",
                )
            for did in matched:
                if did in owner and owner[did] != sid:
                    first = claimed_at[did]
                    problems.error(
                        *where,
                        "two-owners",
                        f"database '{did}' is owned by two systems: {owner[did]} (at "
                        f"{first[0]}:{first[1]}:{first[2]}) and {sid}",
                    )
                    continue
                owner[did] = sid
                claimed_at[did] = where
    for did in db_ids:
        if did not in owner and inv.systems:
            problems.warning(
                *inv.origin("databases", did).at("id"), "no-owner", f"database '{did}' is owned by no system"
            )
    inv.owner = owner
    return owner


def check_dependency_cycles(inv: Inventory, problems: Problems) -> None:
    colour: dict[str, int] = {}
    reported: set[frozenset[str]] = set()
    for start in sorted(inv.systems):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(inv.systems[start].depends_on)))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if nxt not in inv.systems:
                continue
            if colour.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    where = inv.origin("systems", nxt).at("depends_on")
                    problems.warning(
                        *where, "dependency-cycle", "systems depend on each other in a cycle: " + " -> ".join(cycle)
                    )
            elif not colour.get(nxt):
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(inv.systems[nxt].depends_on))))


# ---------------------------------------------------------------- plans


def check_plan(plan: models.DatabasePlan, doc: Document, inv: Inventory | None, problems: Problems) -> None:
    def at(*loc, key=False) -> tuple[str, int, int]:
        line, col = doc.position(loc, key=key)
        return doc.path, line, col

    if plan.period.end < plan.period.start:
        problems.error(
            *at("period", "end"),
            "bad-period",
            f"the period ends ({plan.period.end}) before it starts ({plan.period.start})",
        )
    if not plan.windows:
        problems.warning(
            *at("windows") if "windows" in doc.data else at(),
            "no-windows",
            "the plan has no windows: nothing can be scheduled",
        )
    _check_windows(plan, at, problems)
    _check_blackouts(plan, at, problems)
    _check_announced(plan, at, problems)
    if inv is not None:
        _check_plan_references(plan, inv, at, problems)


Place = Callable[..., tuple[str, int, int]]  # a plan's key path -> (file, line, column)


def _check_windows(plan: models.DatabasePlan, at: Place, problems: Problems) -> None:
    names: dict[str, int] = {}
    for i, w in enumerate(plan.windows):
        if w.name in names:
            problems.error(
                *at("windows", i, "name"),
                "duplicate-id",
                f"window name '{w.name}' is used twice (first as windows[{names[w.name]}])",
            )
        names.setdefault(w.name, i)
        if w.hours <= 0:
            problems.error(
                *at("windows", i, "hours"),
                "bad-window",
                f"window '{w.name}': hours must be more than 0 (got {w.hours:g})",
            )
        elif w.hours > 24 * 7:
            problems.error(
                *at("windows", i, "hours"), "bad-window", f"window '{w.name}': {w.hours:g} hours is longer than a week"
            )
        if w.parallel < 1:
            problems.error(
                *at("windows", i, "parallel"),
                "bad-window",
                f"window '{w.name}': parallel must be at least 1 (got {w.parallel})",
            )
        if w.max_groups is not None and w.max_groups < 1:
            problems.error(
                *at("windows", i, "max_groups"),
                "bad-window",
                f"window '{w.name}': max_groups must be at least 1 (got {w.max_groups})",
            )
        if not w.weekdays and not w.dates:
            problems.error(
                *at("windows", i), "bad-window", f"window '{w.name}' has neither weekdays nor dates, so it never occurs"
            )
        for j, d in enumerate(w.dates):
            if not plan.period.start <= d <= plan.period.end:
                problems.warning(
                    *at("windows", i, "dates", j), "outside-period", f"window '{w.name}': {d} is outside the period"
                )


def _check_blackouts(plan: models.DatabasePlan, at: Place, problems: Problems) -> None:
    from oslomig.planning.timewindows import supported_country

    for i, b in enumerate(plan.blackouts):
        if b.from_ and b.to and b.to < b.from_:
            problems.error(*at("blackouts", i, "to"), "bad-period", f"blackout '{b.name}' ends before it starts")
        if b.holidays and not supported_country(b.holidays):
            problems.error(
                *at("blackouts", i, "holidays"),
                "bad-value",
                f"blackout '{b.name}': no public-holiday calendar for '{b.holidays}'",
            )


def _check_announced(plan: models.DatabasePlan, at: Place, problems: Problems) -> None:
    from zoneinfo import ZoneInfo

    from oslomig.planning.timewindows import exists_locally, matching_window

    for i, a in enumerate(plan.announced):
        if a.start.tzinfo is None and not exists_locally(a.start, ZoneInfo(plan.timezone)):
            problems.error(
                *at("announced", i, "start"),
                "nonexistent-time",
                f"announced start {a.start:%Y-%m-%dT%H:%M} for '{a.database}' does not exist in {plan.timezone} "
                "(the clocks skip that hour)",
            )
        elif a.start.tzinfo is None and matching_window(plan, a.start) is None:
            problems.error(
                *at("announced", i, "start"),
                "not-an-occurrence",
                f"announced start {a.start:%Y-%m-%dT%H:%M} for '{a.database}' is not an occurrence of any window",
            )


def _check_plan_references(plan: models.DatabasePlan, inv: Inventory, at: Place, problems: Problems) -> None:
    """Ids the plan names that the inventory must have."""
    refs: list[tuple[str, str, dict, str]] = [
        ("scope", "agencies", inv.agencies, "agency"),
        ("scope", "systems", inv.systems, "system"),
    ]
    for section, key, table, what in refs:
        for i, ident in enumerate(getattr(getattr(plan, section), key)):
            if ident not in table:
                _dangling(problems, at(section, key, i), what, ident, key)
    for i, ident in enumerate(plan.scope.exclude):
        if ident not in inv.databases and ident not in inv.instances and ident not in inv.hosts:
            _dangling(
                problems, at("scope", "exclude", i), "database, instance or host", ident, "databases, instances, hosts"
            )
    for i, b in enumerate(plan.blackouts):
        for j, sid in enumerate(b.systems):
            if sid not in inv.systems:
                _dangling(problems, at("blackouts", i, "systems", j), "system", sid, "systems")
        for j, aid in enumerate(b.agencies):
            if aid not in inv.agencies:
                _dangling(problems, at("blackouts", i, "agencies", j), "agency", aid, "agencies")
    for i, a in enumerate(plan.announced):
        if a.database not in inv.databases:
            _dangling(problems, at("announced", i, "database"), "database", a.database, "databases")
    for i, did in enumerate(plan.migrated):
        if did not in inv.databases:
            _dangling(problems, at("migrated", i), "database", did, "databases")


def check_share_plan(plan: models.SharePlan, doc: Document, problems: Problems) -> None:
    seen: dict[str, int] = {}
    for i, share in enumerate(plan.shares):
        if share.id in seen:
            problems.error(
                doc.path,
                *doc.position(("shares", i, "id")),
                "duplicate-id",
                f"share id '{share.id}' is used twice (first as shares[{seen[share.id]}])",
            )
        seen.setdefault(share.id, i)
        if share.source.startswith("ssh://") and not re.match(r"^ssh://[^@/\s]+@[^/:\s]+(:\d+)?/", share.source):
            problems.error(
                doc.path,
                *doc.position(("shares", i, "source")),
                "bad-value",
                f"share '{share.id}': an SSH source reads ssh://user@host[:port]/path",
            )
        _check_smb_source(share, i, doc, problems)


def _check_smb_source(share: models.ShareSpec, i: int, doc: Document, problems: Problems) -> None:
    """An smb:// source parses and has exactly one secret; other sources have none (they would be ignored)."""
    secrets = [k for k in ("password_env", "password_file") if getattr(share, k) is not None]
    if not share.source.startswith("smb://"):
        for key in secrets:
            problems.error(
                doc.path,
                *doc.position(("shares", i, key), key=True),
                "bad-value",
                f"share '{share.id}': `{key}` is for smb:// sources; this source needs no password",
            )
        return
    from oslomig.smburl import parse_smb_url

    try:
        parse_smb_url(share.source)
    except ValueError as exc:
        problems.error(doc.path, *doc.position(("shares", i, "source")), "bad-value", f"share '{share.id}': {exc}")
    if len(secrets) != 1:
        problems.error(
            doc.path,
            *doc.position(("shares", i, "source")),
            "bad-value",
            f"share '{share.id}': an smb:// source needs exactly one of `password_env` or `password_file` "
            "(passwords never go in the plan or the URL)",
        )


def check_scan_targets(targets: models.ScanTargets, doc: Document, problems: Problems) -> None:
    seen: dict[str, str] = {}
    for kind in ("sqlserver", "oracle", "postgres", "hosts"):
        for i, target in enumerate(getattr(targets, kind)):
            if target.name in seen:
                problems.error(
                    doc.path,
                    *doc.position((kind, i, "name")),
                    "duplicate-id",
                    f"target name '{target.name}' is used twice (also under {seen[target.name]}); output files are "
                    "named by it",
                )
            seen.setdefault(target.name, kind)


# ------------------------------------------------------------ orchestration


@dataclass
class ValidationResult:
    problems: Problems = field(default_factory=Problems)
    files: set[str] = field(default_factory=set)


def load_checked_inventory(paths: list[Path], problems: Problems, cwd: Path | None = None) -> Inventory:
    inv = read_inventory(paths, problems, cwd)
    check_inventory(inv, problems)
    return inv


def validate_paths(paths: list[Path], cwd: Path | None = None) -> ValidationResult:
    """What `oslomig validate` does: every plan, targets file and inventory under `paths`."""
    cwd = cwd or Path.cwd()
    if not paths:
        paths = [p for p in (cwd / "plans", cwd / "inventories") if p.exists()]
        if not paths:
            raise OslomigError("nothing to validate: give a file or directory, or run where plans/ or inventories/ are")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise OslomigError(f"no such file or directory: {', '.join(missing)}")
    result = ValidationResult()
    problems = result.problems
    inventories: dict[Path, Inventory] = {}
    db_plans: list[tuple[Path, models.DatabasePlan, Document, Inventory]] = []

    def inventory_for(directory: Path) -> Inventory | None:
        key = directory.resolve()
        if key not in inventories:
            if not key.exists():
                return None
            inventories[key] = load_checked_inventory([key], problems, cwd)
            result.files.update(inventories[key].files)
        return inventories[key]

    for path in paths:
        inventory_parts = []
        for file in yaml_files(path):
            doc = read_document(file, problems, cwd)
            result.files.add(display_path(file, cwd))
            if doc is None:
                continue
            kind = document_kind(doc)
            if kind is None:
                inventory_parts.append(file)
            elif kind == "database-migration":
                plan = parse_model(doc, models.DatabasePlan, problems)
                if plan is not None:
                    inv_dir = plan_inventory_dir(file, plan.inventory)
                    inv = inventory_for(inv_dir)
                    if inv is None:
                        problems.error(
                            doc.path,
                            *doc.position(("inventory",)),
                            "missing-inventory",
                            f"the plan's inventory {display_path(inv_dir, cwd)} does not exist",
                        )
                    check_plan(plan, doc, inv, problems)
                    if inv is not None:
                        db_plans.append((file, plan, doc, inv))
            elif kind == "share-migration":
                share_plan = parse_model(doc, models.SharePlan, problems)
                if share_plan is not None:
                    check_share_plan(share_plan, doc, problems)
            elif kind == "scan-targets":
                targets = parse_model(doc, models.ScanTargets, problems)
                if targets is not None:
                    check_scan_targets(targets, doc, problems)
            else:
                import difflib

                hint = difflib.get_close_matches(kind, list(models.KINDS), n=1)
                problems.error(
                    doc.path,
                    *doc.position(("kind",)),
                    "unknown-kind",
                    f"unknown kind '{kind}'"
                    + (f" (did you mean '{hint[0]}'?)" if hint else f"; known kinds: {', '.join(models.KINDS)}"),
                )
        if inventory_parts:
            key = path.resolve()
            if key not in inventories:
                inventories[key] = load_checked_inventory(inventory_parts, problems, cwd)
    check_coordination(db_plans, problems)
    return result


def check_coordination(plans: list, problems: Problems) -> None:
    """SPEC §3.2: `coordinate_with` names plans that exist; two plans over one inventory whose scopes share a
    co-migration group and that do not coordinate would both schedule it."""
    from oslomig.planning.grouping import compute_groups

    for file, plan, doc, _inv in plans:
        for i, name in enumerate(plan.coordinate_with):
            if not (file.parent / name).is_file():
                line, col = doc.position(("coordinate_with", i))
                problems.error(
                    doc.path,
                    line,
                    col,
                    "dangling-ref",
                    f"coordinate_with names {name}, which is not a file beside this plan",
                )
    if len(plans) < 2 or problems.errors:
        return
    members: dict[Path, set[frozenset[str]]] = {}
    for file, plan, _doc, inv in plans:
        members[file] = {frozenset(g.databases) for g in compute_groups(plan, inv).groups}
    for i, (file_a, plan_a, doc_a, inv_a) in enumerate(plans):
        for file_b, plan_b, _doc_b, inv_b in plans[i + 1 :]:
            if inv_a is not inv_b:
                continue
            names_a = {(file_a.parent / n).resolve() for n in plan_a.coordinate_with}
            names_b = {(file_b.parent / n).resolve() for n in plan_b.coordinate_with}
            if file_b.resolve() in names_a or file_a.resolve() in names_b:
                continue
            dbs_b = set().union(*members[file_b]) if members[file_b] else set()
            shared = [g for g in members[file_a] if g & dbs_b]
            if shared:
                line, col = doc_a.position(("name",))
                problems.warning(
                    doc_a.path,
                    line,
                    col,
                    "uncoordinated-plans",
                    f"{len(shared)} co-migration group(s) are in the scope of this plan and of {file_b.name}, which "
                    f"do not coordinate: both would schedule them; add `coordinate_with: [{file_b.name}]`",
                )
