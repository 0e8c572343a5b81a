"""Command cores for `share stage` and `share verify` (SPEC §5.2): carry the manifest out, then prove it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from oslomig.commands.shares import _select, load_share_plan, require_scan_db
from oslomig.console import Env
from oslomig.errors import OslomigError


def run_stage(
    plan_path: Path, db: Path, manifest_dir: Path, out: Path | None, share_ids: list[str], apply: bool, env: Env
) -> int:
    from oslomig.atomic import ensure_dir, write_many
    from oslomig.shares.stagescripts import stage_ps1, stage_sh
    from oslomig.shares.staging import collect_links, staging_unc_base
    from oslomig.shares.store import ScanStore

    plan = load_share_plan(plan_path, env)
    if plan is None:
        return 1
    require_scan_db(db, plan_path)
    out = out or manifest_dir
    shares = _select(plan, share_ids)
    store = ScanStore(db, create=False)
    try:
        unscanned = [s.id for s in shares if store.latest_scan(s.id) is None]
        if unscanned and share_ids:
            raise OslomigError(f"not scanned: {', '.join(unscanned)}; run `oslomig share scan` first")
        for sid in unscanned:
            env.warn(f"{sid}: not scanned yet; nothing to stage")
        shares = [s for s in shares if s.id not in unscanned]
        if not shares:
            raise OslomigError(f"no share of {plan_path} has been scanned into {db}")
        all_links = collect_links(plan, store, manifest_dir / "manifest.csv", shares, plan_path.parent)
    finally:
        store.close()
    unc_of: dict[str, str | None] = {}
    for links in all_links:
        try:
            unc_of[links.share.id] = staging_unc_base(links.share, plan_path.parent)
        except OslomigError:
            unc_of[links.share.id] = None
    ensure_dir(out)
    write_many({out / "stage.sh": stage_sh(all_links), out / "stage.ps1": "\ufeff" + stage_ps1(all_links, unc_of)})
    total = sum(len(x.links) for x in all_links)
    env.info(
        f"stage.sh and stage.ps1 written to {out}: {total:,} hard links in "
        f"{sum(len(x.roots) for x in all_links)} staging root(s) of {len(all_links)} share(s)"
    )
    if not apply:
        env.info("run `sh stage.sh` where the shares live (stage.ps1 on a Windows file server), or add --apply")
        return 0
    on_windows = [x.share.id for x in all_links if x.share.source.startswith("smb://")]
    if on_windows:
        raise OslomigError(
            f"{', '.join(on_windows)}: an smb:// share is staged on its Windows file server: run {out / 'stage.ps1'} "
            "there (it is written); --apply works for local and ssh:// shares"
        )
    for links in all_links:
        with env.progress(f"staging {links.share.id}", total=len(links.links)) as bar:
            if links.share.source.startswith("ssh://"):
                done = _apply_ssh(links)
            else:
                from oslomig.shares.staging import apply_local

                done = apply_local(links, progress=bar)
        env.info(
            f"{links.share.id}: {len(links.links):,} files staged in {links.staging} "
            f"({done.linked:,} linked, {done.kept:,} already in place, {done.removed:,} removed)"
        )
    return 0


def _apply_ssh(links):
    """Run the share's part of stage.sh on the server over SSH (`sh -s`); the server checks and links."""
    from oslomig.commands.shares import ssh_target
    from oslomig.shares.stagescripts import stage_sh
    from oslomig.shares.staging import Applied
    from oslomig.sshconn import connect

    if not links.staging.startswith("/"):
        raise OslomigError(f"{links.share.id}: the staging path of an ssh:// share must be absolute on the server")
    target = ssh_target(links.share.source, links.share.ssh)
    client = connect(target)
    try:
        stdin, stdout, stderr = client.exec_command("sh -s")
        stdin.write(stage_sh([links]))
        stdin.channel.shutdown_write()
        err = stderr.read().decode("utf-8", "replace").strip()
        status = stdout.channel.recv_exit_status()
    finally:
        client.close()
    if status != 0:
        last = err.splitlines()[-1] if err else f"exit status {status}"
        raise OslomigError(f"{links.share.id}: staging on {target.host} failed: {last.removeprefix('stage.sh: ')}")
    return Applied(linked=len(links.links))


