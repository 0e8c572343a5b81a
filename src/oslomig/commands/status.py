"""Command core for `status` (SPEC §7): the weekly dashboard as status.html, status.png and status.json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from oslomig.collector import without_cycle_collector
from oslomig.commands.plancontext import compute, default_today, load_plan_context
from oslomig.console import Env
from oslomig.errors import NothingInScope, OslomigError

FILES = ("status.html", "status.png", "status.json")
# where the burn-up's SVG goes in the rendered page: markup no data can produce (the page escapes every `<` it shows)
BURNUP = "<!--oslomig:burnup-svg-->"


def _plan_state(
    plan_path: Path, inventory: Path | None, today: dt.date | None, lang: str, time_limit: float, env, shared: dict
):
    from oslomig.dashboard.collect import PlanState
    from oslomig.planning.notices import build_notices
    from oslomig.planning.scheduling import Schedule

    ctx = load_plan_context(plan_path, inventory, env, shared["inventories"])
    if ctx is None:
        return None
    day = default_today(ctx.plan, today)
    try:
        sched = compute(ctx, day, time_limit, groupings=shared["groupings"])
    except NothingInScope:  # everything has moved: the dashboard still shows the season
        sched = Schedule(ctx.plan.name, day, [], [], [])
    return PlanState(ctx, sched, build_notices(ctx.plan, ctx.inventory, sched, lang))


def _share_status(share_plan: Path, db: Path | None, manifest: Path | None, out: Path, today: dt.date, env: Env):
    """The shares' part of the page: from the manifest directory `share manifest`/`share verify` keep up to date,
    or, without --manifest, from a manifest written now from the scan into OUT/manifest (not verified yet)."""
    from oslomig.commands.shares import load_share_plan, require_scan_db
    from oslomig.dashboard.collect import shares

    plan = load_share_plan(share_plan, env)
    if plan is None:
        return None
    scans: dict[str, str] = {}
    if db is not None:
        from oslomig.shares.store import ScanStore

        require_scan_db(db, share_plan)
        store = ScanStore(db, create=False)
        try:
            for s in plan.shares:
                latest = store.latest_scan(s.id)
                if latest is not None:
                    scans[s.id] = str(latest[2])
            if manifest is None:
                from oslomig.shares.manifest import write_manifest

                manifest = out / "manifest"
                scanned = [s for s in plan.shares if s.id in scans]
                if not scanned:
                    raise OslomigError(f"no share of {share_plan} has been scanned into {db}")
                write_manifest(plan, store, manifest, today, scanned, plan_dir=share_plan.parent)
                env.info(f"manifest written to {manifest} (give --manifest DIR to show a verified one)")
        finally:
            store.close()
    if manifest is None:
        raise OslomigError("--share-plan needs --manifest DIR (what `share manifest` wrote) or --db F (the scan)")
    return shares(plan, manifest, scans)


class _ChartProcess:
    """matplotlib in a second process: it imports (half a second) while this one reads and schedules the plans,
    on the other core, then draws while this one renders the page. Where a process cannot be forked, the drawing
    happens here."""

    def __init__(self) -> None:
        import concurrent.futures
        import multiprocessing

        from oslomig.dashboard import charts

        self.pool = None
        self.future: concurrent.futures.Future | None = None
        self.data: dict = {}
        try:
            self.pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            self.pool.submit(charts.warm)
        except (OSError, ValueError):
            self.pool = None

    def start(self, data: dict) -> None:
        """Begin drawing `data`'s pictures in the chart process; `result` collects them."""
        from oslomig.dashboard import charts

        self.data = data
        if self.pool is not None:
            self.future = self.pool.submit(charts.draw, data)

    def result(self) -> tuple[str, bytes]:
        import concurrent.futures

        from oslomig.dashboard import charts

        if self.future is not None:
            try:
                return self.future.result()
            except concurrent.futures.process.BrokenProcessPool:
                pass
        return charts.draw(self.data)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


@without_cycle_collector  # one run that loads many objects and makes no cycles
def run_status(
    plan_paths: list[Path],
    inventory: Path | None,
    share_plan: Path | None,
    db: Path | None,
    manifest: Path | None,
    today: dt.date | None,
    out: Path,
    lang: str,
    time_limit: float,
    env: Env,
) -> int:
    from oslomig.atomic import ensure_dir, write_many
    from oslomig.dashboard.collect import gather
    from oslomig.dashboard.page import render

    if not plan_paths:
        raise OslomigError("give at least one --plan")
    if (db is not None or manifest is not None) and share_plan is None:
        raise OslomigError("--db and --manifest describe shares: give --share-plan too")
    charts = _ChartProcess()
    try:
        states = []
        shared: dict = {"inventories": {}, "groupings": {}}  # the SQL and Oracle plans read one inventory: once
        for path in plan_paths:
            state = _plan_state(path, inventory, today, lang, time_limit, env, shared)
            if state is None:
                return 1
            states.append(state)
        day = today or states[0].sched.today
        ensure_dir(out)
        share_status = None
        if share_plan is not None:
            share_status = _share_status(share_plan, db, manifest, out, day, env)
            if share_status is None:
                return 1
        data = gather(states, day, lang, share_status)
        charts.start(data)
        page = render(data, BURNUP)  # while the chart process draws: the burn-up goes in where the mark is
        svg, png = charts.result()
    finally:
        charts.close()
    if page.count(BURNUP) != 1:
        raise RuntimeError("the page template must hold the burn-up exactly once")
    write_many(
        {
            out / "status.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
            out / "status.html": page.replace(BURNUP, svg),
            out / "status.png": png,
        }
    )
    _summary(data, env)
    env.info(f"wrote {', '.join(str(out / f) for f in FILES)}")
    return 0


def _summary(data: dict, env: Env) -> None:
    """A few lines for the person at the terminal (stdout stays empty when it is not a TTY)."""
    if not env.stdout_isatty:
        return
    t = data["total"]
    db = t["databases"]
    lines = [
        f"Status {data['week']} ({data['today']}): {db['migrated']} of {db['total']} databases migrated, "
        f"{db['announced']} announced, {db['scheduled']} scheduled, {db['unscheduled']} unscheduled",
        f"  systems {t['systems']['migrated']} of {t['systems']['total']} migrated; "
        f"{t['gb']['migrated']:,.1f} of {t['gb']['total']:,.1f} GB",
        f"  next two weeks: {len(data['next_windows'])} window(s); notices to publish this week: "
        f"{len(data['to_publish'])} ({sum(1 for r in data['to_publish'] if r['overdue'])} overdue)",
        f"  failed or postponed: {len(data['failed'])}; unscheduled groups: {len(data['unscheduled'])}",
    ]
    if data["shares"]:
        s = data["shares"]
        open_rows = sum(r["review_open"] for r in s["shares"])
        lines.append(
            f"  shares: {len(s['shares'])}, {s['verified']} verified, {s['safe_to_delete']} safe to delete, "
            f"{open_rows} review row(s) open"
        )
    env.out("\n".join(lines) + "\n")
