"""Command core for `groups`: the co-migration groups of a plan, in the format asked for (table, json, csv, dot)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from oslomig import csvout
from oslomig.collector import without_cycle_collector
from oslomig.commands.plancontext import PlanContext, load_plan_context, warn_all
from oslomig.console import Env


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_groups(plan_path: Path, inventory: Path | None, fmt: str, env: Env) -> int:
    from oslomig.planning.grouping import compute_groups

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    result = compute_groups(ctx.plan, ctx.inventory)
    FORMATS[fmt](result, ctx, env)
    warn_all(result.warnings, env)
    dbs = sum(len(g.databases) for g in result.groups)
    env.info(f"{len(result.groups)} groups, {dbs} databases, {len(result.warnings)} warnings")
    return 0


CSV_COLUMNS = [
    "group",
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
]


def _groups_json(result, ctx: PlanContext, env: Env) -> None:
    env.out(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n")


def _groups_csv(result, ctx: PlanContext, env: Env) -> None:
    def joined(values) -> str:
        return ";".join(values)

    rows = [
        [
            g.id,
            joined(g.databases),
            joined(g.instances),
            joined(g.hosts),
            joined(g.systems),
            joined(g.agencies),
            joined(g.engines),
            joined(g.environments),
            f"{g.size_gb:.3f}",
            f"{g.estimated_hours:.3f}",
            joined(f"{b['rule']}={b['key']}" for b in g.bound_by),
        ]
        for g in result.groups
    ]
    env.out(csvout.to_text(rows, CSV_COLUMNS))


def _groups_dot(result, ctx: PlanContext, env: Env) -> None:
    env.out(groups_dot(result, ctx))


def _groups_table(result, ctx: PlanContext, env: Env) -> None:
    from oslomig.console import Column, fitted_table

    columns = [
        Column("group", keep=True),
        Column("dbs", "right", priority=5),
        Column("hosts", priority=3),
        Column("systems", priority=4),
        Column("engines", priority=1),
        Column("env", priority=2),
        Column("GB", "right", priority=6),
        Column("hours", "right", priority=7),
        Column("bound by", priority=0),
    ]
    rows = []
    for g in result.groups:
        hosts = ", ".join(g.hosts[:3]) + (f" +{len(g.hosts) - 3}" if len(g.hosts) > 3 else "")
        systems = ", ".join(g.systems[:3]) + (f" +{len(g.systems) - 3}" if len(g.systems) > 3 else "")
        rules = sorted({b["rule"] for b in g.bound_by})
        rows.append(
            [
                g.id,
                str(len(g.databases)),
                hosts,
                systems,
                ",".join(g.engines),
                ",".join(g.environments),
                f"{g.size_gb:,.1f}",
                f"{g.estimated_hours:.1f}",
                ",".join(rules) or "alone",
            ]
        )
    console = env.table_console()
    console.print(fitted_table(f"Co-migration groups: {result.plan}", columns, rows, console.width))


def groups_dot(result, ctx: PlanContext) -> str:
    """Graphviz: one cluster per group, databases linked to the keys that tie them."""
    from oslomig.planning.grouping import member_ties

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"graph {q(result.plan)} {{", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for g in result.groups:
        lines.append(f"  subgraph {q('cluster_' + g.id)} {{")
        lines.append(f"    label={q(f'{g.id} ({g.estimated_hours:.1f} h)')};")
        for d in g.databases:
            lines.append(f"    {q(d)};")
        for b in g.bound_by:
            key = f"{b['rule']}:{b['key']}"
            lines.append(f"    {q(key)} [shape=ellipse, label={q(b['rule'] + chr(10) + b['key'])}];")
        lines.append("  }")
        for d in g.databases:
            for rule, key in member_ties(ctx.plan, ctx.inventory, g, d):
                lines.append(f"  {q(d)} -- {q(rule + ':' + key)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# the formats of `groups --format`, by name: each writes its payload to stdout (the table through rich)
FORMATS: dict[str, Callable[..., None]] = {
    "table": _groups_table,
    "json": _groups_json,
    "csv": _groups_csv,
    "dot": _groups_dot,
}
