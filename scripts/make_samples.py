"""Regenerate the embedded sample RGBDs in ``viewgen/data/samples/`` from the synthetic world.

Usage::

    python scripts/make_samples.py            # writes the 3 samples at 320x512
    python scripts/make_samples.py --check    # renders and compares with the committed files

For each scene ``i = 1, 2, 3`` (coast, hills, mountains) it renders the preset's start view and
writes ``<i>_<name>.png`` (8-bit RGB), ``<i>_<name>_disparity.png`` (16-bit, value / 65535 =
disparity in [0, 1], nearest point 1, sky 0) and ``<i>_<name>.json`` (normalized intrinsics
``fx fy cx cy``, the disparity scale ``s`` with metric depth ``s / disparity``, the preset, its
world seed and the start camera in world coordinates). Rendering is deterministic, so running
the script again reproduces the files (PNG encoding aside).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "viewgen" / "data" / "samples"
SIZE = (320, 512)


def make(out_dir: Path, check: bool = False) -> int:
    from viewgen.data.samples import SAMPLE_NAMES, load_sample
    from viewgen.data.synthetic import preset_world, render_rgbd, scene_preset, start_pose
    from viewgen.geometry import default_intrinsics
    from viewgen.io.images import write_disparity_png16, write_png_atomic

    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    worst = 0.0
    for index, name in enumerate(SAMPLE_NAMES, start=1):
        world = preset_world(name)
        pose = start_pose(name, world)
        sample = render_rgbd(world, pose, *SIZE, intrinsics=default_intrinsics(*SIZE))
        stem = f"{index}_{name}"
        if check:
            loaded = load_sample(index).rgbd
            worst = max(worst, float((loaded - sample.rgbd).abs().max()))
            continue
        write_png_atomic(out_dir / f"{stem}.png", sample.rgbd[0, :3])
        write_disparity_png16(out_dir / f"{stem}_disparity.png", sample.rgbd[0, 3])
        fx, fy, cx, cy = default_intrinsics(*SIZE, dtype=torch.float64).tolist()  # rendered with these
        meta = {"name": name, "index": index, "fx": fx, "fy": fy, "cx": cx, "cy": cy,
                "height": SIZE[0], "width": SIZE[1], "disparity_scale": float(sample.disparity_scale[0]),
                "preset": name, "world_seed": scene_preset(name).world.seed,
                "world_cam_from_world": [[round(v, 9) for v in row] for row in pose.tolist()],
                "world": dataclasses.asdict(world.config),
                "note": "disparity = clip(s / depth, 0, 1); metric depth = disparity_scale / disparity; "
                        "regenerate with scripts/make_samples.py"}
        (out_dir / f"{stem}.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        sizes = [f"{(out_dir / f).stat().st_size // 1024} KB" for f in (f"{stem}.png", f"{stem}_disparity.png")]
        print(f"{stem}: s = {meta['disparity_scale']:.2f}, files {', '.join(sizes)}")
    if check:
        print(f"largest difference to the committed samples: {worst:.4f}")
        return 0 if worst <= 2.0 / 255 else 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SAMPLES, help="output folder (default: the package's samples/)")
    parser.add_argument("--check", action="store_true", help="compare a fresh render with the committed files")
    args = parser.parse_args()
    return make(args.out, args.check)


if __name__ == "__main__":
    sys.exit(main())
