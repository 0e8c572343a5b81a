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
        f"in {OUT.relative_to(ROOT)}/manifest/manifest.csv"
    )
    print("  also:       spmt.csv, spmt.json, summary.csv, timeline.csv, timeline.ics,")
    print("              review-ine-okonomi-demo.xlsx (and .csv) for the contact to decide")
    if failures:
        print(f"demo FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
