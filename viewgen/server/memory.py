"""Giving freed memory back to the operating system when sessions end or the server idles.

A flight allocates many short-lived tensor buffers. glibc keeps freed heap memory in the
process for reuse, all the more since :func:`viewgen.runtime.tune_cpu_allocator` raises its
trim threshold to 256 MiB (per arena; every thread that allocates may get its own arena). For
a long-running server that keeps hundreds of MB after its visitors have left, so the server
calls :func:`release_memory` (a garbage collection, then glibc's ``malloc_trim(0)``, which
returns the free pages of every arena) when a session ends, after an upload and once the
server has been idle for a while. Elsewhere than on glibc only the garbage collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys
import threading

__all__ = ["release_memory"]

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_memory() -> bool:
    """Collect garbage and return free heap pages to the OS; True when ``malloc_trim`` ran.

    Thread-safe; call it from a worker thread (trimming a large heap takes milliseconds).
    """
    with _lock:
        gc.collect()
        trim = _malloc_trim()
        if trim is None:
            return False
        trim(0)
        return True
