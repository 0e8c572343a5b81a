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


def _options(p) -> set[str]:
    return {s for a in p._actions for s in a.option_strings}


def test_a_commands_arguments_are_added_when_it_is_run_or_shown(capsys):
    """Building the parser adds no command's arguments (they cost every start); the command that is parsed, or whose
    help or usage is shown, has all of its own, and its runner."""
    import pytest

    from oslomig import cli

    def leaf(root, *words):
        p = root
        for word in words:
            p = next(a for a in p._actions if a.dest == "==SUPPRESS==" and a.choices).choices[word]
        return p

    root = cli.parser()
    scan, validate = leaf(root, "share", "scan"), leaf(root, "validate")
    assert _options(scan) == _options(validate) == {"-h", "--help"}
    ns = root.parse_args(["share", "scan", "/srv/x", "--db", "x.sqlite"])
    assert ns.db is not None and callable(ns._run)
    assert {"--db", "--plan", "--key-file"} <= _options(scan)
    assert _options(validate) == {"-h", "--help"}  # not parsed, not shown
    with pytest.raises(SystemExit):
        root.parse_args(["validate", "--format", "xml"])
    assert "--format" in capsys.readouterr().err  # the usage of an error shows the command's options
    assert "--format" in _options(validate)
    fresh = leaf(cli.parser(), "schedule")
    assert "--time-limit" in fresh.format_help() and "--time-limit" in _options(fresh)
    assert "--time-limit" in leaf(cli.parser(), "schedule").format_usage()


def test_argparse_looks_each_of_its_words_up_once(monkeypatch):
    """argparse's own words go through gettext, which searches the disk at every call; within a run each word is
    looked up once, however many parsers are built."""
    import gettext

    from oslomig import cli

    cli.parser()
    looked: list[str] = []
    real = gettext.find
    monkeypatch.setattr(gettext, "find", lambda *a, **k: looked.append(a[0]) or real(*a, **k))
    cli.parser()
    cli.parser()
    assert looked == []
