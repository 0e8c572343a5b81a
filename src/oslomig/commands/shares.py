"""Command cores for `share scan` and `share manifest`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from oslomig.errors import ConnectError, OslomigError

if TYPE_CHECKING:  # the rest is imported where it is used: a scan over SSH starts its client sooner (`_start_ssh`)
    from oslomig import models
    from oslomig.console import Env
    from oslomig.sshconn import SshSettings

REMOTE = ("ssh://", "smb://")


def load_share_plan(path: Path, env: Env) -> models.SharePlan | None:
    from oslomig import models
    from oslomig.commands.common import load_model
    from oslomig.problems import Problems
    from oslomig.validation import check_share_plan

    loaded = load_model(path, models.SharePlan, "share plan", env, Problems(), check_share_plan)
    return loaded[0] if loaded else None


def _select(plan: models.SharePlan, ids: list[str]) -> list[models.ShareSpec]:
    if not ids:
        return list(plan.shares)
    known = {s.id: s for s in plan.shares}
    missing = [i for i in ids if i not in known]
    if missing:
        raise OslomigError(f"no share {', '.join(missing)} in the plan (known: {', '.join(known)})")
    return [known[i] for i in ids]


def run_scan(
    plan_path: Path | None,
    source: str | None,
    share_ids: list[str],
    db: Path,
    env: Env,
    ssh: models.SshOptions | SshSettings | None = None,
) -> int:
    from oslomig.shares.store import ScanStore

    if (plan_path is None) == (source is None):
        raise OslomigError("give either --plan SHARE_PLAN or a SOURCE (a path or ssh://user@host[:port]/path)")
    if plan_path is not None:
        plan = load_share_plan(plan_path, env)
        if plan is None:
            return 1
        # a relative local source is relative to the plan file, like the plan's other paths
        targets = [
            (
                s.id,
                s.source if s.source.startswith(REMOTE) else str((plan_path.parent / s.source).resolve()),
                s.ssh or ssh,
                s,
            )
            for s in _select(plan, share_ids)
        ]
    else:
        if not source.startswith(("ssh://", "smb://")) and not Path(source).is_dir():
            what = "is not a directory" if Path(source).exists() else "does not exist"
            raise OslomigError(f"cannot scan {source}: it {what}")
        targets = [(_adhoc_id(source), source, ssh, None)]
    early = _start_ssh(*targets[0][1:3]) if targets and targets[0][1].startswith("ssh://") else None
    try:
        store = ScanStore(db)
    except BaseException:
        if early is not None and not isinstance(early, Exception):
            early.close()
        raise
    failed = 0
    total_files = total_problems = 0
    try:
        for share_id, src, ssh_options, spec in targets:
            session, early = early, None  # the first share's, if it was started early
            try:
                with env.progress(f"scanning {share_id}") as bar:
                    result = _scan_one(store, share_id, src, ssh_options, bar, spec, session)
            except (OSError, ConnectionError, ConnectError, ValueError) as exc:
                failed += 1
                env.error(f"{share_id}: {src}: {getattr(exc, 'strerror', None) or exc}")
                continue
            total_files += result.files
            total_problems += result.problems
            env.info(
                f"{share_id}: {result.files:,} entries, {result.bytes / 1e9:,.2f} GB, {result.hashed:,} hashed "
                f"(size collisions only), {result.problems} problem(s) recorded"
            )
    finally:
        store.discard_if_empty()
        store.close()
    env.info(
        f"share scan: {len(targets) - failed} of {len(targets)} shares scanned, {total_files:,} entries, "
        f"{total_problems} problem(s) recorded in {db}"
    )
    return 1 if failed else 0


def _adhoc_id(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1] or "share"


def ssh_target(source: str, ssh_options: models.SshOptions | SshSettings | None):
    """The SSH connection details of an ssh:// share source: a share plan's `ssh:`, else the command line's."""
    from oslomig.sshconn import SshSettings, SshTarget, parse_ssh_url

    user, host, port, _ = parse_ssh_url(source)
    return SshTarget.reaching(host, port, user, ssh_options or SshSettings())


def smb_password(share_id: str, spec: models.ShareSpec | None) -> str:
    """The password of an smb:// share: its `password_env` or `password_file`; a share given on the command line
    reads OSLOMIG_SMB_PASSWORD. Never from the URL, never echoed."""
    import os

    if spec is None:
        value = os.environ.get("OSLOMIG_SMB_PASSWORD")
        if value is None:
            raise ConnectError(f"{share_id}: set OSLOMIG_SMB_PASSWORD (or scan it from a share plan with password_env)")
        return value
    if not (spec.password_env or spec.password_file):
        raise ConnectError(f"{share_id}: an smb:// share needs `password_env` or `password_file` in the share plan")
    from oslomig.secrets import read_secret

    return read_secret(share_id, spec.password_env, spec.password_file)


