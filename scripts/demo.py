#!/usr/bin/env python3
"""`make demo`: run the main job on the shipped examples and say where the outputs went."""

from __future__ import annotations

import datetime as dt
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
    loop = one_week_of_the_loop(failures)
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
    status = mid_season_status(failures)

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
    print("oslomig demo: one week of the migration loop (demo-out/loop/sql-2021.yaml, a copy of the plan)")
    print(f"  announce:   {loop['announced']} groups through {loop['through']} written into `announced:`")
    print(f"  record:     {loop['done']} done; {loop['failed']} failed (rollback)")
    print(f"  re-plan:    --previous at {loop['today']}: {len(loop['moved'])} of {loop['groups']} groups moved")
    for m in loop["moved"]:
        cause = m["cause"] if len(m["cause"]) < 110 else m["cause"][:107] + "..."
        print(f"    {m['group']}: {(m['from'] or '-')[:16]} -> {(m['to'] or 'unscheduled')[:16]}  {cause}")
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
    if status:
        db = status["total"]["databases"]
        print()
        print(f"oslomig demo: the weekly dashboard at {status['today']} ({status['week']}), both plans and the share")
        print(
            f"  databases:  {db['migrated']} migrated, {db['announced']} announced, {db['scheduled']} scheduled, "
            f"{db['unscheduled']} unscheduled of {db['total']}; {len(status['failed'])} failed window(s)"
        )
        print(
            f"  this week:  {len(status['next_windows'])} window(s) in the next two weeks, "
            f"{len(status['to_publish'])} notice(s) to publish"
        )
        print("  outputs:    demo-out/status/status.html, status.png (also docs/status.png), status.json")
    if failures:
        print(f"demo FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def one_week_of_the_loop(failures: list[str]) -> dict:
    """schedule -> announce two weeks -> record a done and a failed window -> re-plan with --previous."""
    import shutil

    work = OUT / "loop"
    shutil.rmtree(work, ignore_errors=True)
    (work / "plans").mkdir(parents=True)
    for name in ("sql-2021.yaml", "oracle-2021.yaml"):
        shutil.copy(ROOT / "plans" / name, work / "plans" / name)
    (work / "inventories").symlink_to(ROOT / "inventories")
    plan = str(work / "plans" / "sql-2021.yaml")
    first, second = work / "schedule-week1.json", work / "schedule-week2.json"
    oslomig("schedule", "--plan", plan, "--today", TODAY, "-f", "json", "-o", str(first))
    through = "2021-05-28"  # two weeks and more: a week later, the notice horizon is still covered
    if oslomig("announce", "--plan", plan, "--through", through, "--today", TODAY, "--notices", str(work / "notices")):
        failures.append("announce")
    sched = json.loads(first.read_text(encoding="utf-8"))
    window = [a for a in sched["assignments"] if not a["announced"] and a["start"][:10] <= "2021-05-11"]
    groups = subprocess.run(
        [sys.executable, "-m", "oslomig", "groups", "--plan", plan, "--format", "json"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    prod_only = {g["id"] for g in json.loads(groups)["groups"] if g["environments"] == ["prod"]}
    # a test group is done; a prod group fails and rolls back (its tests went before it, so it can go again)
    done = next(a for a in window if a["group"] not in prod_only)
    failed = next(a for a in window if a["group"] in prod_only)
    oslomig(
        "record", "--plan", plan, "--group", done["group"], "--status", "done", "--at", done["start"][:10] + "T23:40"
    )
    oslomig(
        "record", "--plan", plan, "--group", failed["group"], "--status", "failed",
        "--at", failed["start"][:10] + "T23:50",
        "--note", "rollback: login errors after cut-over",
    )  # fmt: skip
    today = "2021-05-12"  # the week after: the failed window is known
    oslomig("schedule", "--plan", plan, "--today", today, "--previous", str(first), "-f", "json", "-o", str(second))
    again = json.loads(second.read_text(encoding="utf-8"))
    if oslomig("verify", "--plan", plan, "--schedule", str(second), "--today", today) != 0:
        failures.append("verify (re-plan)")
    announced = sum(1 for a in sched["assignments"] if not a["announced"] and a["start"][:10] <= through)
    return {
        "announced": announced,
        "through": through,
        "done": done["group"],
        "failed": failed["group"],
        "today": today,
        "moved": again["moved"],
        "groups": again["summary"]["groups"],
    }


def mid_season_status(failures: list[str]) -> dict:
    """The loop's plans carried on to June: announce through mid-June, record May's windows as done (the failed
    one stays failed), then the weekly dashboard of both plans and the demo share at 2021-06-08."""
    import shutil
    from collections import defaultdict

    work = OUT / "loop"
    plan = str(work / "plans" / "sql-2021.yaml")
    today, status_day = "2021-05-12", "2021-06-08"
    oslomig("announce", "--plan", plan, "--through", "2021-06-13", "--today", today)
    now = work / "schedule-june.json"
    oslomig("schedule", "--plan", plan, "--today", today, "-f", "json", "-o", str(now))
    by_week = defaultdict(list)
    for a in json.loads(now.read_text(encoding="utf-8"))["assignments"]:
        if a["announced"] and a["start"][:10] < status_day:
            by_week[dt.date.fromisoformat(a["start"][:10]).isocalendar()[:2]].append(a)
    for week in sorted(by_week):
        batch = by_week[week]
        last = max(a["end"] for a in batch)
        groups = [arg for a in batch for arg in ("--group", a["group"])]
        if oslomig("record", "--plan", plan, *groups, "--status", "done", "--at", last[:16]):
            failures.append("record (mid-season)")
    out = OUT / "status"
    args = ["status", "--plan", plan, "--plan", str(work / "plans" / "oracle-2021.yaml"), "--today", status_day]
    args += ["--share-plan", "plans/demo-shares.yaml", "--manifest", str(OUT / "manifest"), "--out", str(out)]
    if oslomig(*args) != 0:
        failures.append("status")
        return {}
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copy(out / "status.png", ROOT / "docs" / "status.png")  # the picture the README shows
    data = json.loads((out / "status.json").read_text(encoding="utf-8"))
    return data


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
