"""Tables on a terminal (DEVELOPERS.md: never cut an id or a date): at 80 and 200 columns, with a fake TTY, every
group id and date is whole, no line is wider than the terminal, and what does not fit is dropped by priority and
named in the caption."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import ROOT

from oslomig.console import Env

PLAN = ROOT / "plans" / "sql-2021.yaml"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tty(width: int) -> Env:
    return Env(stdout=io.StringIO(), stderr=io.StringIO(), stdout_isatty=True, no_color=True, width=width)


@pytest.mark.parametrize("width", [80, 200])
def test_schedule_table_keeps_ids_and_dates_whole(width):
    import datetime as dt
    import json

    from oslomig.commands.schedule import run_schedule

    env = tty(width)
    run_schedule(PLAN, None, dt.date(2021, 4, 20), "table", None, None, 5.0, env)
    out = ANSI.sub("", env.stdout.getvalue())  # bold headers are styles, not width
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    json_env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    run_schedule(PLAN, None, dt.date(2021, 4, 20), "json", None, None, 5.0, json_env)
    sched = json.loads(json_env.stdout.getvalue())
    for a in sched["assignments"]:
        start = dt.datetime.fromisoformat(a["start"])
        row = next(line for line in lines if a["group"] in line)  # the id whole, on one line
        assert f"{start:%Y-%m-%d %H:%M}" in row  # and the date whole, on the same line
    assert not re.search(r"G-[0-9a-f]{0,9}…|20\d\d-\d…", out)
    if width == 80:
        assert re.search(r"not shown at 80 columns: .*GB", out)
    else:
        assert "not shown" not in out and "announced" in out


@pytest.mark.parametrize("width", [80, 200])
def test_groups_table_keeps_ids_whole(width):
    import json

    from oslomig.commands.groups import run_groups

    env = tty(width)
    run_groups(PLAN, None, "table", env)
    lines = ANSI.sub("", env.stdout.getvalue()).splitlines()
    assert max(len(line) for line in lines) <= width
    json_env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    run_groups(PLAN, None, "json", json_env)
    for g in json.loads(json_env.stdout.getvalue())["groups"]:
        assert any(g["id"] in line for line in lines), g["id"]
    assert ("not shown at 80 columns" in env.stdout.getvalue()) == (width == 80)


def test_the_table_off_a_terminal_is_never_narrowed(tmp_path: Path):
    import datetime as dt

    from oslomig.commands.schedule import run_schedule

    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), stdout_isatty=False)
    run_schedule(PLAN, None, dt.date(2021, 4, 20), "table", None, None, 5.0, env)
    assert "not shown" not in env.stdout.getvalue() and "announced" in env.stdout.getvalue()


def _commands():
    from oslomig.cli import command_paths

    return command_paths()


@pytest.mark.parametrize("words", _commands(), ids=lambda w: " ".join(w))
def test_help_shows_real_metavars_and_an_example(words):
    from conftest import run_cli

    proc = run_cli(*words, "--help", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"<(str|path|int|float|list\[[a-zA-Z]+\]|int range|float range)>", proc.stdout), proc.stdout
    assert "Example: oslomig " in " ".join(proc.stdout.split()), proc.stdout


def test_the_command_list_shows_whole_first_lines():
    from conftest import run_cli

    listing = " ".join(run_cli("--help", env={"COLUMNS": "100"}).stdout.split("\n", 1)[1].split())
    assert "..." not in listing
    assert "Write the windows starting by --through into the plan's `announced:`" in listing