def _start_ssh(source: str, ssh_options: models.SshOptions | SshSettings | None):
    """The first share's SSH session, started before the scan file is opened and the scan's modules are imported,
    so the handshake the scan waits for begins that much sooner (eleven interleaved pairs on loopback: 0.986); or
    what stopped it, raised when that share's turn comes, as a session that failed to start in its turn is."""
    from oslomig.shares import ssh

    try:
        return ssh.start(source, ssh_target(source, ssh_options))
    except (OSError, ConnectionError, ConnectError, ValueError) as exc:
        return exc


def _scan_one(
    store,
    share_id: str,
    source: str,
    ssh_options: models.SshOptions | SshSettings | None,
    bar,
    spec: models.ShareSpec | None,
    early=None,
):
    if source.startswith("smb://"):
        from oslomig.shares.smb import scan_smb

        timeout = spec.smb_timeout_s if spec is not None else 30
        return scan_smb(store, share_id, source, smb_password(share_id, spec), timeout, progress=bar)
    if source.startswith("ssh://"):
        from oslomig.shares.ssh import scan_ssh

        if isinstance(early, Exception):
            raise early
        return scan_ssh(store, share_id, source, ssh_target(source, ssh_options), progress=bar, session=early)
    from oslomig.shares.scan import scan_local

    return scan_local(store, share_id, source, progress=bar)


def require_scan_db(db: Path, plan_path: Path) -> None:
    """The commands that read a scan say what to run when there is none."""
    if not db.exists():
        raise OslomigError(f"no scan database at {db}; run `oslomig share scan --plan {plan_path} --db {db}` first")


def run_manifest(
    plan_path: Path, db: Path, out: Path, today: dt.date | None, env: Env, decisions_dir: Path | None = None
) -> int:
    from oslomig.shares.manifest import write_manifest
    from oslomig.shares.store import ScanStore

    plan = load_share_plan(plan_path, env)
    if plan is None:
        return 1
    require_scan_db(db, plan_path)
    from zoneinfo import ZoneInfo

    today = today or dt.datetime.now(ZoneInfo(plan.timezone)).date()
    decisions = None
    if decisions_dir is not None:
        from oslomig.shares.decisions import read_decisions

        if not decisions_dir.is_dir():
            raise OslomigError(f"--decisions {decisions_dir} is not a directory of returned review lists")
        decisions = read_decisions(decisions_dir)
        for message in decisions.errors:
            env.error(message)
        env.info(f"decisions: {len(decisions.by_row):,} from {decisions.files} returned list(s) in {decisions_dir}")
    store = ScanStore(db, create=False)
    try:
        unscanned = [s.id for s in plan.shares if store.latest_scan(s.id) is None]
        if len(unscanned) == len(plan.shares):
            raise OslomigError(
                f"no share of {plan_path} has been scanned into {db}; "
                f"run `oslomig share scan --plan {plan_path} --db {db}` first"
            )
        for sid in unscanned:
            env.warn(f"{sid}: not scanned yet; it has no rows in manifest.csv and no SPMT task")
        shares = [s for s in plan.shares if s.id not in unscanned]
        total = sum(store.latest_scan(s.id)[3] for s in shares if s.id not in unscanned)
        with env.progress("classifying", total=total) as bar:
            totals = write_manifest(
                plan, store, out, today, shares, progress=bar, decisions=decisions, plan_dir=plan_path.parent
            )
    finally:
        store.close()
    if decisions is not None:
        for message in decisions.warnings:
            env.warn(message)
    for message in totals.warnings:
        env.warn(message)
    for sid, code, where, n in totals.library_warnings:
        env.warn(f"[{code}] {sid}: {where} holds {n:,} items")
    _totals_table(totals, env)
    env.info(
        f"manifest of {total:,} entries written to {out} (manifest.csv, spmt.csv, spmt.json, summary.csv, "
        f"timeline.csv, timeline.ics, review-<share>.xlsx and .csv)"
    )
    return 1 if decisions is not None and decisions.errors else 0


def _totals_table(totals, env: Env) -> None:
    from rich.table import Table

    table = Table(title="Totals by share and action", title_justify="left")
    for name, justify in (("share", "left"), ("action", "left"), ("files", "right"), ("GB", "right")):
        table.add_column(name, justify=justify)
    for (share, action), (files, size) in sorted(totals.by_action.items()):
        table.add_row(share, action, f"{files:,}", f"{size / 1e9:,.3f}")
    env.table_console().print(table)
    review = Table(title="Review rows still open, by share and contact", title_justify="left")
    for name, justify in (("share", "left"), ("contact", "left"), ("open", "right"), ("decided", "right")):
        review.add_column(name, justify=justify, overflow="fold")
    for share, (contact, n) in sorted(totals.open_review.items()):
        review.add_row(share, contact or "-", f"{n:,}", f"{totals.decided.get(share, 0):,}")
    env.table_console().print(review)
