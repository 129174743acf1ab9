"""Giving memory back between the stages of a build, and knowing how much it holds (issue 18:
100,000 entities in one CI runner's memory).

Python returns the memory of freed objects to its allocator, not always to the system: glibc
keeps freed blocks for reuse, each thread in its own arena, so a process's resident size
stays at its highest mark although most of it is free. ``trim`` asks glibc to hand the free
pages back (``malloc_trim``); elsewhere it does nothing. ``resident`` is what the process
holds now, for the stages that decide how much to run at once.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    function.argtypes, function.restype = [ctypes.c_size_t], ctypes.c_int
    return function


def trim() -> None:
    """Return the allocator's free memory to the system, where the allocator can (glibc)."""
    function = _malloc_trim()
    if function is not None:
        function(0)


def resident() -> int | None:
    """The process's resident size now, in bytes (``/proc/self/statm``); None where it cannot
    be read (not Linux): callers then assume the least room."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
