"""Command core for `verify`: a schedule JSON (ours or hand-edited) checked against every hard constraint by the
independent verifier, in the format asked for (text, json, github)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from oslomig.collector import without_cycle_collector
from oslomig.commands.plancontext import check_schedule_shape, default_today, load_plan_context
from oslomig.console import Env
from oslomig.errors import OslomigError


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_verify(
    plan_path: Path, inventory: Path | None, schedule_path: Path, today: dt.date | None, env: Env, fmt: str = "text"
) -> int:
    """Check a schedule JSON (ours or hand-edited) against every hard constraint."""
    from oslomig.planning.verifier import verify_schedule

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    try:
        data = json.loads(schedule_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OslomigError(f"no such schedule file: {schedule_path}") from None
    except json.JSONDecodeError as exc:
        raise OslomigError(f"{schedule_path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise OslomigError(f"cannot read the schedule {schedule_path}: {exc}") from None
    check_schedule_shape(data, schedule_path)
    if today is None:
        today = dt.date.fromisoformat(data["today"]) if data.get("today") else default_today(ctx.plan, None)
    broken = verify_schedule(data, ctx.plan, ctx.inventory, today)
    FORMATS[fmt](broken, schedule_path, env)
    env.info(f"{len(broken)} constraint violation(s) in {len(data.get('assignments', []))} assignments")
    return 1 if broken else 0


def _text(broken: list, schedule_path: Path, env: Env) -> None:
    for b in broken:
        env.out(f"{b} ({b.code})\n")


def _json(broken: list, schedule_path: Path, env: Env) -> None:
    payload = {"schedule": str(schedule_path), "violations": [b.as_json() for b in broken]}
    env.out(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _github(broken: list, schedule_path: Path, env: Env) -> None:
    """GitHub workflow commands: one annotation per broken constraint, on the schedule file."""
    from oslomig.problems import one_line

    for b in broken:
        env.out(f"::error file={schedule_path},title={b.code}::{one_line(str(b))}\n")


# the formats of `verify --format`, by name: the same findings, rendered for a person, a program or GitHub
FORMATS: dict[str, Callable[[list, Path, Env], None]] = {"text": _text, "json": _json, "github": _github}
