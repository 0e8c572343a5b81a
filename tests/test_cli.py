from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

HEAVY = ("pydantic", "pyodbc", "oracledb", "paramiko", "ortools", "holidays", "icalendar", "rich", "yaml")


def test_cli_import_is_lean():
    code = "import sys, oslomig.cli; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    loaded = {m.split(".")[0] for m in out}
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_program_runs_exit_handlers_flushes_and_keeps_the_exit_code(tmp_path):
    """`oslomig` (cli.entry) skips the interpreter's teardown: exit handlers must still run, output left in
    stdout's buffer must arrive, and the exit code must be main's."""
    import os

    code = (
        "import atexit, sys; from oslomig import cli; "
        "atexit.register(lambda: sys.stderr.write('handler ran\\n')); sys.argv[0] = 'oslomig'; cli.entry()"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout to a pipe: block-buffered

    def program(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=buffered
        )

    cases = [(["schema", "plan"], 0), (["validate", "--format", "xml"], 2), (["validate", str(tmp_path / "no")], 2)]
    for args, rc in cases:
        proc = program(*args)
        assert proc.returncode == rc, (args, proc.stderr)
        assert proc.stderr.endswith("handler ran\n"), proc.stderr
    assert json.loads(program("schema", "plan").stdout)
    # argparse writes the help to sys.stdout and leaves it in the buffer: only the flush brings it out
    assert "usage: oslomig" in program("--help").stdout


def test_help_and_version(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    for command in ("validate", "schema", "inventory", "share"):
        assert command in proc.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("oslomig ")


def test_bad_option_exits_2(cli):
    proc = cli("validate", "--format", "xml")
    assert proc.returncode == 2


def test_schema_matches_shipped_files(cli):
    for name in ("plan", "share-plan", "scan-targets", "inventory"):
        proc = cli("schema", name)
        assert proc.returncode == 0
        assert json.loads(proc.stdout) == json.loads((ROOT / "schema" / f"{name}.json").read_text(encoding="utf-8"))


def test_shipped_examples_reference_their_schema():
    for path in list((ROOT / "plans").glob("*.yaml")) + list((ROOT / "inventories").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.exists(), path


def test_internal_errors_and_interrupts_map_to_exit_codes(capsys):
    import pytest

    from oslomig import cli as cli_module

    def boom():
        raise RuntimeError("kaboom")

    with pytest.raises(SystemExit) as exit_:
        cli_module._run(boom)
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert err.strip() == "internal error: RuntimeError: kaboom (run with --debug for the traceback)"

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_:
        cli_module._run(interrupted)
    assert exit_.value.code == 130