def run_verify(
    plan_path: Path,
    manifest_dir: Path,
    reports_dir: Path,
    out: Path | None,
    share_ids: list[str],
    today: dt.date | None,
    env: Env,
) -> int:
    from oslomig import csvout
    from oslomig.atomic import atomic_open, ensure_dir, write_text
    from oslomig.problems import one_line
    from oslomig.safenames import safe_component
    from oslomig.shares.manifest import write_timeline
    from oslomig.shares.proof import RECORD, VERIFY_COLUMNS, deletion_gate, expected_rows, load_record, read_reports
    from oslomig.shares.staging import staging_unc_base

    plan = load_share_plan(plan_path, env)
    if plan is None:
        return 1
    if not reports_dir.is_dir():
        raise OslomigError(f"--reports {reports_dir} is not a directory (SPMT's report folder)")
    out = out or manifest_dir
    today = today or dt.datetime.now(ZoneInfo(plan.timezone)).date()
    selected = {s.id for s in _select(plan, share_ids)}
    usable = []
    for share in plan.shares:  # every share, so the timeline's gates of the others stay as they were
        try:
            staging_unc_base(share, plan_path.parent)
            usable.append(share)
        except OslomigError as exc:
            if share_ids and share.id in selected:
                raise
            if share.id in selected:
                env.warn(f"{exc}; it cannot be verified")
    selected &= {s.id for s in usable}
    proofs = expected_rows(manifest_dir / "manifest.csv", usable, plan_path.parent)
    n_reports, warnings = read_reports(reports_dir, proofs)
    for message in warnings:
        env.warn(message)
    ensure_dir(out)
    record = load_record(out)
    failed_shares = 0
    for sid, proof in proofs.items():
        if sid not in selected:
            continue
        bad = 0
        with atomic_open(out / f"verify-{safe_component(sid)}.csv", newline="") as handle:
            w = csvout.writer(handle)
            w.writerow(VERIFY_COLUMNS)
            for exp, result, status, message, where in proof.results():
                w.writerow([sid, exp.source_path, exp.target_path, exp.staging_source, result, status, message, where])
                if result != "arrived":
                    bad += 1
                    detail = f" ({status}: {message})" if status else ""
                    env.out(one_line(f"{sid}: {result}: {exp.source_path} -> {exp.target_path}{detail}") + "\n")
            for source, status, where in proof.unknown:
                w.writerow([sid, "", "", source, "unknown", status, "not in the manifest: staged by hand?", where])
                line = f"{sid}: unknown: {source} is in an SPMT report ({where}) but not in the manifest"
                env.out(one_line(line) + "\n")
        passed = bad == 0 and not proof.unknown and bool(proof.expected)
        if not proof.expected:
            env.warn(f"{sid}: the manifest moves no file of this share; nothing to verify")
        record[sid] = {
            "verified_at": today.isoformat(),
            "passed": passed,
            "digest": proof.digest,
            "files": len(proof.expected),
            "not_arrived": bad,
            "unknown": len(proof.unknown),
        }
        failed_shares += not passed
        env.info(
            f"{sid}: {len(proof.expected) - bad:,} of {len(proof.expected):,} files arrived"
            + (f", {len(proof.unknown)} unknown to the manifest" if proof.unknown else "")
            + ("; verified" if passed else "; NOT verified")
        )
    write_text(out / RECORD, json.dumps({"shares": dict(sorted(record.items()))}, indent=2, ensure_ascii=False) + "\n")
    gates = {}
    for share in plan.shares:
        proof = proofs.get(share.id)
        gates[share.id] = deletion_gate(
            share.id, proof.open_review if proof else 0, proof.digest if proof else "", record
        )
    write_timeline(out, plan, plan.shares, today, gates)
    for share in plan.shares:
        _verified_at, safe, why = gates[share.id]
        env.info(f"{share.id}: safe_to_delete={'true' if safe else 'false'}" + (f" ({why})" if why else ""))
    env.info(f"verify: {n_reports} SPMT item report(s) read from {reports_dir}; results in {out}")
    return 1 if failed_shares else 0
