"""Command cores for `inventory scan` and `inventory diff`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from oslomig import models
from oslomig.console import Env
from oslomig.errors import OslomigError
from oslomig.loading import read_inventory
from oslomig.problems import Problems, render_text


def run_scan(targets_path: Path, out: Path, only: list[str], workers: int, env: Env) -> int:
    from oslomig.commands.common import load_model
    from oslomig.scanning.runner import ScanLock, run_targets, targets_of
    from oslomig.validation import check_scan_targets

    loaded = load_model(targets_path, models.ScanTargets, "targets file", env, Problems(), check_scan_targets)
    if loaded is None:
        return 1
    targets, _ = loaded
    jobs = targets_of(targets, only)
    t0 = time.monotonic()
    with ScanLock(out), env.progress("scanning targets", total=len(jobs)) as bar:

        def report(result) -> None:
            bar.advance()
            if result.ok:
                what = ", ".join(f"{n} {k}" for k, n in result.counts.items() if n)
                env.info(
                    f"{result.kind}/{result.name}: {what or 'nothing found'} in {result.seconds:.1f} s -> {result.path}"
                )
            elif not env.quiet:  # --quiet: the summary line names the failed targets
                previous = out / "scanned" / f"{result.kind}-{result.name}.yaml"
                env.error(
                    result.message
                    + (f" (previous {previous.name} kept)" if previous.exists() else " (no earlier file)")
                )

        results = run_targets(jobs, out, workers=workers, on_done=report)
    failed = [r for r in results if not r.ok]
    totals = {}
    for r in results:
        for k, n in r.counts.items():
            totals[k] = totals.get(k, 0) + n
    found = ", ".join(f"{n} {k}" for k, n in sorted(totals.items()) if n)
    line = (
        f"inventory scan: {len(results) - len(failed)} of {len(results)} targets scanned"
        + (f", {len(failed)} failed ({', '.join(r.name for r in failed)})" if failed else "")
        + (f"; found {found}" if found else "")
        + f"; {time.monotonic() - t0:.1f} s wall, {sum(r.seconds for r in results):.1f} s summed over targets"
    )
    env.stderr.write(line + "\n")  # the one summary line, also with --quiet
    return 1 if failed else 0


def run_diff(old: Path, new: Path, fmt: str, threshold_gb: float, threshold_pct: float, env: Env) -> int:
    from oslomig.scanning.diff import diff_inventories

    for p in (old, new):
        if not p.exists():
            raise OslomigError(f"no such inventory: {p}")
    problems = Problems()
    a = read_inventory([old], problems)
    b = read_inventory([new], problems)
    if problems.errors:
        env.stderr.write(render_text(problems.errors, colour=env.colour_err))
        return 1
    drift = diff_inventories(a, b, threshold_gb, threshold_pct)
    if fmt == "json":
        env.out(json.dumps(drift.as_json(), indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        from rich.table import Table

        table = Table(title=f"Inventory drift: {old} -> {new}", title_justify="left")
        for name in ("kind", "change", "id", "details"):
            table.add_column(name)
        for kind, data in drift.as_json().items():
            for ident in data["added"]:
                table.add_row(kind, "added", ident, "")
            for ident in data["removed"]:
                table.add_row(kind, "removed", ident, "")
            for c in data["changed"]:
                table.add_row(
                    kind,
                    "changed",
                    c["id"],
                    "; ".join(f"{k}: {v['old']} -> {v['new']}" for k, v in c["changes"].items()),
                )
        env.table_console().print(table)
    counts = {k: sum(len(v[x]) for x in ("added", "removed", "changed")) for k, v in drift.as_json().items()}
    env.info("no drift" if drift.empty else "drift: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return 0 if drift.empty else 1
