"""OR-Tools' CP-SAT module, imported without pandas.

`ortools.sat.python.cp_model` imports pandas at its top (0.3-0.4 s here, three times OR-Tools' own import) only to
name `pd.Index` and `pd.Series` in annotations and to accept them in its `*_series` helpers, which oslomig never
calls. While cp_model is imported, a stand-in module answers every `pd.<name>` with a class that nothing is an
instance of; right after, the stand-in leaves `sys.modules`, so any later `import pandas` gets the real one. When
pandas is already imported, or a future OR-Tools needs more of pandas at import time than names, the plain import
runs instead: the fallback costs time, never a wrong model.
"""

from __future__ import annotations

import sys
from types import ModuleType


class _NotPandas:
    """What the stand-in's `pd.Index`, `pd.Series` ... are: a class, so annotations and `isinstance` work, and
    nothing oslomig passes is one."""


def _stand_in() -> ModuleType:
    module = ModuleType("pandas", "oslomig's stand-in while OR-Tools is imported (see oslomig.planning.cpsat)")
    module.__getattr__ = lambda name: _NotPandas  # type: ignore[method-assign]  # PEP 562: every pd.<name>
    return module


def cp_model() -> ModuleType:
    """`ortools.sat.python.cp_model`, imported once per process."""
    name = "ortools.sat.python.cp_model"
    if name in sys.modules or "pandas" in sys.modules:
        from ortools.sat.python import cp_model as module

        return module
    stand_in = _stand_in()
    sys.modules["pandas"] = stand_in
    try:
        from ortools.sat.python import cp_model as module
    except Exception:  # OR-Tools wanted more than names from pandas: import both for real
        sys.modules.pop(name, None)
        if sys.modules.get("pandas") is stand_in:
            del sys.modules["pandas"]
        from ortools.sat.python import cp_model as module
    finally:
        if sys.modules.get("pandas") is stand_in:
            del sys.modules["pandas"]
    return module
