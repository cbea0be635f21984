"""Process-level performance settings: glibc malloc thresholds, on unless ``VIEWGEN_TUNE_MALLOC=0``.

Why: PyTorch on CPU allocates a fresh buffer for every intermediate tensor. With glibc's
default malloc, buffers above a dynamic threshold are returned to the operating system on
free and page-faulted back in on the next allocation; the renderer's many ~1 MB
intermediates then spend more time in page faults than in arithmetic. Raising glibc's mmap and
trim thresholds keeps freed memory in the process for reuse. Peak memory is unchanged; only
its return to the OS is deferred (up to 256 MiB stays mapped). Nothing happens on other C
libraries. Measured on a quiet 2-core machine with the renderer of 2026-11: a 160x256 warp
15.0 -> 11.5 ms, 320x512 49 -> 40 ms, Infinite Nature's render-refine step 498 -> 429-437 ms;
with the current renderer a warp is still about 20% faster with the tuning.

History: session 1 made this opt-in after runs that took 100x longer; those were OpenMP
threads of several PyTorch processes spin-waiting on each other (see the README's Speed
section), not the allocator, and did not recur with the tuning on a quiet machine.
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
    """Raise glibc's mmap/trim thresholds once per process unless ``VIEWGEN_TUNE_MALLOC=0``. True when applied."""
    if os.environ.get("VIEWGEN_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
    applied = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1 and applied
    return applied
