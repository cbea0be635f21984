"""Shared timing loop of the benchmark scripts: warm-up, timed runs, median and peak memory."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import torch


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_runs(once: Callable[[], None], runs: int, device: str = "cpu", warmup: int = 3,
              base_rss_mib: float | None = None) -> dict:
    """Call ``once`` ``warmup`` times, then time ``runs`` calls (CUDA synchronised).

    Returns ``median_ms``, ``min_ms`` and ``peak_mib``: CUDA's peak allocation, or on CPU the
    growth of the process's peak RSS over ``base_rss_mib`` (taken now when not given).
    """
    base = peak_rss_mib() if base_rss_mib is None else base_rss_mib
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def call() -> None:
        once()
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mib() - base
    return {"median_ms": statistics.median(times), "min_ms": min(times), "peak_mib": peak}


def time_interleaved(calls: dict[str, Callable[[], None]], runs: int, warmup: int = 2) -> dict[str, list[float]]:
    """Time ``calls`` in turns, one of each per round, so a host that speeds up or slows down mid-way
    weighs on all of them alike: ``{name: [ms per run, ...]}`` in round order, after ``warmup`` rounds.
    A call on a GPU must synchronise before it returns (``benchmarks/fly.py`` wraps its calls so)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_index in range(warmup + runs):
        for name, once in calls.items():
            start = time.perf_counter()
            once()
            if round_index >= warmup:
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def host_check_us(repeats: int = 2000) -> float:
    """Median microseconds of one float32 multiply of 81,000 elements (a 160x256 mesh's triangle
    count) on the current thread settings: a yardstick for how busy the host is. Our quiet 2-core
    machines take 11-14 us; the same shared hosts measured up to 26 us when busy."""
    a, b = torch.rand(81_000), torch.rand(81_000)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mul(a, b)
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def settings_line(device: str, threads: int | None) -> str:
    """Set torch's threads (when ``threads`` is given) and return the line a benchmark table opens with: the
    device, the threads, torch's version and the :func:`host_check_us` reading."""
    if threads:
        torch.set_num_threads(threads)
    return (f"device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
            f"host check {host_check_us():.1f} us (quiet: 11-14)")
