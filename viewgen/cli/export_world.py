"""``viewgen export-world FLIGHT_DIR --out DIR [--formats points,mesh,splats,cameras] [--voxel X] [--stride N]``.

Reads a flight record folder (``frame_00000.png`` ..., the 16-bit ``disparity_00000.png`` ... of
``viewgen fly --out DIR --save-disparity`` and ``cameras.json``: :mod:`viewgen.io.world_record`) and
writes the world the flight flew through into the folder DIR: ``points.ply``, ``mesh.ply``,
``splats.ply`` (3D Gaussian splats), ``cameras.txt`` (RealEstate10K), ``transforms.json`` with
``images/`` (nerfstudio). Formats, axes and fusion rules: :mod:`viewgen.io.world_files` and
``docs/world.md``.

DIR is checked before any work (not the current folder, not a file, no foreign files in it) and
written whole: a bad input, an error or a Ctrl-C leaves nothing written (an existing DIR as it was).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

FORMAT_NAMES = ("points", "mesh", "splats", "cameras")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``export-world`` on the ``viewgen`` subcommand parsers; returns its parser."""
    parser = subparsers.add_parser(
        "export-world", help="write the world a flight flew through as points, a mesh, splats and cameras",
        description="Fuse a flight's frames (PNG frames, 16-bit disparity PNGs and cameras.json) into a point "
                    "cloud, a mesh and 3D Gaussian splats (.ply, +y up) and write its cameras for RealEstate10K "
                    "and nerfstudio tools, all into one folder.")
    parser.add_argument("flight", metavar="FLIGHT_DIR",
                        help="a flight folder: frame_*.png, disparity_*.png and cameras.json "
                             "(viewgen fly --out DIR --save-disparity)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (replaced whole)")
    parser.add_argument("--formats", type=_formats, default=FORMAT_NAMES, metavar="LIST",
                        help="comma-separated, any of points,mesh,splats,cameras (default: all)")
    parser.add_argument("--voxel", type=_voxel, default=None, metavar="X",
                        help="voxel size for merging points, in scene units (default: one pixel's footprint at "
                             "the median depth; 0 keeps every point)")
    parser.add_argument("--stride", type=_stride, default=1, metavar="N",
                        help="use every N-th pixel row and column of each frame (default 1)")
    parser.add_argument("--keep-sky", action="store_true",
                        help="keep the pixels at the far clip (depth 100: the sky), dropped by default")
    parser.set_defaults(run=run)
    return parser


def _formats(text: str) -> tuple[str, ...]:
    """argparse type of ``--formats``: a comma-separated subset of :data:`FORMAT_NAMES`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMAT_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--formats takes a comma-separated list of {','.join(FORMAT_NAMES)}, "
                                         f"got {text!r}")
    return tuple(name for name in FORMAT_NAMES if name in names)


def _voxel(text: str) -> float:
    """argparse type of ``--voxel``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"--voxel must be a size >= 0 in scene units, got {text!r}")
    return value


def _stride(text: str) -> int:
    """argparse type of ``--stride``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--stride must be a whole number >= 1, got {text!r}")
    return value


def _summary(result) -> str:
    """The closing line: counts of what was written and the folder."""
    parts = []
    if result.num_points:
        parts.append(f"{result.num_points:,} points")
    if "mesh.ply" in result.files:
        parts.append(f"{result.num_faces:,} faces ({result.num_mesh_vertices:,} vertices)")
    if "splats.ply" in result.files:
        parts.append(f"{result.num_splats:,} splats")
    if result.num_cameras:
        parts.append(f"{result.num_cameras} cameras")
    voxel = f", voxel {result.voxel:.3g}" if result.num_points or result.num_splats else ""
    return (f"wrote {result.folder}: {', '.join(parts) or 'nothing'} from {result.num_frames} frames "
            f"(stride {result.stride}{voxel}; {' '.join(result.files)})")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from viewgen.io.world_files import check_world_folder, read_flight_record, write_world

    out = Path(args.out).expanduser()
    check_world_folder(out)  # before any work
    flight = Path(args.flight).expanduser()
    bar = {"file": sys.stderr, "dynamic_ncols": True, "disable": not sys.stderr.isatty(), "leave": False}
    with tqdm(unit="frame", desc="reading", **bar) as progress:
        record = read_flight_record(flight, progress=progress.update)
    with tqdm(total=len(record), unit="frame", desc="fusing", **bar) as progress:
        result = write_world(out, record, voxel=args.voxel, stride=args.stride, formats=args.formats,
                             keep_sky=args.keep_sky, name=flight.resolve().name, progress=progress.update)
    print(_summary(result))
    return 0
