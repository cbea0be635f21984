"""Implementations of the ``viewgen`` subcommands (imported lazily by ``viewgen.cli.main``)."""

from __future__ import annotations

import math
import platform
import time
from argparse import Namespace

import torch


def run_info(args: Namespace) -> int:
    import numpy

    import viewgen

    print(f"viewgen {viewgen.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    print(f"torch {torch.__version__}, numpy {numpy.__version__}")
    print(f"cpu threads: {torch.get_num_threads()}")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            print(f"cuda:{index}: {torch.cuda.get_device_name(index)}")
    else:
        print("cuda: not available")
    for line in found_weights_lines():
        print(line)
    return 0


def found_weights_lines() -> list[str]:
    """What ``viewgen info`` reports about weights: the cache folder and what it holds."""
    from viewgen.depth.midas import MIDAS_VARIANTS
    from viewgen.hub import find_weights, viewgen_home

    home = viewgen_home()
    lines = [f"weights cache: {home} (set VIEWGEN_HOME to move it)"]
    for name, variant in MIDAS_VARIANTS.items():
        path = find_weights(variant.weights)
        lines.append(f"  depth {name}: {path if path else 'not downloaded (viewgen download ' + name + ')'}")
    configs = [*home.glob("*/spade_generator/config.json"), *home.glob("*/*/spade_generator/config.json")]
    converted = sorted(config.parent.parent for config in configs
                       if (config.parent.parent / "style_encoder" / "config.json").is_file())
    if converted:
        lines += [f"  infinite nature weights: {folder} (use --weights {folder})" for folder in converted]
    else:
        lines.append("  infinite nature weights: none converted here (see `viewgen convert infinite-nature --help`; "
                     "without them `viewgen fly` uses the weight-free refiner)")
    return lines


def _move_pose(forward: float, right: float, up: float, yaw_deg: float) -> torch.Tensor:
    """World-to-camera ``[3, 4]`` of a camera moved from the identity (camera +y is down)."""
    angle = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(angle), 0.0, -math.sin(angle)], [0.0, 1.0, 0.0],
                             [math.sin(angle), 0.0, math.cos(angle)]])
    centre = torch.tensor([right, -up, forward])
    return torch.cat([rotation, (-rotation @ centre).unsqueeze(1)], dim=1)


def run_warp(args: Namespace) -> int:
    from viewgen.data.toy_scene import toy_landscape_rgbd
    from viewgen.geometry import default_intrinsics
    from viewgen.io.images import write_png_atomic
    from viewgen.rendering import warp_rgbd
    from viewgen.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    if args.input:
        from viewgen.io.rgbd_files import load_rgbd_file

        loaded = load_rgbd_file(args.input)
        rgbd, source = loaded.rgbd, args.input
    else:
        rgbd, source = toy_landscape_rgbd(), "built-in procedural landscape"
    height, width = rgbd.shape[-2:]
    intrinsics = default_intrinsics(height, width)
    target = _move_pose(args.forward, args.right, args.up, args.yaw_deg)
    start = time.perf_counter()
    with torch.inference_mode():
        warped, mask = warp_rgbd(rgbd, torch.eye(4)[:3], target, intrinsics)
    elapsed_ms = (time.perf_counter() - start) * 1000
    panel = torch.cat([rgbd[0, :3], warped[0, :3], mask[0].expand(3, -1, -1)], dim=2)
    write_png_atomic(args.out, panel)
    holes = float((mask == 0).float().mean()) * 100
    print(f"warped {source} ({height}x{width}) in {elapsed_ms:.1f} ms; {holes:.1f}% holes; wrote {args.out}")
    return 0


def run_convert_infinite_nature(args: Namespace) -> int:
    from viewgen.convert import convert_infinite_nature_checkpoint

    summary = convert_infinite_nature_checkpoint(args.prefix, args.out_dir)
    print(f"converted {summary.num_variables_converted} variables ({summary.num_values_converted:,} values) "
          f"to {summary.out_dir}")
    return 0
