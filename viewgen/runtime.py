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
import math
import os
import sys
import time

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


# --- OpenMP threads beside other processes -------------------------------------------------
# PyTorch's CPU wheels run their parallel regions on GNU OpenMP (libgomp). Between regions its
# threads spin (300,000 iterations by default) before they sleep. Alone, that keeps the ~5 us
# gap between two tensor operations free of wake-ups; beside other busy processes, a team whose
# partner thread lost its core spins until the scheduler gives the core back, for every one of
# the hundreds of operations of a frame. Measured with benchmarks/contention.py (2 cores,
# weight-free step, 160x256, ms median alone / beside 2 busy loops / beside a spinning flight):
# default spin 33-47 / 136-192 / 165-191; OMP_WAIT_POLICY=PASSIVE 82-94 / 79-95 / 49-90;
# 1 thread 39-50 / 46-99 / 53-86; spin 3000 with FreeCoreThreads 41-45 / 70-72 / 54-56. At
# 320x512 a spinning step reached 2.7 s on a loaded host. The remedy has two parts: a bounded
# spin (``GOMP_SPINCOUNT``, set before torch loads libgomp; 3000 costs a lone step ~15%, 1000
# ~40%) and a thread count that follows the cores other processes leave free, which makes the
# spin matter only for the half second before it adapts.
SPIN_COUNT = 3000
FREE_CORES_INTERVAL_S = 0.5


def bound_openmp_spinning(environ: dict[str, str] | None = None) -> bool:
    """Set ``GOMP_SPINCOUNT`` to :data:`SPIN_COUNT` unless the user chose a wait policy.

    Only takes effect when called before ``torch`` is first imported. Returns True when set.
    """
    environ = os.environ if environ is None else environ
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return False
    environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    return True


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from ``/proc/stat``."""
    with open("/proc/stat", "rb") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _process_jiffies() -> int:
    """User + system clock ticks of this process (all its threads), from ``/proc/self/stat``."""
    with open("/proc/self/stat", "rb") as stat:
        after_name = stat.read().rsplit(b")", 1)[1].split()
    return int(after_name[11]) + int(after_name[12])


class FreeCoreThreads:
    """Keep torch's intra-op thread count at the number of cores other processes leave free.

    Call :meth:`update` often (every frame); at most every ``interval_s`` it reads how much CPU
    the machine used minus what this process used, over the last interval, and sets
    ``torch.set_num_threads`` to the free cores (at least 1, at most ``max_threads``). Two
    flights side by side settle on one thread each instead of spinning against each other.
    Does nothing where ``/proc`` is absent (not Linux).
    """

    def __init__(self, max_threads: int | None = None, interval_s: float = FREE_CORES_INTERVAL_S):
        import torch

        self._torch = torch
        self.max_threads = max_threads or torch.get_num_threads()
        self.interval_s = interval_s
        self._cpus = os.cpu_count() or 1
        self._last = self._sample()

    def _sample(self) -> tuple[float, int, int, int] | None:
        try:
            return (time.monotonic(), *_machine_jiffies(), _process_jiffies())
        except (OSError, ValueError, IndexError):
            return None

    def free_cores(self, previous, current) -> float:
        """Cores not used by other processes between two samples (may be fractional)."""
        machine_busy = current[1] - previous[1]
        machine_total = current[2] - previous[2]
        own = current[3] - previous[3]
        if machine_total <= 0:
            return float(self.max_threads)
        others = max(0, machine_busy - own) / machine_total * self._cpus
        return self._cpus - others

    def update(self) -> int:
        """Adjust the thread count if an interval has passed; returns the count in use."""
        if self._last is None or time.monotonic() - self._last[0] < self.interval_s:
            return self._torch.get_num_threads()
        current = self._sample()
        if current is None:
            return self._torch.get_num_threads()
        threads = int(min(self.max_threads, max(1, math.floor(self.free_cores(self._last, current) + 0.5))))
        self._last = current
        if threads != self._torch.get_num_threads():
            self._torch.set_num_threads(threads)
        return threads
