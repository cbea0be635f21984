"""Implementations of the ``viewgen`` subcommands (imported lazily by ``viewgen.cli.main``)."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from argparse import Namespace
from collections.abc import Callable, Sequence
from pathlib import Path

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
                       if (config.parent.parent / "style_encoder" / "config.json").is_file()
                       and not any(part.startswith(".") for part in config.relative_to(home).parts))  # unfinished
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


IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def check_output_file(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """The file that writing ``path`` replaces; one-line errors for another suffix or an unusable destination.

    Refused before any work (no side effects): a suffix not in ``suffixes``, a file where a folder
    above ``path`` should be, a folder, a read-only file (:func:`viewgen.staging.check_file_destination`).
    """
    from viewgen.staging import check_file_destination

    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path} must end in {' or '.join(suffixes)}")
    return check_file_destination(path)


def write_outputs(writes: Sequence[tuple[Path, Callable[[Path], object]]]) -> None:
    """Publish files whole: ``write(hidden)`` each under a hidden name beside it, then rename all into place.

    ``writes`` pairs the user's path with a function writing that file at the path it is given.
    A link is followed (its target replaced, the link kept); missing parent folders are created.
    On an error or an interrupt no file is replaced and no hidden file is left; an ``OSError``
    names the user's path and the cause in one line.
    """
    import secrets

    from viewgen.staging import WriteError, check_file_destination, describe_os_error

    targets = [check_file_destination(path) for path, _ in writes]  # again: the caller checked before the work
    hidden = [target.parent / f".{target.name}.{secrets.token_hex(4)}.partial{target.suffix}" for target in targets]
    current = None
    try:
        for (_current, write), target, temporary in zip(writes, targets, hidden):
            target.parent.mkdir(parents=True, exist_ok=True)
            write(temporary)
        for _, target, temporary in zip(writes, targets, hidden):
            os.replace(temporary, target)
    except OSError as error:
        raise WriteError(current, describe_os_error(error)) from None
    finally:
        for temporary in hidden:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


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


def run_warp(args: Namespace) -> int:
    from viewgen.data.toy_scene import toy_landscape_rgbd
    from viewgen.geometry import default_intrinsics
    from viewgen.io.limits import WORKING_MAX_SIDE
    from viewgen.rendering import warp_rgbd
    from viewgen.runtime import tune_cpu_allocator

    image_format = _check_image_output(args.out)
    tune_cpu_allocator()
    if args.input:
        from viewgen.io.rgbd_files import load_rgbd_file

        loaded = load_rgbd_file(args.input, max_side=WORKING_MAX_SIDE)  # shrunk as `viewgen fly` does
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


def run_convert_infinite_nature(args: Namespace) -> int:
    from viewgen.convert import convert_infinite_nature_checkpoint

    summary = convert_infinite_nature_checkpoint(args.prefix, args.out_dir)
    print(f"converted {summary.num_variables_converted} variables ({summary.num_values_converted:,} values) "
          f"to {summary.out_dir}")
    return 0
