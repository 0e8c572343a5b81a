#!/usr/bin/env python3
"""`make mutate`: mutation testing of the core modules with mutmut, then the score per module.

The modules and the test selection are in pyproject.toml ([tool.mutmut]). mutmut remembers its work in mutants/,
so a second run only retests what changed. The score is killed / (killed + survived); mutants that time out count
as killed (the test run noticed something), mutants no test reaches ("no tests") count as survived.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    """`scripts/mutate.py` runs every mutant (about 5,400; hours on two cores); `--sample N` runs a reproducible
    random sample of N (seed 2026) and the score is an estimate with its margin."""
    import argparse
    import random

    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=int(os.environ.get("SAMPLE", "0") or 0))
    args = parser.parse_args()
    # CLI tests run in-process (tests/conftest.py), so mutmut sees and mutates what they exercise
    env = {
        **os.environ,
        "OSLOMIG_PROPERTY_EXAMPLES": os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "25"),
        "OSLOMIG_TEST_IN_PROCESS": "1",
    }
    mutmut = [str(BIN / "mutmut"), "run", "--max-children", str(max(1, os.cpu_count() or 1))]
    names: list[str] = []
    if args.sample:
        # one mutant first: mutmut generates every mutant and its stats, then the sample runs against them
        subprocess.run([*mutmut, "oslomig.atomic.x_current_umask__mutmut_1"], cwd=ROOT, env=env)
        everything = sorted(
            n
            for meta in (ROOT / "mutants").rglob("*.py.meta")
            for n in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        )
        names = sorted(random.Random(2026).sample(everything, min(args.sample, len(everything))))
    run = subprocess.run([*mutmut, *names], cwd=ROOT, env=env)
    if run.returncode not in (0, 1):
        return run.returncode
    subprocess.run([str(BIN / "mutmut"), "export-cicd-stats"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(score(ROOT / "mutants", set(names) or None))
    return 0


def score(mutants: Path, only: set[str] | None = None) -> str:
    """Per-module counts from mutmut's .meta files (exit code per mutant: 1 killed, 0 survived, 33 no tests, ...)."""
    from mutmut.stats import status_by_exit_code

    per_module: dict[str, Counter] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        counts: Counter = Counter()
        for name, code in data.get("exit_code_by_key", {}).items():
            if only is not None and name not in only:
                continue
            status = status_by_exit_code[code]
            if status in ("killed", "timeout", "segfault", "caught by type check"):
                counts["killed" if status != "timeout" else "timeout"] += 1
            elif status in ("survived", "no tests"):
                counts[status] += 1
            else:  # not checked, skipped, suspicious, interrupted
                counts["not run"] += 1
        per_module[str(meta.relative_to(mutants / "src")).removesuffix(".meta")] = counts
    lines = ["module                         killed  timeout  survived  no-tests  not-run   score"]
    total: Counter = Counter()
    for module, c in per_module.items():
        total.update(c)
        lines.append(_row(module, c))
    lines.append(_row("all core modules", total))
    return "\n".join(lines)


def _row(name: str, c: Counter) -> str:
    dead = c["killed"] + c["timeout"]
    alive = c["survived"] + c["no tests"]
    pct = f"{100 * dead / (dead + alive):.1f}%" if dead + alive else "-"
    return f"{name:30} {c['killed']:7} {c['timeout']:8} {c['survived']:9} {c['no tests']:9} {c['not run']:8} {pct:>7}"


if __name__ == "__main__":
    sys.exit(main())
