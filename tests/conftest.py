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
    if full_env.get("MUTANT_UNDER_TEST") in ("stats", "list_all_tests"):
        # mutmut's stats pass records calls in its own process; a child in another folder cannot find its config
        full_env.pop("MUTANT_UNDER_TEST")
    return subprocess.run(
        [sys.executable, "-m", "oslomig", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def fake_env():
    from oslomig.console import Env

    def make(tty: bool = False) -> Env:
        return Env(stdout=io.StringIO(), stderr=io.StringIO(), stdout_isatty=tty, stderr_isatty=tty)

    return make


from servers import ssh_server  # noqa: E402,F401  (a session fixture shared by the share and host scan tests)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) a skipped test is a failure: a server test that skips because a package is missing
    must turn the run red, not quietly green."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure: {report.longrepr}"
