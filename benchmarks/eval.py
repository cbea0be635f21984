"""Benchmark ``viewgen eval``'s long range (protocol b): what one frame of each part costs, and the
standard run's estimated wall time.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/eval.py                 # 160x256, sample 2, 40 frames
    python benchmarks/eval.py --size 96x160 --frames 20 --threads 2

Rows (milliseconds, median over the timed calls): a weight-free flight frame (autopilot), the truth
rendered at a flight pose (one render call), a step of the truth flight (its autopilot and the
small coarse render it steers on), the per-frame measures of every flight frame, the measures of
a truth frame with its render (two warps: compensated flicker and new content), and one patch
distance of 20 vs 20 frames. The estimate multiplies them by the standard run's counts (3 samples
x 1000 autopilot + 120 steered frames, 1000 truth-flight steps, a truth frame every 10th frame, 6
distances) and adds protocol (a) as 60 flight frames and 63 truth renders; it leaves out imports
and plots (~10 s). Shared hosts vary by up to 2x: compare rows of one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _timing import host_check_us


def _median_ms(once, runs: int) -> float:
    once()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(height: int, width: int, frames: int) -> dict[str, float]:
    from viewgen.evaluation import long_range as lr
    from viewgen.evaluation.distribution import patch_distance
    from viewgen.evaluation.sample_worlds import render_truth, sample_world, world_poses
    from viewgen.evaluation.truth_flight import fly_truth
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(height, width)))
    sample = sample_world(2)
    start = time.perf_counter()
    flight = pipe(sample.rgbd, num_frames=frames, intrinsics=sample.intrinsics)
    rows = {"flight frame": (time.perf_counter() - start) * 1000 / frames}
    rgbd = [frame.rgbd.float() for frame in flight]
    poses = [frame.cam_from_world.double() for frame in flight]
    rows["truth render"] = _median_ms(lambda: render_truth(sample, world_poses(sample, poses[-1][None]),
                                                           height, width), 5)
    steps = 10
    rows["truth flight step"] = _median_ms(
        lambda: fly_truth(sample, pipe.config.autopilot, steps, (), (height, width)), 3) / steps
    rows["measures per frame"] = _median_ms(lambda: lr._observe(lr.FlightLog(), sample, rgbd[-1], rgbd[-2],
                                                                poses[-1]), 10)
    truth = torch.cat(render_truth(sample, world_poses(sample, torch.stack(poses[-11:-10])), height, width), dim=1)
    config = lr.LongRangeConfig(samples=(2,), num_frames=frames, window=frames, height=height, width=width,
                                truth_stride=10, new_content_lag=10)

    def truth_measures() -> None:
        log = lr.FlightLog()
        log.truth[frames - 10] = {"truth_rgbd": truth, "truth_pose": poses[-11]}
        keep = {k: (rgbd[k - 1], poses[k - 1]) for k in (frames - 10, frames - 1, frames)}
        lr._observe_truth(log, sample, config, frames, keep, None)

    rows["truth frame measures (incl. render)"] = _median_ms(truth_measures, 3)
    images = torch.stack([frame[0, :3] for frame in rgbd[:20]])
    rows["patch distance 20 vs 20"] = _median_ms(lambda: patch_distance(images[:10], images[10:]), 3)
    return rows


def estimate_s(rows: dict[str, float]) -> float:
    """The standard run's seconds from the per-part milliseconds (see the module doc)."""
    long_frames, steered, truth = 3 * 1000, 3 * 120, 3 * 100
    ms = ((long_frames + steered) * rows["flight frame"] + long_frames * rows["measures per frame"]
          + long_frames * rows["truth flight step"]
          + truth * rows["truth frame measures (incl. render)"] + 6 * rows["patch distance 20 vs 20"]
          + 60 * rows["flight frame"] + 63 * rows["truth render"])
    return ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="160x256", help="HxW (default 160x256)")
    parser.add_argument("--frames", type=int, default=40, help="flight frames timed (>= 21, default 40)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.lower().split("x"))
    print(f"host check: {host_check_us():.0f} us; {height}x{width}, {torch.get_num_threads()} thread(s)")
    rows = measure(height, width, max(21, args.frames))
    print("| part | ms |\n|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.1f} |")
    print(f"estimated standard run (viewgen eval, both protocols): {estimate_s(rows) / 60:.1f} min")


if __name__ == "__main__":
    main()
