"""Speed and memory of the Infinite Nature fly-through (``FlyThroughPipeline``); prints a table.

    python benchmarks/fly.py                      # random weights of the full-size model
    python benchmarks/fly.py --weights DIR        # converted weights (speed does not depend on values)
    python benchmarks/fly.py --frames 20 --runs 3 --profile
    python benchmarks/fly.py --devices cuda,cuda+graphs,cuda+graphs+fast --size 640x1024   # GPU columns

Columns: ``cpu`` (the default arithmetic: Winograd 3x3 convolutions where they pay), ``cpu+direct``
(PyTorch's direct convolutions, the arithmetic of earlier releases), ``cpu+fast`` (bfloat16, channels-last,
on a CPU with native bfloat16), ``cuda``, ``cuda+graphs``
(the refiner replayed from CUDA graphs), ``cuda+graphs+fast`` (and in bfloat16).

Rows: seconds per style encoding, per ``render_refine`` step (and its parts: warp, generator,
rescale), per autopilot step, each row's columns timed in turns (so a host that slows down mid-way
weighs on every column alike); frames per second of a flight; peak memory (process RSS high-water,
taken before the FLOP and matmul measurements, shown when one column is measured; on CUDA
``torch.cuda.max_memory_allocated``); the generator's equivalent GFLOP/s (the FLOPs of its direct
convolutions, counted with ``FlopCounterMode``, 2 per multiply-add, over its time: above the
machine's fp32 matmul GFLOP/s means fewer operations than the direct algorithm) beside that rate. Times are
medians of ``--runs`` runs after ``--warmup`` runs. Other processes on the machine skew
everything; the load average is printed for that reason.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from _timing import time_interleaved
from torch.utils.flop_counter import FlopCounterMode

from viewgen.devices import native_bfloat16
from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig, StyleEncoder, StyleEncoderConfig
from viewgen.networks.winograd import conv_algorithm
from viewgen.pipelines import FlyDynamic, FlyThroughConfig, FlyThroughPipeline, rescale_refined_disparity
from viewgen.rendering import warp_rgbd
from viewgen.runtime import tune_cpu_allocator

TARGETS = {"render_refine": "<= 450 ms (2-core CPU)", "autopilot": "<= 3 ms", "peak_rss": "<= 600 MiB (2-core CPU)"}
MATMUL_SIZE = 2048


@dataclass(frozen=True)
class Row:
    """One line of the table: ``key`` into a device's results, already in ``unit``."""

    key: str
    unit: str
    digits: int = 1
    target: str = ""


ROWS = (
    Row("encode_style", "ms"), Row("render_refine", "ms", target=TARGETS["render_refine"]),
    Row("  warp_rgbd", "ms"), Row("  generator", "ms"), Row("  rescale", "ms", 2),
    Row("autopilot step", "ms", 2, TARGETS["autopilot"]), Row("flight", "frames/s", 2), Row("flight", "ms/frame"),
    Row("peak RSS", "MiB", 0, TARGETS["peak_rss"]), Row("peak CUDA allocated", "MiB", 0),
    Row("generator FLOPs (direct)", "GFLOP"), Row("generator equivalent", "GFLOP/s"),
    Row(f"fp32 matmul {MATMUL_SIZE}^2", "GFLOP/s"),
)
MS_ROWS = ("encode_style", "render_refine", "  warp_rgbd", "  generator", "  rescale", "autopilot step")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], device: torch.device, runs: int, warmup: int) -> float:
    """Median wall time of ``fn()`` over ``runs`` calls after ``warmup`` calls (CUDA-synchronised)."""
    return interleaved_medians({"only": (fn, device)}, runs, warmup)["only"]


def interleaved_medians(calls: dict[str, tuple[Callable[[], object], torch.device]], runs: int,
                        warmup: int) -> dict[str, float]:
    """Median seconds of each ``(fn, device)`` in ``calls``, timed in turns by :func:`_timing.time_interleaved`
    (so a host that slows down mid-way weighs on every column alike), each call CUDA-synchronised."""
    def synchronized(fn: Callable[[], object], device: torch.device) -> Callable[[], None]:
        def once() -> None:
            fn()
            _synchronize(device)
        return once

    times = time_interleaved({name: synchronized(fn, device) for name, (fn, device) in calls.items()}, runs, warmup)
    return {name: statistics.median(ms) / 1e3 for name, ms in times.items()}


