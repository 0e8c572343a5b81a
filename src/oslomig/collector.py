"""Python's cyclic garbage collector held off while a command builds many objects that form no cycles."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def without_cycle_collector(func: Callable[P, R]) -> Callable[P, R]:
    """`func` run with the cyclic collector off, and on again after (if it was on). The collector runs each time
    allocations outnumber frees by a threshold, and its older generations go over every live object: with a
    million inventory objects loaded, or a scan's hundreds of thousands of rows held as tuples, it rescans them
    again and again (a department-tree scan spent 0.3 s of 1.8 s in it). What such work allocates is freed by
    reference counting; cycles made meanwhile (an exception's traceback) wait for the next collection."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        changed = _switch(False)
        try:
            return func(*args, **kwargs)
        finally:
            # nothing is made between turning it on and returning: the collector's first pass over what `func` made
            # (0.47 s after a million databases' groups, everything young) comes at the caller's next allocation,
            # as it would after any call that made so many objects. A context manager's exit made a generator's
            # StopIteration here, and that pass ran inside the call.
            if changed:
                gc.enable()

    return run


@contextlib.contextmanager
def collector_on() -> Iterator[None]:
    """The collector on for a while inside `without_cycle_collector`: for an import of many objects that live as long
    as the process (numpy's), made while the cores wait for something else. Made with the collector off, they are all
    young when it comes back on, and its first pass goes over every one of them at the command's end (4.3 ms after an
    SSH scan); made with it on, they are looked at and moved to the older generations as they are made."""
    changed = _switch(True)
    try:
        yield
    finally:
        if changed:
            gc.disable()


def _switch(on: bool) -> bool:
    """The collector turned on or off; whether that changed it (then the caller turns it back)."""
    changed = gc.isenabled() != on
    (gc.enable if on else gc.disable)()
    return changed
