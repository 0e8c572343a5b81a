"""OR-Tools without pandas (oslomig.planning.cpsat): each case in a fresh interpreter, since an import happens once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SOLVE = """
import datetime as dt, sys
sys.path.insert(0, "tests")
from estate import make_inventory, make_plan
from oslomig.planning.grouping import compute_groups
from oslomig.planning.scheduling import build_schedule
dbs = [{"id": "t/A/app_test", "instance": "t/A", "environment": "test"}, {"id": "p/A/app", "instance": "p/A"}]
inv = make_inventory(dbs, systems=[{"id": "S", "databases": ["*/app*"]}])
plan = make_plan()
result = build_schedule(plan, inv, compute_groups(plan, inv), dt.date(2021, 4, 1), force_solver=True, time_limit=5)
assert result.solver == "cp-sat" and result.proven_optimal and len(result.assignments) == 2, result
"""


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_solver_runs_without_importing_pandas_and_pandas_stays_importable():
    out = _python(
        SOLVE
        + """
print("pandas" in sys.modules)
import pandas
print(pandas.DataFrame({"a": [1, 2]})["a"].sum())
"""
    )
    assert out.split() == ["False", "3"]


def test_an_or_tools_that_needs_more_of_pandas_gets_the_real_one():
    """A stand-in that answers nothing (as if OR-Tools used pandas at import): the plain import runs, and solves."""
    out = _python(
        """
import types
import oslomig.planning.cpsat as cpsat
def refusing():
    module = types.ModuleType("pandas")
    def missing(name):
        raise AttributeError(name)
    module.__getattr__ = missing
    return module
cpsat._stand_in = refusing
"""
        + SOLVE
        + """
import pandas
print("pandas" in sys.modules, hasattr(pandas, "DataFrame"))
"""
    )
    assert out.split() == ["True", "True"]


def test_pandas_imported_first_is_left_alone():
    out = _python(
        """
import pandas
from oslomig.planning.cpsat import cp_model
print(cp_model().pd is pandas)
"""
    )
    assert out.split() == ["True"]
