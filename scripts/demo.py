#!/usr/bin/env python3
"""`make demo`: run the main job on the shipped examples and say where the outputs went."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
TODAY = "2021-04-20"  # the examples are the 2021 migration: "now" is two weeks before the first window


def oslomig(*args: str, stdout=subprocess.DEVNULL) -> int:
    print(f"$ oslomig {' '.join(args)}", file=sys.stderr, flush=True)
    env = {**os.environ, "NO_COLOR": os.environ.get("NO_COLOR", "1")}
    return subprocess.run([sys.executable, "-m", "oslomig", *args], cwd=ROOT, stdout=stdout, env=env).returncode


def main() -> int:
    OUT.mkdir(exist_ok=True)
    failures = []
    if oslomig("validate") != 0:
        failures.append("validate")
    plan = "plans/sql-2021.yaml"
    oslomig("groups", "--plan", plan, "--format", "json", stdout=(OUT / "groups.json").open("w"))
    # exit 1 from schedule/notices means "some group could not be placed": expected, and explained
    oslomig("schedule", "--plan", plan, "--today", TODAY, "--format", "json", "--out", str(OUT / "schedule.json"))
    oslomig("schedule", "--plan", plan, "--today", TODAY, "--format", "ics", "--out", str(OUT / "schedule.ics"))
    if oslomig("verify", "--plan", plan, "--schedule", str(OUT / "schedule.json")) != 0:
        failures.append("verify")
    oslomig("notices", "--plan", plan, "--today", TODAY, "--out", str(OUT / "notices"))
    # file shares: a generated department share -> scan -> SharePoint manifest
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_share_tree import generate

    entries = generate(OUT / "share-tree" / "Okonomi")
    if oslomig("share", "scan", "--plan", "plans/demo-shares.yaml", "--db", str(OUT / "shares.sqlite")) != 0:
        failures.append("share scan")
    if (
        oslomig(
            "share",
            "manifest",
            "--plan",
            "plans/demo-shares.yaml",
            "--db",
            str(OUT / "shares.sqlite"),
            "--out",
            str(OUT / "manifest"),
            "--today",
            TODAY,
        )
        != 0
    ):
        failures.append("share manifest")
    import csv
    from collections import Counter

    gate = carry_out_and_prove(failures)

    with (OUT / "manifest" / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        actions = Counter(row["action"] for row in csv.DictReader(handle))
    groups = json.loads((OUT / "groups.json").read_text(encoding="utf-8"))
    sched = json.loads((OUT / "schedule.json").read_text(encoding="utf-8"))
    s = sched["summary"]
    notices = len(list((OUT / "notices").glob("*.txt")))
    print()
    print("oslomig demo: SQL Server 2021 on the example estate")
    print(
        f"  groups:     {len(groups['groups'])} co-migration groups of "
        f"{sum(len(g['databases']) for g in groups['groups'])} databases"
    )
    print(
        f"  scheduled:  {s['scheduled']} of {s['groups']} groups; {s['unscheduled']} unscheduled, each with its reasons"
    )
    print(
        f"  finish:     {s['finish']} "
        f"({'proven optimal' if s['proven_optimal'] else 'gap to lower bound {} h'.format(s['gap_hours'])})"
    )
    print(f"  verifier:   {'no constraint broken' if 'verify' not in failures else 'VIOLATIONS (see above)'}")
    print(f"  notices:    {notices} notices in {OUT.relative_to(ROOT)}/notices (notices.csv, notices.ics)")
    print(f"  outputs:    {OUT.relative_to(ROOT)}/groups.json, schedule.json, schedule.ics")
    for u in sched["unscheduled"]:
        print(f"  unscheduled {u['group']}: {u['reasons'][0]}")
    print()
    print(f"oslomig demo: file share -> SharePoint ({entries} entries in demo-out/share-tree/Okonomi)")
    print(
        f"  manifest:   {actions['migrate']} migrate, {actions['review']} review, {actions['skip']} skip "
        f"in {OUT.relative_to(ROOT)}/manifest/manifest.csv (after the contact's decisions)"
    )
    print("  also:       spmt.csv, spmt.json, summary.csv, timeline.csv, timeline.ics,")
    print("              review-ine-okonomi-demo.xlsx (and .csv) for the contact to decide")
    print(f"  staged:     {gate['staged']} hard links in demo-out/share-tree/.staging (stage.sh, stage.ps1)")
    for when, rows in (("before decisions", gate["before"]), ("after decisions", gate["after"])):
        for row in rows:
            why = f" ({row['blocked_because']})" if row["blocked_because"] else ""
            print(
                f"  {when + ':':<17} {row['share']} verified_at={row['verified_at'] or '-'} "
                f"safe_to_delete={row['safe_to_delete']}{why}"
            )
    if failures:
        print(f"demo FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def carry_out_and_prove(failures: list[str]) -> dict:
    """stage -> (a fabricated SPMT run) -> verify, once with the review rows open and once after the contact's
    decisions came back: deletion is allowed only then."""
    import csv
    import shutil

    from fake_spmt import item_rows, write_report

    plan, db, man = "plans/demo-shares.yaml", str(OUT / "shares.sqlite"), OUT / "manifest"
    staging = OUT / "share-tree" / ".staging"
    staging.mkdir(exist_ok=True)
    verify_day = "2021-08-20"

    def stage_and_verify() -> list[dict]:
        if oslomig("share", "stage", "--plan", plan, "--db", db, "--manifest", str(man), "--apply") != 0:
            failures.append("share stage")
        reports = OUT / "spmt-reports"
        shutil.rmtree(reports, ignore_errors=True)
        rows = item_rows(
            man / "spmt.json", staging / "ine-okonomi-demo", "\\\\filsrv01\\INE\\.staging\\ine-okonomi-demo"
        )
        write_report(reports / "TaskReport_demo" / "ItemReport_R1.csv", rows)
        if (
            oslomig(
                "share",
                "verify",
                "--plan",
                plan,
                "--manifest",
                str(man),
                "--reports",
                str(reports),
                "--today",
                verify_day,
            )
            != 0
        ):
            failures.append("share verify")
        with (man / "timeline.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    before = stage_and_verify()
    # the contact answers: duplicates stay behind, everything else she looked at moves
    returned = OUT / "returned"
    returned.mkdir(exist_ok=True)
    with (man / "review-ine-okonomi-demo.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    col = rows[0].index("decision")
    for row in rows[1:]:
        row[col] = "skip" if "DUPLICATE" in row[5] else "migrate"
    with (returned / "review-ine-okonomi-demo.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    args = ("--plan", plan, "--db", db, "--out", str(man), "--today", TODAY, "--decisions", str(returned))
    if oslomig("share", "manifest", *args) != 0:
        failures.append("share manifest --decisions")
    after = stage_and_verify()
    staged = sum(1 for p in staging.rglob("*") if p.is_file() and p.name != ".oslomig-staging")
    return {"before": before, "after": after, "staged": staged}


if __name__ == "__main__":
    sys.exit(main())
