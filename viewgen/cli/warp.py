"""``viewgen warp``: render an RGBD image from a moved camera with the mesh renderer."""

from __future__ import annotations

import math
import time
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from viewgen.cli.outputs import IMAGE_FORMATS, write_outputs

if TYPE_CHECKING:
    import torch

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register ``warp`` on the ``viewgen`` subcommand parsers."""
    warp = subparsers.add_parser("warp", help="render an RGBD image from a moved camera (the mesh renderer)")
    warp.add_argument("input", nargs="?", help="RGBD .npz/.npy or original autocruise_input*.pkl "
                                               "(default: a built-in procedural landscape)")
    warp.add_argument("--out", default="warp.png",
                      help=".png or .jpg (the suffix picks the format): source | warped view | mask, side by side")
    warp.add_argument("--forward", type=float, default=0.5, help="move along the view direction, depth units")
    warp.add_argument("--right", type=float, default=0.0, help="move to the right, depth units")
    warp.add_argument("--up", type=float, default=0.0, help="move up, depth units")
    warp.add_argument("--yaw-deg", type=float, default=0.0, help="turn right by this many degrees")
    warp.set_defaults(run=run)


# One warp of a 2048x2048 RGBD peaked at 2.3 GB; inputs are shrunk to this long side first.
WARP_MAX_SIDE = 1024


def run(args: Namespace) -> int:
    import torch

    from viewgen.data.toy_scene import toy_landscape_rgbd
    from viewgen.geometry import default_intrinsics
    from viewgen.rendering import warp_rgbd
    from viewgen.runtime import tune_cpu_allocator

    image_format = _check_image_output(args.out)
    tune_cpu_allocator()
    if args.input:
        from viewgen.io.rgbd_files import load_rgbd_file

        loaded = load_rgbd_file(args.input, max_side=WARP_MAX_SIDE)
        rgbd, source, intrinsics = loaded.rgbd, args.input, loaded.intrinsics
    else:
        rgbd, source, intrinsics = toy_landscape_rgbd(), "built-in procedural landscape", None
    height, width = rgbd.shape[-2:]
    # Stored intrinsics are resolution-independent, so they hold after shrinking.
    intrinsics = default_intrinsics(height, width) if intrinsics is None else intrinsics.reshape(1, 4)
    target = _move_pose(args.forward, args.right, args.up, args.yaw_deg)
    start = time.perf_counter()
    with torch.inference_mode():
        warped, mask = warp_rgbd(rgbd, torch.eye(4)[:3], target, intrinsics)
    elapsed_ms = (time.perf_counter() - start) * 1000
    panel = torch.cat([rgbd[0, :3], warped[0, :3], mask[0].expand(3, -1, -1)], dim=2)
    _write_image(args.out, panel, image_format)
    holes = float((mask == 0).float().mean()) * 100
    print(f"warped {source} ({height}x{width}) in {elapsed_ms:.1f} ms; {holes:.1f}% holes; wrote {args.out}")
    return 0


def _move_pose(forward: float, right: float, up: float, yaw_deg: float) -> torch.Tensor:
    """World-to-camera ``[3, 4]`` of a camera moved from the identity (camera +y is down)."""
    import torch

    angle = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(angle), 0.0, -math.sin(angle)], [0.0, 1.0, 0.0],
                             [math.sin(angle), 0.0, math.cos(angle)]])
    centre = torch.tensor([right, -up, forward])
    return torch.cat([rotation, (-rotation @ centre).unsqueeze(1)], dim=1)


def _check_image_output(path: str) -> str:
    """The Pillow format that ``path``'s suffix names; one-line errors for others or an unusable path."""
    from viewgen.staging import check_file_destination

    image_format = IMAGE_FORMATS.get(Path(path).suffix.lower())
    if image_format is None:
        raise ValueError(f"--out {path}: write a {', '.join(IMAGE_FORMATS)} file (the suffix picks the format)")
    check_file_destination(Path(path))
    return image_format


def _write_image(path: str, image: torch.Tensor, image_format: str) -> None:
    """``image [3, H, W]`` in [0, 1] -> ``path`` in ``image_format``, through a hidden file."""
    from PIL import Image

    from viewgen.io.images import to_uint8_hwc

    pixels = Image.fromarray(to_uint8_hwc(image))
    options = {"quality": 95} if image_format == "JPEG" else {}
    write_outputs([(Path(path), lambda hidden: pixels.save(hidden, format=image_format, **options))])
