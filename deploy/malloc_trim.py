"""Opt-in periodic ``malloc_trim``: give glibc's free heap pages back to the operating system.

Off unless ``MUSTER_MALLOC_TRIM_EVERY`` is a number of seconds. With it, a daemon thread calls
glibc's ``malloc_trim(0)`` that often: free chunks inside glibc's heaps (not only at their top)
are returned with ``madvise``, so RSS follows the bytes in use rather than the heap's high-water
mark. Python's own small-object arenas are not touched (pymalloc returns an arena when it is
empty). On a C library without ``malloc_trim`` (musl) nothing starts.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def start_if_asked() -> bool:
    """Start the trimming thread if ``MUSTER_MALLOC_TRIM_EVERY`` is set; True if it started."""
    raw = os.environ.get("MUSTER_MALLOC_TRIM_EVERY")
    if not raw:
        return False
    try:
        every = float(raw)
    except ValueError:
        log.warning("MUSTER_MALLOC_TRIM_EVERY=%r is not a number of seconds: not trimming", raw)
        return False
    trim = glibc_trim()
    if every <= 0 or trim is None:
        return False
    threading.Thread(target=_trim_forever, args=(trim, every), daemon=True,
                     name="malloc-trim").start()  # fmt: skip
    return True


def glibc_trim() -> Callable[[], int] | None:
    """``malloc_trim(0)`` of this process's C library, or None where there is none."""
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: int(function(0))


def _trim_forever(trim: Callable[[], int], every: float) -> None:
    while True:
        time.sleep(every)
        trim()
