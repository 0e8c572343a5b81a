"""The migration loop (SPEC §3.2): announce, record, owners' answers, re-plan without churn, two plans that never
collide. Run through the real CLI on copies of the shipped plans."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_cli


@pytest.fixture
def plans(tmp_path) -> Path:
    """Copies of the shipped plans beside a link to the shipped inventory (the plans say ../inventories)."""
    (tmp_path / "inventories").symlink_to(ROOT / "inventories")
    work = tmp_path / "plans"
    work.mkdir()
    for name in ("sql-2021.yaml", "oracle-2021.yaml"):
        shutil.copy(ROOT / "plans" / name, work / name)
    return work


def schedule(plan: Path, today: str, out: Path, *extra: str) -> dict:
    proc = run_cli("schedule", "--plan", str(plan), "--today", today, "-f", "json", "-o", str(out), *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def starts(sched: dict) -> dict[str, str]:
    return {d: a["start"] for a in sched["assignments"] for d in a["databases"]}


def test_announce_edits_the_plan_in_place_and_a_second_run_adds_nothing(plans, tmp_path):
    plan = plans / "sql-2021.yaml"
    before = plan.read_text(encoding="utf-8")
    proc = run_cli("announce", "--plan", str(plan), "--through", "2021-05-06", "--today", "2021-04-20")
    assert proc.returncode == 0, proc.stderr
    after = plan.read_text(encoding="utf-8")
    # only lines were added, in the style of the list (every comment, key and line before stays as it was)
    import difflib

    ops = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False).get_opcodes()
    assert {op for op, *_ in ops} == {"equal", "insert"}
    added = [line for op, _a, _b, j1, j2 in ops if op == "insert" for line in after.splitlines()[j1:j2]]
    announced_lines = proc.stdout.splitlines()
    assert len(announced_lines) == 7 and all(line.startswith("announced G-") for line in announced_lines)
    databases = sum(int(line.split("(")[1].split()[0]) for line in announced_lines)
    assert f"{len(announced_lines)} group(s), {databases} database(s) added" in proc.stderr
    assert (
        len(added) == 2 * databases
        and added[0].startswith("- database: ")
        and added[1].startswith("  start: 2021-05-0")
    )
    again = run_cli("announce", "--plan", str(plan), "--through", "2021-05-06", "--today", "2021-04-20")
    assert again.returncode == 0 and again.stdout == "" and "nothing to announce" in again.stderr
    assert plan.read_text(encoding="utf-8") == after
    # the scheduler now treats them as announced
    sched = schedule(plan, "2021-04-20", tmp_path / "s.json")
    marked = {a["group"] for a in sched["assignments"] if a["announced"]}
    assert {line.split()[1].rstrip(":") for line in announced_lines} <= marked


def test_a_season_replans_with_little_churn_and_keeps_every_constraint(plans, tmp_path):
    """schedule -> announce -> record done and a failure -> an owner's constraint and a blackout -> re-plan with
    --previous: no constraint broken, announced windows unmoved, only the affected groups moved."""
    plan = plans / "sql-2021.yaml"
    first = schedule(plan, "2021-04-20", tmp_path / "s1.json")
    proc = run_cli("announce", "--plan", str(plan), "--through", "2021-05-21", "--today", "2021-04-20")
    assert proc.returncode == 0, proc.stderr
    announced_groups = [line.split()[1].rstrip(":") for line in proc.stdout.splitlines()]
    by_id = {a["group"]: a for a in first["assignments"]}
    groups = json.loads(run_cli("groups", "--plan", str(plan), "--format", "json").stdout)["groups"]
    prod_only = {g["id"] for g in groups if g["environments"] == ["prod"]}
    # a prod group fails (its test groups went before it, so it can have a new window); a test group is done
    failed = by_id[next(g for g in announced_groups if g in prod_only)]
    done = by_id[next(g for g in announced_groups if g != failed["group"])]
    ok = run_cli(
        "record", "--plan", str(plan), "--group", done["group"], "--status", "done", "--at", "2021-05-05T01:30"
    )
    assert ok.returncode == 0, ok.stderr
    bad = run_cli(
        "record", "--plan", str(plan), "--database", failed["databases"][0], "--status", "failed",
        "--at", "2021-05-05T02:10", "--note", "rollback, login errors",
    )  # fmt: skip
    assert bad.returncode == 0, bad.stderr
    # an owner answers for a system scheduled later, and a blackout comes for another
    later = [a for a in first["assignments"] if a["start"] > "2021-06-01" and not a["announced"]]
    owner_sys, blacked_sys = later[0]["systems"][0], later[5]["systems"][0]
    text = plan.read_text(encoding="utf-8")
    text = text.replace(
        "blackouts:\n",
        f"blackouts:\n- {{name: revisjon, from: 2021-06-01, to: 2021-09-30, systems: [{blacked_sys}]}}\n",
    )
    text += f"constraints:\n- {{systems: [{owner_sys}], not_before: 2021-10-01, note: årsavslutning}}\n"
    plan.write_text(text, encoding="utf-8")
    assert run_cli("validate", str(plan)).returncode == 0

    second = schedule(plan, "2021-05-06", tmp_path / "s2.json", "--previous", str(tmp_path / "s1.json"))
    check = run_cli("verify", "--plan", str(plan), "--schedule", str(tmp_path / "s2.json"), "--today", "2021-05-06")
    assert check.returncode == 0, check.stdout + check.stderr
    # announced windows did not move; the done group is gone; the failed group has a new window after the notice
    now = starts(second)
    from oslomig.loading import parse_model, read_document
    from oslomig.models import DatabasePlan
    from oslomig.problems import Problems

    model = parse_model(read_document(plan, Problems()), DatabasePlan, Problems())
    for a in model.announced:
        if a.database in now:
            assert now[a.database].startswith(a.start.strftime("%Y-%m-%dT%H:%M")), a.database
    assert not set(done["databases"]) & set(now)
    assert now[failed["databases"][0]] >= "2021-05-20"
    # only the affected groups moved, each with its cause
    moved = {m["group"]: m["cause"] for m in second["moved"]}
    assert second["summary"]["moved"] == len(moved)
    print(f"\nre-plan: {len(moved)} of {len(first['assignments'])} groups moved")
    assert moved[failed["group"]].startswith("failed on 2021-")
    assert "rollback, login errors" in moved[failed["group"]]
    assert any("owner constraint" in c and owner_sys in c for c in moved.values())
    assert any("blackout revisjon" in c for c in moved.values())
    direct = {failed["group"], *(g for g, c in moved.items() if "owner constraint" in c or "blackout revisjon" in c)}
    for group, cause in moved.items():
        if group in direct:
            continue
        # the rest follow a moved group (test before prod) or gave room to one that had to move
        assert cause.startswith(("test-before-prod: follows", "capacity: ")), (group, cause)
        assert any(g in cause for g in moved), (group, cause)
    assert len(moved) <= 12
    # the constraint is a reason where it makes a group unschedulable: a deadline nobody can meet
    text = plan.read_text(encoding="utf-8") + f"- {{systems: [{blacked_sys}], not_after: 2021-06-15}}\n"
    plan.write_text(text, encoding="utf-8")
    third = schedule(plan, "2021-05-06", tmp_path / "s3.json")
    reasons = [r for u in third["unscheduled"] for r in u["reasons"]]
    assert any(f"owner constraint ({blacked_sys}): done by 2021-06-15" in r for r in reasons), reasons


def test_max_per_occurrence_limits_each_occurrence_and_the_verifier_checks_it(plans, tmp_path):
    plan = plans / "sql-2021.yaml"
    first = schedule(plan, "2021-04-20", tmp_path / "s1.json")
    per_occ: dict[tuple[str, str], int] = {}
    agency_of = {}
    for a in first["assignments"]:
        for ag in a["agencies"]:
            per_occ[(ag, a["start"])] = per_occ.get((ag, a["start"]), 0) + 1
            agency_of[ag] = True
    busiest = max(per_occ, key=per_occ.get)[0]
    assert per_occ[max(per_occ, key=per_occ.get)] >= 2
    plan.write_text(
        plan.read_text(encoding="utf-8") + f"constraints:\n- {{agencies: [{busiest}], max_per_occurrence: 1}}\n",
        encoding="utf-8",
    )
    limited = schedule(plan, "2021-04-20", tmp_path / "s2.json")
    counts: dict[str, int] = {}
    for a in limited["assignments"]:
        if busiest in a["agencies"]:
            counts[a["start"]] = counts.get(a["start"], 0) + 1
    assert counts and max(counts.values()) == 1
    ok = run_cli("verify", "--plan", str(plan), "--schedule", str(tmp_path / "s2.json"), "--today", "2021-04-20")
    assert ok.returncode == 0, ok.stdout
    # the first schedule breaks the new constraint, and the verifier says so in its own words
    broken = run_cli("verify", "--plan", str(plan), "--schedule", str(tmp_path / "s1.json"), "--today", "2021-04-20")
    assert broken.returncode == 1 and f"groups of {busiest} exceed max_per_occurrence 1" in broken.stdout


def test_the_shipped_sql_and_oracle_plans_never_schedule_a_database_twice(tmp_path):
    sql = schedule(ROOT / "plans" / "sql-2021.yaml", "2021-04-20", tmp_path / "sql.json")
    ora = schedule(ROOT / "plans" / "oracle-2021.yaml", "2021-04-20", tmp_path / "ora.json")

    def covered(s: dict) -> set[str]:
        return {d for part in ("assignments", "unscheduled") for x in s[part] for d in x["databases"]}

    assert not covered(sql) & covered(ora)
    # the mixed host group goes to the plan that starts first; the other lists it as handled there
    handled = {h["group"]: h for h in ora["handled_by"]}
    assert handled["G-d9e8ca60cb"]["plan"] == "SQL Server 2021"
    assert "G-d9e8ca60cb" in {a["group"] for a in sql["assignments"]}
    # every database a handled_by entry names is covered by the other plan
    for h in ora["handled_by"]:
        assert set(h["databases"]) <= covered(sql), h["group"]
    for h in sql["handled_by"]:
        assert set(h["databases"]) <= covered(ora), h["group"]


def test_record_refuses_what_it_cannot_know(plans):
    plan = plans / "sql-2021.yaml"
    before = plan.read_text(encoding="utf-8")
    proc = run_cli("record", "--plan", str(plan), "--group", "G-0000000000", "--status", "done")
    assert proc.returncode == 2 and "no group 'G-0000000000'" in proc.stderr
    proc = run_cli("record", "--plan", str(plan), "--database", "nope/X/Y", "--status", "failed")
    assert proc.returncode == 2 and "not in the inventory: nope/X/Y" in proc.stderr
    sched = schedule(plan, "2021-04-20", plan.parent / "s.json")
    unannounced = next(a for a in sched["assignments"] if not a["announced"])
    proc = run_cli("record", "--plan", str(plan), "--group", unannounced["group"], "--status", "failed")
    assert proc.returncode == 2 and "not announced" in proc.stderr
    proc = run_cli("record", "--plan", str(plan), "--group", unannounced["group"], "--status", "done", "--at", "x")
    assert proc.returncode == 2 and "--at 'x' is not a local time" in proc.stderr
    assert plan.read_text(encoding="utf-8") == before


def test_verify_speaks_json_and_github_with_one_code_per_broken_constraint(plans, tmp_path):
    plan = plans / "sql-2021.yaml"
    schedule(plan, "2021-04-20", tmp_path / "s.json")
    args = ("verify", "--plan", str(plan), "--schedule", str(tmp_path / "s.json"), "--today", "2021-05-20")
    text = run_cli(*args)
    as_json = run_cli(*args, "--format", "json")
    github = run_cli(*args, "--format", "github")
    assert text.returncode == as_json.returncode == github.returncode == 1
    found = json.loads(as_json.stdout)["violations"]  # the payload only: the summary line goes to stderr
    assert found and {v["code"] for v in found} == {"notice"}  # a month later, the first weeks lack notice
    assert all(v["message"].startswith(v["subject"] + ": starts 2021-0") for v in found)
    assert text.stdout.splitlines() == [f"{v['message']} (notice)" for v in found]
    assert github.stdout.splitlines() == [
        f"::error file={tmp_path / 's.json'},title=notice::{v['message']}" for v in found
    ]


def test_owner_dates_are_inclusive_in_the_scheduler_and_the_verifier(plans, tmp_path):
    """not_before is the first allowed start day, not_after the last allowed end day: a group already on those
    days stays there, and the verifier accepts it."""
    plan = plans / "sql-2021.yaml"
    first = schedule(plan, "2021-04-20", tmp_path / "s1.json")
    groups_of: dict[str, int] = {}
    for a in first["assignments"] + first["unscheduled"]:
        for sid in a.get("systems", []):
            groups_of[sid] = groups_of.get(sid, 0) + 1
    # a later group with a system of its own, so the constraint concerns this group only
    late, system = next(
        (a, sid)
        for a in first["assignments"]
        if a["start"] > "2021-06-01" and not a["announced"]
        for sid in a["systems"]
        if groups_of[sid] == 1
    )
    start_day, end_day = late["start"][:10], late["end"][:10]
    plan.write_text(
        plan.read_text(encoding="utf-8")
        + f"constraints:\n- {{systems: [{system}], not_before: {start_day}, not_after: {end_day}}}\n",
        encoding="utf-8",
    )
    second = schedule(plan, "2021-04-20", tmp_path / "s2.json", "--previous", str(tmp_path / "s1.json"))
    placed = {a["group"]: a for a in second["assignments"]}
    assert placed[late["group"]]["start"] == late["start"]
    assert late["group"] not in {m["group"] for m in second["moved"]}
    check = run_cli("verify", "--plan", str(plan), "--schedule", str(tmp_path / "s2.json"), "--today", "2021-04-20")
    assert check.returncode == 0, check.stdout


def test_the_greedy_alone_keeps_previous_placements_where_the_solver_is_not_run():
    """Models too large for CP-SAT get the greedy schedule only: it must keep previous placements first, or one
    new blackout reshuffles dozens of groups."""
    import datetime as dt

    from oslomig.commands.plancontext import load_plan_context
    from oslomig.console import Env
    from oslomig.models import Blackout
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.scheduling import build_schedule

    ctx = load_plan_context(ROOT / "plans" / "sql-2021.yaml", None, Env())
    grouping = compute_groups(ctx.plan, ctx.inventory)
    today = dt.date(2021, 4, 20)
    first = build_schedule(ctx.plan, ctx.inventory, grouping, today, use_solver=False).as_json()["assignments"]
    system = "SYS-0020"
    blackout = Blackout.model_validate(
        {"name": "revisjon", "from": "2021-05-01", "to": "2021-06-30", "systems": [system]}
    )
    changed = ctx.plan.model_copy(update={"blackouts": [*ctx.plan.blackouts, blackout]})
    again = build_schedule(changed, ctx.inventory, grouping, today, use_solver=False, previous=first)
    touched = {a["group"] for a in first if system in a["systems"]}
    causes = {m["group"]: m["cause"] for m in again.moved}
    assert touched <= set(causes)
    for group, cause in causes.items():
        if group in touched:
            assert cause == "blackout revisjon"
        else:  # the prod groups that must follow a moved test group
            assert cause.startswith("test-before-prod: follows ") and any(t in cause for t in touched)
