"""glibc's heap keeps what a scan's chunks free (`oslomig.heap`), set either way the scan sets it: by `mallopt` in
this process, by the environment for find. Probed in a process of its own, by glibc's own account of its heap."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from oslomig import heap

PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in names.split()]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
if sys.argv[1] == "mallopt":
    from oslomig.heap import keep_freed_memory
    assert keep_freed_memory()
before = libc.mallinfo2().hblks
block = libc.malloc(8 << 20)
mapped = libc.mallinfo2().hblks - before
libc.free(block)
print(mapped, libc.mallinfo2().arena >= 8 << 20)
"""

glibc = pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc's heap (2.33 or later) is what is set"
)


def probe(how: str, env: dict[str, str]) -> tuple[int, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE, how], env=env, capture_output=True, text=True, check=True)
    mapped, kept = out.stdout.split()
    return int(mapped), kept == "True"


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}


@glibc
def test_by_default_a_big_block_is_mapped_and_given_back():
    """The probe can tell: without the settings, glibc maps a block of 8 MiB and unmaps it when it is freed."""
    assert probe("none", plain_env()) == (1, False)


@glibc
@pytest.mark.parametrize("how", ["mallopt", "env"])
def test_a_freed_block_stays_in_the_heap(how):
    env = heap.keeping_freed_memory(plain_env()) if how == "env" else plain_env()
    assert probe(how, env) == (0, True)


def test_the_environment_keeps_what_else_it_had():
    env = heap.keeping_freed_memory({"LC_ALL": "C"})
    assert env["LC_ALL"] == "C"
    assert int(env["MALLOC_TRIM_THRESHOLD_"]) == heap.TRIM and int(env["MALLOC_MMAP_THRESHOLD_"]) == heap.MMAP
