"""Attitude of the autopilot with and without level mode on a fixed frame; prints a Markdown table.

    python benchmarks/autopilot_level.py                  # 2000 frames, samples 1-3 and uniform
    python benchmarks/autopilot_level.py --frames 500 --scenes 2 uniform

Each flight starts at the identity pose (world down = +y) and is handed the same built-in sample
RGBD (full resolution) as its frame at every step, so nothing closes the loop: the numbers show
what the controller itself does to the camera. Scene ``uniform`` is a degraded frame: disparity
0.3 everywhere (no sky, no structure), 320 x 512, with sample 1's intrinsics. Steering ``none``
holds ``offset = (0, 0)``; ``schedule`` holds (0, +1) for 500 frames, (0, -1) for 500, (+1, 0)
for 500, then (0, 0). Columns: the final pitch (degrees, > 0 looks down), the largest |roll|
(degrees), frames upside down, the lowest, highest and final height (flight units along world
up), time per step.
"""

from __future__ import annotations

import argparse
import time

import torch

from viewgen.control.fly_dynamic import FlyDynamic
from viewgen.data.samples import load_sample
from viewgen.evaluation.attitude import camera_attitude


def steering(name: str, frame: int) -> tuple[float, float]:
    """The steering offset of flight ``name`` (``none`` or ``schedule``) at ``frame``."""
    if name == "none":
        return 0.0, 0.0
    return [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (0.0, 0.0)][min(frame // 500, 3)]


def scene_frame(scene: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rgbd [1, 4, H, W] float64, intrinsics [4])`` of a sample number or ``uniform``."""
    sample = load_sample(1 if scene == "uniform" else int(scene))
    rgbd = sample.rgbd.double()
    if scene == "uniform":
        rgbd[:, 3] = 0.3
    return rgbd, sample.intrinsics


def fly(scene: str, level: bool, steer: str, frames: int) -> str:
    """One flight; returns its table row."""
    frame, intrinsics = scene_frame(scene)
    autopilot = FlyDynamic(intrinsics, torch.eye(4, dtype=torch.float64)[:3], level=level)
    start = time.perf_counter()
    poses = torch.stack([autopilot.next(frame, steering(steer, t)) for t in range(frames)])
    seconds = (time.perf_counter() - start) / frames
    att = camera_attitude(poses)
    return (f"| {scene} | {steer} | {'yes' if level else 'no'} | {float(att.pitch_deg[-1]):.1f} | "
            f"{float(att.roll_deg.abs().max()):.3g} | {int(att.upside_down.sum())} | {float(att.height.min()):.1f} | "
            f"{float(att.height.max()):.1f} | {float(att.height[-1]):.1f} | {seconds * 1e3:.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--scenes", nargs="+", default=["1", "2", "3", "uniform"],
                        help="sample numbers and/or 'uniform'")
    args = parser.parse_args()
    print("| scene | steering | level | final pitch | max abs roll | upside-down frames | min height | "
          "max height | final height | per step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scene in args.scenes:
        for steer in ("none", "schedule"):
            for level in (False, True):
                print(fly(scene, level, steer, args.frames), flush=True)


if __name__ == "__main__":
    main()
