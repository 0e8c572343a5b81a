"""Command core for `notices`: one text per system contact, notices.csv for the customer portal, notices.ics;
written all together, with calendar SEQUENCE kept from the previous run."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from oslomig.collector import without_cycle_collector
from oslomig.commands.plancontext import PlanContext, compute, default_today, load_plan_context
from oslomig.commands.schedule import schedule_ics
from oslomig.console import Env


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_notices(
    plan_path: Path, inventory: Path | None, today: dt.date | None, out_dir: Path, lang: str, env: Env
) -> int:

    ctx = load_plan_context(plan_path, inventory, env)
    if ctx is None:
        return 1
    today = default_today(ctx.plan, today)
    sched = compute(ctx, today)
    return write_notices(ctx, sched, today, out_dir, lang, env)


def write_notices(ctx: PlanContext, sched, today: dt.date, out_dir: Path, lang: str, env: Env, only=None) -> int:
    """Notices for every scheduled group (or only the groups in `only`), all-or-nothing."""
    from oslomig.atomic import ensure_dir, write_many
    from oslomig.planning.notices import build_notices, notices_csv

    notices = build_notices(ctx.plan, ctx.inventory, sched, lang)
    if only is not None:
        notices = [n for n in notices if n.group in only]
    ensure_dir(out_dir)
    index = _previous_index(out_dir / "notices.csv")
    previous = _previous_notice_files(index)
    sequence = _sequences(index, notices)
    for n in notices:
        n.sequence = sequence.get(n.group, 0)
    files: dict[Path, str | bytes] = {}
    with env.progress("writing notices", total=len(notices)) as bar:
        for n in notices:
            files[out_dir / n.filename] = n.text
            bar.advance()
    files[out_dir / "notices.ics"] = schedule_ics(ctx, sched, today, lang, only, sequence)
    # the index last: until it is replaced, the old one still describes a complete set
    files[out_dir / "notices.csv"] = notices_csv(notices)
    write_many(files)
    for stale in previous - {n.filename for n in notices}:
        old = out_dir / stale
        if old.is_file() and not old.is_symlink():  # only a notice file of ours, never what squats on its name
            old.unlink()
    late = [n for n in notices if n.publish_by < today]
    for n in late:
        env.warn(f"[late-notice] {n.id}: should have been published by {n.publish_by}")
    if only is None:
        for u in sched.unscheduled:
            env.warn(f"[unscheduled] {u.group.id}: no notice written; " + "; ".join(map(str, u.reasons)))
    groups = len(only) if only is not None else len(sched.assignments)
    env.info(
        f"{len(notices)} notices for {groups} scheduled groups written to {out_dir} "
        f"(notices.csv, notices.ics, one .txt per notice)"
    )
    return 1 if sched.unscheduled and only is None else 0


def _previous_index(index: Path) -> list[dict]:
    """The rows of the notices.csv an earlier run left (none when there is none, or it is not ours)."""
    if not index.exists():
        return []
    with index.open(encoding="utf-8", newline="") as handle:
        try:
            return list(csv.DictReader(handle))
        except (csv.Error, UnicodeDecodeError):
            return []  # not our index: leave every file alone


def _sequences(rows: list[dict], notices) -> dict[str, int]:
    """Per group, the calendar SEQUENCE: the previous notices.csv's, plus one when the group's window moved."""
    before: dict[str, tuple[str, int]] = {}
    for row in rows:
        seq = row.get("sequence") or "0"
        before[row.get("group") or ""] = (row.get("start") or "", int(seq) if seq.isdigit() else 0)
    out = {}
    for n in notices:
        start, seq = before.get(n.group, (n.start.isoformat(), 0))
        out[n.group] = seq + (start != n.start.isoformat())
    return out


def _previous_notice_files(rows: list[dict]) -> set[str]:
    """The notice texts an earlier run wrote: only names that are ours (safe, .txt) are ever removed."""
    from oslomig.safenames import is_safe_component

    return {r["file"] for r in rows if (r.get("file") or "").endswith(".txt") and is_safe_component(r["file"])}