def synthetic_rgbd(height: int, width: int) -> torch.Tensor:
    """``[1, 4, H, W]``: a far sky band over a ground ramp with a near bump (depth edges, like real input)."""
    rows = torch.linspace(0, 1, height).view(-1, 1).expand(height, width)
    cols = torch.linspace(0, 1, width).view(1, -1).expand(height, width)
    disparity = torch.where(rows < 0.35, torch.full_like(rows, 0.02), 0.08 + 0.7 * (rows - 0.35) / 0.65)
    disparity = torch.where((rows - 0.75) ** 2 / 0.02 + (cols - 0.6) ** 2 / 0.03 < 1, 0.93, disparity)
    rgb = torch.stack([rows, cols, disparity]) * 0.8 + 0.1
    return torch.cat([rgb, disparity[None]]).unsqueeze(0)


def build_pipeline(weights: str | None, column: str, size: tuple[int, int] | None = None) -> FlyThroughPipeline:
    """The pipeline of a table column (the module docstring lists them); random full-size networks at ``size``
    unless ``weights``."""
    device, *options = column.split("+")
    gpu = {"cuda_graphs": "graphs" in options, "precision": "fast" if "fast" in options else "exact",
           "conv": "direct" if "direct" in options else "winograd"}
    if weights:
        pipe = FlyThroughPipeline.from_pretrained(weights, device=device)
        return FlyThroughPipeline(refiner=pipe.refiner, config=replace(pipe.config, **gpu))
    torch.manual_seed(0)
    size = size or (160, 256)
    return FlyThroughPipeline(StyleEncoder(StyleEncoderConfig(image_size=size)),
                              SpadeGenerator(SpadeGeneratorConfig(image_size=size)),
                              FlyThroughConfig(image_size=size, device=device, **gpu))


@dataclass
class Column:
    """One table column, ready to time: its pipeline, the tensors of one step, and a call per millisecond row."""

    device: torch.device
    pipe: FlyThroughPipeline
    rgbd: torch.Tensor
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # warped RGBD, mask, style: the generator's
    calls: dict[str, Callable[[], object]]


def prepare_column(args: argparse.Namespace, column: str) -> Column:
    """Build a column's pipeline (a device and its options) and the calls of its millisecond rows."""
    device = torch.device(column.split("+")[0])
    pipe = build_pipeline(args.weights, column, args.size)
    start = pipe.reset(synthetic_rgbd(*pipe.config.image_size))
    rgbd, style, pose, intrinsics = start.rgbd, pipe.style, start.cam_from_world, start.intrinsics
    next_pose = FlyDynamic(intrinsics.cpu(), pose.cpu()).next(rgbd.cpu()).to(device)
    with torch.inference_mode():
        warped, mask = warp_rgbd(rgbd, pose, next_pose, intrinsics)
        refined = pipe.generator(warped, mask, style)
    autopilot = FlyDynamic(intrinsics, pose)
    calls = {
        "encode_style": lambda: pipe.encode_style(rgbd),
        "render_refine": lambda: pipe.render_refine(rgbd, style, pose, intrinsics, next_pose, intrinsics),
        "  warp_rgbd": lambda: warp_rgbd(rgbd, pose, next_pose, intrinsics),
        "  generator": lambda: pipe.refine(warped, mask, style),
        "  rescale": lambda: rescale_refined_disparity(warped[:, 3:], mask, refined[:, 3:]),
        "autopilot step": lambda: autopilot.next(rgbd),
    }
    return Column(device, pipe, rgbd, (warped, mask, style), calls)


