"""Giving memory back between the stages of a build (issue 18: 100,000 entities in one CI
runner's memory).

Python returns the memory of freed objects to its allocator, not always to the system: glibc
keeps freed blocks for reuse, each thread in its own arena, so a process's resident size
stays at its highest mark although most of it is free. ``trim`` asks glibc to hand the free
pages back (``malloc_trim``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
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
