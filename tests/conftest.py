from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the source beside these tests is the one tested (under mutation testing, the mutated copy), not whatever is installed
sys.path.insert(0, str(ROOT / "src"))
CASES = ROOT / "tests" / "cases"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess: exit codes, stdout/stderr separation and start-up are what users get."""
    # the source beside these tests, first: under mutation testing that is the mutated copy
    src = str(ROOT / "src")
    full_env = {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }
    full_env.pop("OSLOMIG_DEBUG", None)
    if os.environ.get("OSLOMIG_TEST_IN_PROCESS") == "1":
        return _run_in_process(args, cwd or ROOT, full_env, input)
    return subprocess.run(
        [sys.executable, "-m", "oslomig", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def _run_in_process(args, cwd: Path, env: dict, input: str | None) -> subprocess.CompletedProcess:
    """The same CLI call in this process (OSLOMIG_TEST_IN_PROCESS=1): mutation testing with mutmut records and
    mutates only what runs in its own process, so `make mutate` runs the CLI tests this way. Exit codes, stdout and
    stderr are captured as a subprocess would see them."""
    import contextlib

    from oslomig import cli as cli_module

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_state = dict(os.environ), os.getcwd(), dict(cli_module._state)
    code = 0
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            old_stdin = sys.stdin
            sys.stdin = io.StringIO(input or "")
            try:
                cli_module.main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.stdin = old_stdin
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        cli_module._state.clear()
        cli_module._state.update(saved_state)
    return subprocess.CompletedProcess(["oslomig", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def fake_env():
    from oslomig.console import Env

    def make(tty: bool = False) -> Env:
        return Env(stdout=io.StringIO(), stderr=io.StringIO(), stdout_isatty=tty, stderr_isatty=tty)

    return make


from servers import smb_server, ssh_server  # noqa: E402,F401  (session fixtures shared by the share and scan tests)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) a skipped test is a failure: a server test that skips because a package is missing
    must turn the run red, not quietly green."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure: {report.longrepr}"
