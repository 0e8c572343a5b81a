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
    # CLI tests run in-process (tests/conftest.py), so mutmut sees and mutates what they exercise
    env = {
        **os.environ,
        "OSLOMIG_PROPERTY_EXAMPLES": os.environ.get("OSLOMIG_PROPERTY_EXAMPLES", "25"),
        "OSLOMIG_TEST_IN_PROCESS": "1",
    }
    workers = str(max(1, os.cpu_count() or 1))
    run = subprocess.run([str(BIN / "mutmut"), "run", "--max-children", workers], cwd=ROOT, env=env)
    if run.returncode not in (0, 1):
        return run.returncode
    subprocess.run([str(BIN / "mutmut"), "export-cicd-stats"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(score(ROOT / "mutants"))
    return 0


def score(mutants: Path) -> str:
    """Per-module counts from mutmut's .meta files (exit code per mutant: 1 killed, 0 survived, 33 no tests, ...)."""
    per_module: dict[str, Counter] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        counts: Counter = Counter()
        for code in data.get("exit_code_by_key", {}).values():
            if code is None:
                counts["not run"] += 1
            elif code == 0:
                counts["survived"] += 1
            elif code == 33:
                counts["no tests"] += 1
            elif code in (-24, 36, 24, 152):  # timeouts
                counts["timeout"] += 1
            else:
                counts["killed"] += 1
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
