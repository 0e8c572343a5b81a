from __future__ import annotations

from pathlib import Path

from oslomig.collector import without_cycle_collector
from oslomig.console import Env
from oslomig.problems import render_github, render_json, render_text, summary_line
from oslomig.validation import validate_paths


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run(paths: list[Path], fmt: str, env: Env) -> int:
    result = validate_paths(paths)
    problems = result.problems
    if fmt == "json":
        env.out(render_json(problems))
    elif fmt == "github":
        env.out(render_github(problems))
    else:
        env.out(render_text(problems, colour=env.colour_out))
        env.info(summary_line(problems, len(result.files)))
    return 1 if problems.errors else 0
