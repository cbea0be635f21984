"""Process-level performance settings, opt-in: set ``VIEWGEN_TUNE_MALLOC=1`` to enable.

Why: PyTorch on CPU allocates a fresh buffer for every intermediate tensor. With glibc's
default malloc, buffers above a dynamic threshold are returned to the operating system on
free and page-faulted back in on the next allocation; the renderer's many ~1 MB
intermediates then spend more time in page faults than in arithmetic (measured: a 160x256
warp drops from 35 ms to 21 ms on one core). Raising glibc's mmap and trim thresholds keeps
freed memory in the process for reuse. Peak memory is unchanged; only its return to the OS
is deferred. Nothing happens on other C libraries.

Why opt-in: on our 2-core machines, some tuned processes ran a warp in 2.7 s instead of
20 ms, without a reproducible trigger (no memory-compaction stalls were recorded). Until that
is understood, the tuning only applies when ``VIEWGEN_TUNE_MALLOC=1`` is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 64 << 20  # single buffers above 64 MiB still go straight to the OS
_TRIM_THRESHOLD_BYTES = 256 << 20


@functools.lru_cache(maxsize=1)
def tune_cpu_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds once per process if ``VIEWGEN_TUNE_MALLOC=1``. True when applied."""
    if os.environ.get("VIEWGEN_TUNE_MALLOC") != "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
    applied = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1 and applied
    return applied
