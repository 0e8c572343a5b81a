"""groups / schedule / notices / verify through the real CLI on the shipped example estate."""

from __future__ import annotations

import csv
import json
import textwrap

import pytest
from conftest import ROOT
from icalendar import Calendar

PLAN = "plans/sql-2021.yaml"
TODAY = "2021-04-20"


@pytest.fixture(scope="module")
def schedule_json(tmp_path_factory):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("sched") / "schedule.json"
    proc = run_cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "json", "--out", str(out))
    assert proc.returncode == 1  # one group is larger than every window: found, and explained
    return json.loads(out.read_text(encoding="utf-8"))


def test_shipped_plan_every_group_scheduled_or_explained(schedule_json, cli, tmp_path):
    s = schedule_json["summary"]
    groups = json.loads(cli("groups", "--plan", PLAN, "--format", "json").stdout)["groups"]
    # every group of `groups` appears exactly once, scheduled or unscheduled (counted from the lists, not the summary)
    listed = [a["group"] for a in schedule_json["assignments"]] + [u["group"] for u in schedule_json["unscheduled"]]
    # ... or left to the coordinating Oracle plan (coordinate_with), which schedules it instead
    listed += [h["group"] for h in schedule_json["handled_by"]]
    assert sorted(listed) == sorted(g["id"] for g in groups)
    assert len(schedule_json["assignments"]) == s["scheduled"] > 100
    assert all(u["reasons"] for u in schedule_json["unscheduled"])
    assert s["lower_bound"] and s["gap_hours"] is not None
    path = tmp_path / "s.json"
    path.write_text(json.dumps(schedule_json))
    verified = cli("verify", "--plan", PLAN, "--schedule", str(path))
    assert verified.returncode == 0, verified.stdout


def test_verifier_catches_a_tampered_schedule(schedule_json, cli, tmp_path):
    tampered = json.loads(json.dumps(schedule_json))
    moved = next(a for a in tampered["assignments"][1:] if not a["announced"] and a["window"] == "weeknight")
    moved["start"], moved["end"] = "2021-07-06T18:00:00+02:00", "2021-07-07T04:00:00+02:00"  # fellesferie
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tampered))
    proc = cli("verify", "--plan", PLAN, "--schedule", str(path))
    assert proc.returncode == 1
    broken = proc.stdout.splitlines()
    # the moved group, and only it, breaks the blackout rule on the days it touches
    assert [line for line in broken if "blackout" in line] == [
        f"{moved['group']}: 2021-07-06 is in blackout fellesferie (blackout)",
        f"{moved['group']}: 2021-07-07 is in blackout fellesferie (blackout)",
    ]


def test_json_payload_only_and_spec_fields(cli):
    proc = cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "json")
    data = json.loads(proc.stdout)
    assert {"plan", "today", "assignments", "unscheduled", "warnings"} <= set(data)
    a = data["assignments"][0]
    assert set(a) == {
        "group",
        "window",
        "start",
        "end",
        "estimated_hours",
        "size_gb",
        "databases",
        "hosts",
        "systems",
        "agencies",
        "announced",
    }
    assert a["start"].endswith("+02:00")


def test_output_is_deterministic(cli):
    one = cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "csv").stdout
    two = cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "csv").stdout
    assert one == two and one.startswith("group,window,start,end,")


def test_explain(cli, schedule_json):
    gid = schedule_json["assignments"][-1]["group"]
    proc = cli("schedule", "--plan", PLAN, "--today", TODAY, "--explain", gid)
    assert proc.returncode == 0
    assert proc.stdout.startswith(gid) and "placed in" in proc.stdout
    assert "before the notice date" in proc.stdout or "blackout" in proc.stdout or "capacity" in proc.stdout


def test_groups_formats(cli):
    js = json.loads(cli("groups", "--plan", PLAN, "--format", "json").stdout)
    rows = list(csv.DictReader(cli("groups", "--plan", PLAN, "--format", "csv").stdout.splitlines()))
    assert [g["id"] for g in js["groups"]] == [r["group"] for r in rows]
    dot = cli("groups", "--plan", PLAN, "--format", "dot").stdout
    assert dot.startswith('graph "SQL Server 2021" {') and dot.rstrip().endswith("}")
    table = cli("groups", "--plan", PLAN)
    assert (
        table.returncode == 0 and "G-" in table.stdout and max(len(line) for line in table.stdout.splitlines()) > 80
    )  # not cropped


