"""glibc's heap held by a process that makes and frees big blocks again and again: the scan's chunks of a megabyte,
`find`'s directories of a thousand entries."""

from __future__ import annotations

import functools
from collections.abc import Mapping

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM = 64 << 20  # free memory at the heap's top given back to the system only past this
MMAP = 32 << 20  # blocks from the heap up to this size, not each from a mapping of its own (glibc's largest)


@functools.cache
def keep_freed_memory() -> bool:
    """Memory a chunk's arrays free is kept for the next chunk's, not given back to the system and asked for again.

    glibc serves a block of more than 128 KiB from a mapping of its own and raises that threshold to the largest
    block freed, then trims the heap's top once more than twice that is free: a megabyte chunk's arrays (its digits,
    their doubles, the masks) were each mapped or grown and given back again, and every page of them faulted in
    afresh (the million-file listing tree's scan and its find: ~100,000 page faults; ~16,000 with both set, find by
    `keeping_freed_memory`). True when the C library took both settings (glibc); elsewhere nothing changes."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError, TypeError):  # no C library to load by name (Windows), no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM) == 1


def keeping_freed_memory(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for a child that glibc's heap would give memory back for and fault it in again: the same settings, which
    glibc reads from the environment (any other C library ignores them). GNU find frees and trims its heap after
    each directory: 41 page faults a directory of a thousand files, and 4-5% of its time on the listing tree."""
    return {**env, "MALLOC_TRIM_THRESHOLD_": str(TRIM), "MALLOC_MMAP_THRESHOLD_": str(MMAP)}
