"""The shipped JSON Schemas describe what `validate` accepts: every shipped YAML file passes a real JSON Schema
validator (check-jsonschema, as an editor or CI would run it), and the schema rejects what validate rejects."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT

from oslomig.yamlload import load_file


def shipped_yaml() -> dict[Path, list[Path]]:
    """Every shipped YAML file by the schema its first line names."""
    by_schema: dict[Path, list[Path]] = {}
    for path in sorted(list((ROOT / "plans").glob("*.yaml")) + list((ROOT / "inventories").rglob("*.yaml"))):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        schema = (path.parent / first.split("$schema=", 1)[1]).resolve()
        by_schema.setdefault(schema, []).append(path)
    return by_schema


def test_every_shipped_file_passes_check_jsonschema():
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is a test dependency (pyproject [test])"
    groups = shipped_yaml()
    assert len(groups) == 4  # plan, share-plan, scan-targets, inventory
    for schema, files in groups.items():
        proc = subprocess.run([exe, "--schemafile", str(schema), *map(str, files)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _schema(name: str) -> dict:
    return json.loads((ROOT / "schema" / f"{name}.json").read_text(encoding="utf-8"))


def _errors(schema: dict, data) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]


PLAN = load_file(ROOT / "plans" / "sql-2021.yaml").data
TARGETS = load_file(ROOT / "plans" / "scan-targets.yaml").data


def _plan_with(change) -> dict:
    plan = copy.deepcopy(PLAN)
    change(plan)
    return plan


def _window(**kw):
    def change(plan):
        plan["windows"][0].update(kw)

    return change


LOOSE_PLANS = {
    "hours 0": _window(hours=0),
    "hours -3": _window(hours=-3),
    "hours over a week": _window(hours=200),
    "parallel 0": _window(parallel=0),
    "max_groups 0": _window(max_groups=0),
    "weekdays [] and no dates": lambda p: (p["windows"][0].update(weekdays=[]), p["windows"][0].pop("dates", None)),
    "unknown timezone": lambda p: p.update(timezone="Europe/Olso"),
    "a tzdata folder, not a zone": lambda p: p.update(timezone="Europe"),
    "unknown holiday country": lambda p: p["blackouts"].append({"name": "x", "holidays": "XX"}),
    "year 9999": lambda p: p["period"].update(end="9999-12-31"),
    "announced start that is not a date-time": lambda p: p["announced"].append({"database": "x", "start": "tuesday"}),
    "notice_days 1e12": lambda p: p.update(notice_days=10**12),
    "throughput 5e-324": lambda p: p["timing"].update(throughput_gb_per_hour=5e-324),
}


def test_the_shipped_plan_passes_and_its_announced_starts_are_local_times():
    schema = _schema("plan")
    assert _errors(schema, PLAN) == []
    assert PLAN["announced"] and all("T" in a["start"] and "+" not in a["start"] for a in PLAN["announced"])


@pytest.mark.parametrize("case", sorted(LOOSE_PLANS))
def test_the_plan_schema_rejects_what_validate_rejects(case):
    plan = _plan_with(LOOSE_PLANS[case])
    assert _errors(_schema("plan"), plan), f"the schema accepts {case}"


@pytest.mark.parametrize("secret", [{}, {"password_env": "A", "password_file": "/etc/x"}])
def test_the_targets_schema_wants_exactly_one_secret(secret):
    targets = copy.deepcopy(TARGETS)
    target = targets["sqlserver"][0]
    target.pop("password_env", None)
    target.pop("password_file", None)
    target.update(secret)
    assert _errors(_schema("scan-targets"), TARGETS) == []
    assert _errors(_schema("scan-targets"), targets)
