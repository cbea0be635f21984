"""A weight-free flight step alone and beside other busy processes, per OpenMP setting; prints a table.

    python benchmarks/contention.py                      # 320x512, 12 timed steps per cell
    python benchmarks/contention.py --size 160x256 --steps 20

Each cell runs the step in a fresh process (the OpenMP settings must precede torch's import):
median and minimum ms per step, and the thread count in use at the end. Scenarios: alone;
beside two busy Python loops (a machine whose cores are taken); beside a second flight that
spins with the default OpenMP policy (two renders side by side). Settings: libgomp's default
spin, ``OMP_WAIT_POLICY=PASSIVE``, a bounded spin (``GOMP_SPINCOUNT``), one thread, and what
``viewgen fly`` uses (bounded spin + :class:`viewgen.runtime.FreeCoreThreads`). Run it alone
on the machine; the "alone" column is only alone on a quiet host.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from viewgen.runtime import FREE_CORES_INTERVAL_S, SPIN_COUNT

SETTINGS = {
    "default spin": ({}, False),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, False),
    "spin 1000": ({"GOMP_SPINCOUNT": "1000"}, False),
    "spin 3000": ({"GOMP_SPINCOUNT": "3000"}, False),
    "spin 10000": ({"GOMP_SPINCOUNT": "10000"}, False),
    "1 thread": ({"OMP_NUM_THREADS": "1"}, False),
    f"viewgen fly (spin {SPIN_COUNT} + free cores)": ({"GOMP_SPINCOUNT": str(SPIN_COUNT)}, True),
}
BUSY_LOOP = "while True: pass"


def worker(size: tuple[int, int], steps: int, follow_free_cores: bool, forever: bool) -> None:
    """Fly the weight-free refiner into sample 1 and print 'median_ms min_ms threads'."""
    import torch
    import torch.nn.functional as F

    from viewgen.data.samples import load_sample
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
    from viewgen.runtime import FreeCoreThreads, tune_cpu_allocator

    tune_cpu_allocator()
    sample = load_sample(1)
    rgbd = F.interpolate(sample.rgbd, size=size, mode="bilinear", align_corners=False)
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=size))
    pipe.reset(rgbd, intrinsics=sample.intrinsics)
    governor = FreeCoreThreads(interval_s=FREE_CORES_INTERVAL_S) if follow_free_cores else None
    for _ in range(3):
        pipe.step()
    times = []
    while forever or len(times) < steps:
        if governor is not None:
            governor.update()
        start = time.perf_counter()
        pipe.step()
        times.append((time.perf_counter() - start) * 1e3)
    print(f"{statistics.median(times):.1f} {min(times):.1f} {torch.get_num_threads()}")


def _env(overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    env.update(overrides)
    return env


def _worker_command(args, follow: bool, forever: bool = False) -> list[str]:
    command = [sys.executable, __file__, "--worker", "--size", args.size, "--steps", str(args.steps)]
    return command + (["--follow-free-cores"] if follow else []) + (["--forever"] if forever else [])


def measure(args, setting: str, scenario: str) -> str:
    overrides, follow = SETTINGS[setting]
    neighbours = []
    if scenario == "2 busy loops":
        neighbours = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(2)]
    elif scenario == "another flight":
        neighbours = [subprocess.Popen(_worker_command(args, False, forever=True), env=_env({}),
                                       stdout=subprocess.DEVNULL)]
    try:
        time.sleep(1.0 if neighbours else 0.0)
        result = subprocess.run(_worker_command(args, follow), env=_env(overrides), capture_output=True,
                                text=True, check=True)
        median_ms, min_ms, threads = result.stdout.split()
        return f"{float(median_ms):8.1f} ({float(min_ms):6.1f}) t={threads}"
    finally:
        for process in neighbours:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="320x512", help="HxW of the flight (default 320x512)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per cell (default 12)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forever", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--follow-free-cores", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        size = tuple(int(v) for v in args.size.split("x"))
        worker(size, args.steps, args.follow_free_cores, args.forever)
        return 0
    scenarios = ("alone", "2 busy loops", "another flight")
    print(f"weight-free step at {args.size}, ms median (min), {args.steps} steps, {os.cpu_count()} CPUs, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"| setting | {' | '.join(scenarios)} |")
    print("|---|" + "---|" * len(scenarios))
    for setting in SETTINGS:
        cells = [measure(args, setting, scenario) for scenario in scenarios]
        print(f"| {setting} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