def measure_columns(args: argparse.Namespace, names: list[str]) -> dict[str, dict[tuple[str, str], float]]:
    """Every row for every column; each row's columns timed in turns. The peak RSS (a process high-water mark)
    is per column only when one column is measured."""
    columns = {name: prepare_column(args, name) for name in names}
    results: dict[str, dict[str, float]] = {name: {} for name in names}
    with torch.inference_mode():
        for key in MS_ROWS:
            runs = {"  rescale": 20, "autopilot step": 50}.get(key, args.runs)
            calls = {name: (column.calls[key], column.device) for name, column in columns.items()}
            for name, seconds in interleaved_medians(calls, runs, args.warmup).items():
                results[name][key] = seconds
    for name, column in columns.items():
        results[name]["flight"] = time_flight(column.pipe, column.rgbd, args.frames, column.device)
    for name, column in columns.items():
        if len(columns) == 1:
            results[name]["peak RSS"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        if column.device.type == "cuda":
            results[name]["peak CUDA allocated"] = torch.cuda.max_memory_allocated(column.device) / 2**20
        with torch.inference_mode(), conv_algorithm("direct"), FlopCounterMode(display=False) as counter:
            column.pipe.generator(*column.inputs)
        results[name]["generator FLOPs"] = counter.get_total_flops()
        results[name]["fp32 matmul"] = matmul_flops_per_second(column.device, args.runs, args.warmup)
    return {name: in_display_units(raw) for name, raw in results.items()}


def in_display_units(seconds_and_counts: dict[str, float]) -> dict[tuple[str, str], float]:
    """Raw measurements (seconds, FLOPs, FLOP/s, MiB) -> values keyed like :data:`ROWS`."""
    raw = seconds_and_counts
    shown = {(key, "ms"): raw[key] * 1e3 for key in MS_ROWS}
    shown[("flight", "frames/s")], shown[("flight", "ms/frame")] = 1 / raw["flight"], raw["flight"] * 1e3
    shown.update({(key, "MiB"): raw[key] for key in ("peak RSS", "peak CUDA allocated") if key in raw})
    shown[("generator FLOPs (direct)", "GFLOP")] = raw["generator FLOPs"] / 1e9
    shown[("generator equivalent", "GFLOP/s")] = raw["generator FLOPs"] / raw["  generator"] / 1e9
    shown[(f"fp32 matmul {MATMUL_SIZE}^2", "GFLOP/s")] = raw["fp32 matmul"] / 1e9
    return shown


def time_flight(pipe: FlyThroughPipeline, rgbd: torch.Tensor, num_frames: int, device: torch.device) -> float:
    """Seconds per frame of a ``num_frames`` flight (the autopilot and everything else included)."""
    list(pipe.iter_frames(rgbd, 2))  # warm-up
    start = time.perf_counter()
    for _frame in pipe.iter_frames(rgbd, num_frames):
        pass
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / max(num_frames, 1)


def matmul_flops_per_second(device: torch.device, runs: int, warmup: int) -> float:
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device) for _ in range(2))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # true fp32
    return 2 * MATMUL_SIZE**3 / median_seconds(lambda: a @ b, device, max(runs, 5), warmup)


def print_table(per_device: dict[str, dict[tuple[str, str], float]]) -> None:
    header = ["metric", "unit", *per_device, "target"]
    lines = [[row.key, row.unit, *(f"{results[(row.key, row.unit)]:.{row.digits}f}" if (row.key, row.unit) in results
                                   else "-" for results in per_device.values()), row.target] for row in ROWS]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    print(" | ".join(cell.ljust(width) for cell, width in zip(header, widths)))
    print("-|-".join("-" * width for width in widths))
    for line in lines:
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="converted weights folder (default: random full-size networks)")
    parser.add_argument("--frames", type=int, default=100, help="frames of the timed flight (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before timing")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--devices", default="auto",
                        help="comma list of columns: cpu, cpu+direct, cpu+fast, cuda, cuda+graphs, cuda+graphs+fast "
                             "(default: cpu and cpu+direct, cpu+fast on a CPU with native bfloat16, plus the three "
                             "cuda columns if present)")
    parser.add_argument("--size", type=lambda text: tuple(int(v) for v in text.split("x")), default=None,
                        metavar="HxW", help="flight size of the random networks (default 160x256)")
    parser.add_argument("--profile", action="store_true", help="also print the top CPU ops of one render_refine")
    args = parser.parse_args(argv)
    tune_cpu_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda_columns = ["cuda", "cuda+graphs", "cuda+graphs+fast"] if torch.cuda.is_available() else []
    cpu_columns = ["cpu", "cpu+direct"] + (["cpu+fast"] if native_bfloat16(torch.device("cpu")) else [])
    devices = cpu_columns + cuda_columns if args.devices == "auto" else args.devices.split(",")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"weights: {args.weights or 'random (full-size default config)'}, {args.frames}-frame flight, "
          f"size {'x'.join(map(str, args.size or (160, 256)))}")
    per_device = measure_columns(args, devices)
    print_table(per_device)
    if len(devices) > 1:
        print("(columns timed in turns, row by row; peak RSS is shown for a single --devices column only)")
    if args.profile:
        profile_render_refine(args)
    return 0


def profile_render_refine(args: argparse.Namespace) -> None:
    """Top operators of one CPU render_refine step (self time)."""
    from torch.profiler import ProfilerActivity, profile

    pipe = build_pipeline(args.weights, "cpu", args.size)
    start = pipe.reset(synthetic_rgbd(*pipe.config.image_size))
    next_pose = FlyDynamic(start.intrinsics, start.cam_from_world).next(start.rgbd)
    step = lambda: pipe.render_refine(start.rgbd, pipe.style, start.cam_from_world, start.intrinsics,  # noqa: E731
                                      next_pose, start.intrinsics)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    sys.exit(main())
