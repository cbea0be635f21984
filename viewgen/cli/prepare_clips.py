"""``viewgen prepare-clips DIR --depth NAME``: every frame's disparity and each clip's units, cached for training."""

from __future__ import annotations

import sys
import time
from argparse import Namespace

__all__ = ["add_depth_arguments", "add_parser", "load_depth_backend", "progress_bar", "run"]


def add_parser(subparsers) -> None:
    """Register ``prepare-clips`` on the ``viewgen`` subcommand parsers."""
    command = subparsers.add_parser(
        "prepare-clips", help="estimate and cache every frame's disparity of posed clips (RealEstate10K / ACID) "
                              "for training",
        description="For every clip DIR/<split>/<clip>.txt whose frames are extracted (<clip>/<timestamp>.png or "
                    ".jpg), estimate each frame's disparity with the depth backend --depth (min-max normalised, as "
                    "Infinite Nature's), write it beside the frame as <timestamp>_disparity.png (16-bit), and fit "
                    "the clip's units (the pose scale and each frame's disparity map into frame 0's unit) into "
                    "<clip>/prepared.json, written last. Clips already prepared with the same backend and "
                    "synthetic clips (viewgen synth: exact disparity) are skipped, so running it again resumes. "
                    "Then `viewgen train infinite-nature --data DIR` trains on the clips (docs/training.md).")
    command.add_argument("root", metavar="DIR", help="the dataset folder (<split>/<clip>.txt and frame folders)")
    add_depth_arguments(command)
    command.add_argument("--split", default=None, help="only this split folder (default: every split)")
    command.set_defaults(run=run)


def add_depth_arguments(command) -> None:
    """``--depth NAME``, ``--weights PATH`` and ``--device DEV``: the depth backend a preparing command runs."""
    from viewgen.depth.registry import DEFAULT_BACKEND

    command.add_argument("--depth", default=DEFAULT_BACKEND, metavar="NAME",
                         help=f"depth backend (default {DEFAULT_BACKEND}; see viewgen depth --help)")
    command.add_argument("--weights", default=None, metavar="PATH", help="the backend's weights file or folder")
    command.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")


def load_depth_backend(args: Namespace, command: str, item: str = "frame"):
    """The depth estimator of ``args.depth`` on ``args.device`` (``args.weights``); one-line ``ValueError`` for
    ``file:PATH``, which gives one map for every ``item``."""
    from viewgen.depth import get_estimator

    if args.depth.startswith("file:"):
        raise ValueError(f"--depth file:PATH gives one disparity map; {command} needs a backend that estimates "
                         f"every {item} (e.g. midas-v21)")
    return get_estimator(args.depth, device=args.device, weights=args.weights)


def progress_bar(unit: str, desc: str):
    """A tqdm bar on stderr, shown on a terminal only; set its ``total`` once known, ``update(1)`` per item."""
    from tqdm import tqdm

    return tqdm(unit=unit, file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty(), desc=desc)


def run(args: Namespace) -> int:
    from viewgen.data.posed_clips import list_clips
    from viewgen.data.prepared_clips import prepare_clips
    from viewgen.evaluation.posed_clip_truth import MIN_SCALE_GAIN

    list_clips(args.root, args.split)  # a missing folder fails before the backend loads
    started = time.perf_counter()
    estimator = load_depth_backend(args, "prepare-clips")
    with progress_bar("frame", "prepare-clips") as bar:
        summary = prepare_clips(args.root, estimator, args.depth, args.split, on_frame=lambda: bar.update(1),
                                on_start=lambda total: setattr(bar, "total", total))
    seconds = time.perf_counter() - started
    lowest = ""
    if summary.lowest_scale_gain is not None:
        lowest = f"; lowest pose-scale gain {summary.lowest_scale_gain:.2f}"
        if summary.lowest_scale_gain < MIN_SCALE_GAIN:
            lowest += " (a clip whose motion's size the frames do not tell: see docs/training.md)"
    print(f"prepared {summary.prepared} clip(s) of {args.root} with {args.depth} ({summary.frames} frames in "
          f"{seconds:.1f} s); {summary.skipped} already prepared or synthetic, {summary.without_frames} without "
          f"frames{lowest}")
    return 0
