"""Benchmark ``warp_rgbd``: milliseconds per warp and peak memory, by size, mode and device.

Usage::

    python benchmarks/render.py                 # CPU (and CUDA when present), all sizes
    python benchmarks/render.py --sizes 160x256 --runs 30 --threads 2
    VIEWGEN_TUNE_MALLOC=0 python benchmarks/render.py   # without viewgen.runtime's malloc tuning

Each (device, size, mode) runs in a fresh subprocess so that its peak memory is its own: on
CPU the peak resident set size minus the process's size before the first warp, on CUDA
``torch.cuda.max_memory_allocated``. Times are the median (and minimum) of ``--runs`` warps
after three warm-up warps. ``forward`` runs under ``torch.inference_mode``; ``fwd+bwd`` warps
an RGBD that requires grad and back-propagates the sum of the outputs. The scene is a forward
step with a small yaw over ``viewgen.data.toy_scene`` (sky, ground ramp, a near rock), the typical
motion of one autopilot frame. The row ``far pose / large triangles`` (320x512, forward) warps the
coast sample to the autopilot's pose 100 frames on: the camera has flown past the nearest
terrain, so hundreds of triangles straddle the eye plane and get whole-screen boxes (before the
rasterizer enumerated large triangles row by row this took 25 s and 6 GB).
Reference: the original's compiled C++ rasterizer took 11.7 ms
at 160x256 on a 2-core CPU of the kind we use; our target there is 10 ms forward. The table
starts with a host check (one elementwise multiply), since shared hosts vary by up to 2x.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import torch
from _timing import host_check_us, time_runs


def step_pose(yaw_deg: float = 1.5, forward: float = 0.2) -> torch.Tensor:
    angle = math.radians(yaw_deg)
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s, 0.0], [0.0, 1.0, 0.0, 0.0], [-s, 0.0, c, -forward]])


FAR_POSE = "far pose / large triangles"


def far_pose_scene(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rgbd, intrinsics, target pose): the coast sample and the autopilot's pose 100 frames on."""
    from viewgen.control.fly_dynamic import FlyDynamic
    from viewgen.data.samples import load_sample

    sample = load_sample(1)
    pilot = FlyDynamic(sample.intrinsics, torch.eye(4)[:3])
    for _ in range(100):
        pose = pilot.next(sample.rgbd)
    rgbd = torch.nn.functional.interpolate(sample.rgbd, size=(height, width), mode="area")
    return rgbd, sample.intrinsics, pose


def run_one(device: str, height: int, width: int, mode: str, runs: int, tune: bool) -> dict:
    """Time one configuration in this process; returns a result row."""
    from viewgen.data.toy_scene import toy_landscape_rgbd
    from viewgen.rendering import warp_rgbd
    from viewgen.runtime import tune_cpu_allocator

    if tune:
        tune_cpu_allocator()
    if mode == FAR_POSE:
        rgbd, intrinsics, target = (t.to(device) for t in far_pose_scene(height, width))
    else:
        rgbd, target = toy_landscape_rgbd(height, width).to(device), step_pose().to(device)
        intrinsics = torch.tensor([0.8, 0.8 * width / height, 0.5, 0.5], device=device)
    source = torch.eye(4)[:3].to(device)

    def once() -> None:
        if mode in ("forward", FAR_POSE):
            with torch.inference_mode():
                warp_rgbd(rgbd, source, target, intrinsics)
        else:
            leaf = rgbd.clone().requires_grad_(True)
            warped, mask = warp_rgbd(leaf, source, target, intrinsics)
            (warped.sum() + mask.sum()).backward()

    return {"device": device, "size": f"{height}x{width}", "pixels": height * width, "mode": mode,
            **time_runs(once, runs, device)}


def print_table(rows: list[dict], threads: int, tune: bool) -> None:
    print(f"\nwarp_rgbd benchmark  (torch {torch.__version__}, {threads} CPU threads, "
          f"allocator tuning {'on' if tune else 'off'})")
    print(f"host check: a float32 multiply of 81k elements takes {host_check_us():.1f} us "
          f"(11-14 us on a quiet 2-core machine of ours; a busy host slows every row)")
    header = f"{'device':6} {'size':>9} {'mode':26} {'median ms':>10} {'min ms':>8} {'ms/Mpx':>8} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        per_mpx = row["median_ms"] / (row["pixels"] / 1e6)
        print(f"{row['device']:6} {row['size']:>9} {row['mode']:26} {row['median_ms']:10.2f} {row['min_ms']:8.2f} "
              f"{per_mpx:8.1f} {row['peak_mib']:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="160x256,320x512,640x1024")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tune = os.environ.get("VIEWGEN_TUNE_MALLOC", "1") != "0"
    if args.child:
        device, height, width, mode = args.child.split(",", 3)
        print(json.dumps(run_one(device, int(height), int(width), mode, args.runs, tune)))
        return
    devices = [d for d in args.devices.split(",") if d == "cpu" or torch.cuda.is_available()]
    rows = []
    for device in devices:
        configurations = [(size, mode) for size in args.sizes.split(",") for mode in ("forward", "fwd+bwd")]
        for size, mode in configurations + [("320x512", FAR_POSE)]:
            height, width = (int(v) for v in size.lower().split("x"))
            command = [sys.executable, __file__, "--child", f"{device},{height},{width},{mode}",
                       "--runs", str(args.runs), "--threads", str(args.threads)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(f"  done {device} {size} {mode}: {rows[-1]['median_ms']:.2f} ms", file=sys.stderr)
    print_table(rows, args.threads, tune)


if __name__ == "__main__":
    main()