def test_notices(cli, tmp_path, schedule_json):
    out = tmp_path / "notices"
    proc = cli("notices", "--plan", PLAN, "--today", TODAY, "--out", str(out))
    assert proc.returncode == 1  # the unscheduled group is reported
    rows = list(csv.DictReader((out / "notices.csv").open(encoding="utf-8")))
    texts = sorted(p.name for p in out.glob("*.txt"))
    assert sorted(r["file"] for r in rows) == texts and len(texts) > 100
    sample = (out / rows[0]["file"]).read_text(encoding="utf-8")
    assert sample.startswith("Emne: Flytting av ") and rows[0]["contact_name"] in sample
    assert "senest" in sample
    # publish-by is the window's start minus notice_days (14 in the shipped plan), for every notice
    import datetime as dt

    for r in rows:
        start = dt.datetime.fromisoformat(r["start"]).date()
        assert dt.date.fromisoformat(r["publish_by"]) == start - dt.timedelta(days=14), r["notice_id"]
    cal = Calendar.from_ical((out / "notices.ics").read_bytes())
    uids = [str(e["uid"]) for e in cal.walk("VEVENT")]
    assert len(uids) == len(schedule_json["assignments"]) == len(set(uids))
    assert sorted(uids) == sorted(f"{a['group']}@oslomig" for a in schedule_json["assignments"])
    # re-running gives the same bytes (stable UIDs and DTSTAMP) and English works
    before = (out / "notices.ics").read_bytes()
    cli("notices", "--plan", PLAN, "--today", TODAY, "--out", str(out))
    assert (out / "notices.ics").read_bytes() == before
    en = tmp_path / "en"
    cli("notices", "--plan", PLAN, "--today", TODAY, "--out", str(en), "--lang", "en")
    assert next(en.glob("*.txt")).read_text(encoding="utf-8").startswith("Subject: Move of ")


def test_nothing_in_scope_and_missing_plan(cli, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        textwrap.dedent(f"""\
        kind: database-migration
        name: Empty
        inventory: {ROOT / "inventories"}
        period: {{start: 2021-05-03, end: 2021-06-30}}
        scope: {{systems: [SYS-0392], engines: [postgres]}}
        windows: [{{name: w, weekdays: [tue], start: "18:00", hours: 10}}]
    """)
    )
    proc = cli("schedule", "--plan", str(plan), "--today", TODAY)
    assert proc.returncode == 1 and "nothing is in scope" in proc.stderr and "Traceback" not in proc.stderr
    missing = cli("schedule", "--plan", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "no such plan file" in missing.stderr


def test_invalid_plan_reports_positions(cli, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"kind: database-migration\nname: X\ninventory: {ROOT / 'inventories'}\nperiod: "
        f"{{start: 2021-05-03, end: 2021-06-30}}\nwindow: []\n"
    )
    proc = cli("groups", "--plan", str(plan))
    assert proc.returncode == 1
    assert "plan.yaml:5:1: error [unknown-key] unknown key 'window' (did you mean 'windows'?)" in proc.stderr


@pytest.mark.parametrize("command", ["validate", "groups"])
def test_the_planning_commands_load_with_the_cycle_collector_off_and_turn_it_back_on(command, monkeypatch, fake_env):
    """`validate` and `groups` read and check every document with the collector off (it rescanned the loaded
    objects again and again: 100,000 databases from YAML, `groups` 7.37 -> 5.62 s), and turn it on again after."""
    import gc

    from conftest import ROOT

    from oslomig import validation
    from oslomig.commands import groups, plancontext, validate

    seen: list[bool] = []
    module, name = (validation, "read_document") if command == "validate" else (plancontext, "load_checked_inventory")
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args, **kwargs: seen.append(gc.isenabled()) or real(*args, **kwargs))
    env = fake_env()
    if command == "validate":
        code = validate.run([ROOT / "plans", ROOT / "inventories"], "text", env)
    else:
        code = groups.run_groups(ROOT / "plans" / "sql-2021.yaml", None, "json", env)
    assert code == 0 and seen and not any(seen)
    assert gc.isenabled()
