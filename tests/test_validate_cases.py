"""Validation rule tests as data: tests/cases/validate/{good,bad}, expectations in bad/EXPECT.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import CASES, run_cli

from oslomig.validation import validate_paths

BAD = CASES / "validate" / "bad"
GOOD = CASES / "validate" / "good"
EXPECT = yaml.safe_load((BAD / "EXPECT.yaml").read_text(encoding="utf-8"))


def test_every_bad_case_has_an_expectation():
    on_disk = {p.name for p in BAD.iterdir() if p.name != "EXPECT.yaml"}
    assert on_disk == set(EXPECT)


@pytest.mark.parametrize("case", sorted(EXPECT))
def test_bad_case_reports_expected_problem(case, monkeypatch):
    monkeypatch.chdir(BAD)
    result = validate_paths([Path(case)], cwd=BAD)
    got = {(p.file, p.line, p.column, p.code): p for p in result.problems}
    for want in EXPECT[case]:
        key = (want["file"], want["line"], want["column"], want["code"])
        assert key in got, f"{case}: expected {key}, got {sorted(got)}"
        assert want.get("message", "") in got[key].message
        assert got[key].severity == want.get("severity", "error")
    if case == "dangling-all":  # this case lists every problem it must produce, and no other
        assert len(set(result.problems)) == len(EXPECT[case]), sorted(got)


@pytest.mark.parametrize("case", sorted(EXPECT))
def test_bad_case_exits_1_without_traceback(case):
    proc = run_cli("validate", case, cwd=BAD)
    errors = [w for w in EXPECT[case] if w.get("severity", "error") == "error"]
    assert proc.returncode == (1 if errors else 0), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for want in EXPECT[case]:
        line = f"{want['file']}:{want['line']}:{want['column']}: {want.get('severity', 'error')} [{want['code']}]"
        assert line in proc.stdout


# codes the data cases cannot show, and why
NOT_AS_DATA = {
    "file-too-large": "needs a 32 MiB file; test_large_file_fails_fast_with_position writes one",
    "unreadable": "needs a file the test user cannot read; root reads everything (test_yamlload covers it)",
}


def _codes_in_source() -> set[str]:
    """Every problem code the validate path can emit: string literals passed straight to problems.error/warning,
    YamlError(...), _Builder.fail(...) and _dangling's helpers in the loader and validation modules."""
    import ast
    import re

    from conftest import ROOT

    codes = set()
    shape = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$|^missing$")
    for name in ("yamlload.py", "loading.py", "validation.py"):
        tree = ast.parse((ROOT / "src" / "oslomig" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("error", "warning", "fail", "YamlError", "add"):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and shape.match(arg.value):
                        codes.add(arg.value)
    return codes | {"dangling-ref"}


def test_every_problem_code_has_a_data_case():
    in_source = _codes_in_source()
    assert {
        "bad-window",
        "tab-indent",
        "too-deep",
        "duplicate-anchor",
        "nonexistent-time",
    } <= in_source  # the scan works
    shown = {w["code"] for wants in EXPECT.values() for w in wants}
    missing = in_source - shown - set(NOT_AS_DATA)
    assert not missing, f"problem codes without a data case in {BAD}/EXPECT.yaml: {sorted(missing)}"


def test_good_minimal_case_is_clean():
    result = validate_paths([GOOD / "minimal"], cwd=GOOD)
    assert result.problems.errors == []


def test_shipped_examples_validate(cli):
    proc = cli("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stderr


def test_json_payload_only_on_stdout(cli):
    proc = cli("validate", "--format", "json", "typo-key.yaml", "plan-checks", cwd=BAD)
    assert proc.returncode == 1
    payload = json.loads(proc.stdout)  # nothing but the payload
    assert payload["status"] == "fail"
    first = payload["problems"][0]
    assert set(first) == {"file", "line", "column", "severity", "code", "message"}
    assert {p["code"] for p in payload["problems"]} >= {"unknown-key", "bad-window", "bad-period"}
    ok = cli("validate", "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"status": "ok", "problems": []}


def test_github_payload(cli):
    proc = cli("validate", "--format", "github", "typo-key.yaml", cwd=BAD)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines == [
        "::error file=typo-key.yaml,line=7,col=5::[unknown-key] unknown key 'agnecy' in systems[0] (did you mean "
        "'agency'?)"
    ]


def test_large_file_fails_fast_with_position(tmp_path, cli):
    big = tmp_path / "big.yaml"
    line = "  - {name: app000000, os: linux, site: old-dc}\n"
    with big.open("w") as handle:
        handle.write("hosts:\n")
        handle.write(line * (50 * 1024 * 1024 // len(line) + 1))
    assert big.stat().st_size > 50 * 1024 * 1024
    proc = cli("validate", str(big))
    assert proc.returncode == 1
    assert "big.yaml:1:1: error [file-too-large]" in proc.stdout


def test_missing_path_exits_2(cli, tmp_path):
    proc = cli("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert f"no such file or directory: {tmp_path / 'nope.yaml'}" in proc.stderr


def test_warnings_alone_exit_0(tmp_path, cli):
    (tmp_path / "inv.yaml").write_text(
        "hosts: [{name: h}]\ninstances: [{id: h/I, engine: oracle, host: h}]\n"
        "databases: [{id: h/I/A, instance: h/I}, {id: h/I/B, instance: h/I}]\n"
        "systems: [{id: S, databases: [h/I/A]}]\n"
    )
    proc = cli("validate", str(tmp_path))
    assert proc.returncode == 0
    assert "warning [no-owner] database 'h/I/B'" in proc.stdout
