"""``viewgen synth-objects``: render the synthetic object world in Apple's ENR dataset layout."""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

from viewgen.cli.options import seed_type

__all__ = ["add_parser", "run"]

MAX_SIZE = 1024


def add_parser(subparsers) -> None:
    """Register ``synth-objects`` on the ``viewgen`` subcommand parsers."""
    command = subparsers.add_parser(
        "synth-objects", help="render procedural objects from cameras on a sphere (Apple's ENR dataset layout)",
        description="Build seeded procedural objects (chairs, tables, cars, mugs in turn) and render each from "
                    "--views cameras on a sphere (azimuth 0-360, elevation -10-50 degrees) into "
                    "OUT/<split>/<NNNNN>-<kind>/NNNNN.png with one render_params.json per scene, as Apple's ENR "
                    "datasets are laid out (docs/enr.md). OUT/<split> is written whole; a folder holding other "
                    "files is refused; an interrupt leaves it as it was.")
    command.add_argument("--scenes", type=int, default=8, metavar="N", help="number of objects (default 8)")
    command.add_argument("--views", type=int, default=24, metavar="V", help="views per object (default 24)")
    command.add_argument("--size", type=int, default=128, metavar="S", help="square image side (default 128)")
    command.add_argument("--out", required=True, metavar="DIR", help="dataset folder")
    command.add_argument("--split", default="train", help="split folder under DIR (default train)")
    command.add_argument("--seed", type=seed_type, default=0, metavar="S", help="seed of objects and views (default 0)")
    command.set_defaults(run=run)


def run(args: Namespace) -> int:
    from tqdm import tqdm

    from viewgen.cli.signals import interrupt_exit_status
    from viewgen.data.objects import export_object_scenes

    if not 16 <= args.size <= MAX_SIZE:
        raise ValueError(f"--size must be between 16 and {MAX_SIZE}, got {args.size}")
    began = time.perf_counter()
    folder = Path(args.out) / args.split
    try:
        with tqdm(total=args.scenes, unit="scene", file=sys.stderr, leave=False,
                  disable=not sys.stderr.isatty()) as progress:
            export_object_scenes(args.out, args.scenes, args.views, args.size, args.seed, args.split,
                                 progress=progress.update)
    except KeyboardInterrupt as interrupt:
        status = interrupt_exit_status(interrupt)
        print(f"viewgen: {'interrupted' if status == 130 else 'terminated'}: nothing was changed in {folder}",
              file=sys.stderr)
        return status
    elapsed = time.perf_counter() - began
    images = args.scenes * args.views
    print(f"wrote {args.scenes} scenes, {images} views of {args.size}x{args.size} to {folder} in {elapsed:.1f} s "
          f"({images / max(elapsed, 1e-9):.1f} views/s)")
    return 0
