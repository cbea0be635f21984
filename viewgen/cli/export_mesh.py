"""``viewgen export-mesh INPUT --out scene.ply [--ascii] [--keep-edges] [--max-side N]``.

Writes the colored grid mesh that the renderer builds from an RGBD input to a PLY file that
opens in Blender / MeshLab (see :mod:`viewgen.io.ply` for the axes and the edge masking).

INPUT is anything ``viewgen fly`` accepts (:func:`viewgen.pipelines.inputs.resolve_input`): an
RGBD file (``.npz``, ``.npy``, an original ``autocruise_input*.pkl``), ``sample:N``, or a photo
with ``--depth NAME``. Intrinsics come from the input, else the default
``[0.8, 0.8 W / H, 0.5, 0.5]``; a pose stored in the input places the mesh in its world frame,
else the camera is the identity.

The mesh has one vertex per pixel, so its size is bounded: an input whose longer side is above
``--max-side`` (default 1024, at most :data:`~viewgen.io.limits.MAX_MESH_SIDE` = 2048) is
area-averaged to fit first; 1024 x 1024 gives about 1 M vertices, 2 M faces and a 40 MB file.

``--out`` is checked before any work (not under a file, not a folder, not a read-only file), written
under a hidden name beside it and renamed into place when complete: a failed or interrupted run
leaves an existing file as it was (:func:`viewgen.cli.outputs.write_outputs`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewgen.io.limits import DEFAULT_MESH_SIDE, MAX_MESH_SIDE

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``export-mesh`` on the ``viewgen`` subcommand parsers; returns its parser."""
    parser = subparsers.add_parser(
        "export-mesh", help="write an RGBD image's 3D mesh (as the renderer builds it) to a .ply file",
        description="Write the colored grid mesh the renderer builds from an RGBD input to a PLY file "
                    "(+y up, the camera looking down -z, as Blender and MeshLab expect).")
    parser.add_argument("input", metavar="INPUT",
                        help="RGBD .npz/.npy, an original autocruise_input*.pkl, sample:N (a bundled sample) "
                             "or a photo (its disparity from --depth)")
    parser.add_argument("--depth", default=None, metavar="NAME", help="depth backend for photo inputs")
    parser.add_argument("--out", default="scene.ply", help="the .ply file to write (default: scene.ply)")
    parser.add_argument("--ascii", action="store_true", help="write an ASCII PLY instead of binary")
    parser.add_argument("--keep-edges", action="store_true",
                        help="keep the triangles across depth edges, which the renderer drops")
    parser.add_argument("--max-side", type=_max_side, default=DEFAULT_MESH_SIDE, metavar="N",
                        help=f"shrink the input so its longer side is at most N pixels, one vertex each "
                             f"(default {DEFAULT_MESH_SIDE}, at most {MAX_MESH_SIDE})")
    parser.set_defaults(run=run)
    return parser


def _max_side(text: str) -> int:
    """argparse type of ``--max-side``: an int in [2, MAX_MESH_SIDE]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--max-side must be a whole number, got {text!r}") from None
    if not 2 <= value <= MAX_MESH_SIDE:
        raise argparse.ArgumentTypeError(f"--max-side must be in [2, {MAX_MESH_SIDE}], got {value}")
    return value


def _fit_mesh_grid(rgbd, max_side: int):
    """``[1, 4, H, W]`` area-averaged so its longer side is at most ``max_side`` (unchanged if it fits)."""
    import torch.nn.functional as F

    from viewgen.io.limits import fit_long_side

    size = fit_long_side(*rgbd.shape[-2:], max_side)
    if size == tuple(rgbd.shape[-2:]):
        return rgbd
    height, width = rgbd.shape[-2:]
    print(f"shrinking the input from {width}x{height} to {size[1]}x{size[0]} for the mesh (--max-side {max_side})",
          file=sys.stderr)
    return F.interpolate(rgbd, size=size, mode="area")


def run(args: argparse.Namespace) -> int:
    from viewgen.cli.outputs import check_output_file, write_outputs
    from viewgen.geometry import default_intrinsics
    from viewgen.io.ply import export_mesh_ply
    from viewgen.pipelines.inputs import resolve_input

    out = Path(args.out).expanduser()
    check_output_file(out, "--out", (".ply",))  # before any work
    source = resolve_input(args.input, depth=args.depth).rgbd_input
    for warning in source.warnings:
        print(f"viewgen: warning: {warning}", file=sys.stderr)
    height, width = source.rgbd.shape[-2:]  # intrinsics are normalized: the same for the shrunk grid
    intrinsics = source.intrinsics if source.intrinsics is not None else default_intrinsics(height, width)
    rgbd = _fit_mesh_grid(source.rgbd, args.max_side)
    written = []

    def write(hidden: Path) -> None:
        written.append(export_mesh_ply(hidden, rgbd, intrinsics, source.cam_from_world,
                                       mask_edges=not args.keep_edges, binary=not args.ascii))

    write_outputs([(out, write)])
    kind = "ASCII" if args.ascii else "binary"
    edges = "depth edges kept" if args.keep_edges else "depth edges removed"
    print(f"wrote {out}: {written[0].num_vertices} vertices, {written[0].num_faces} faces ({kind} PLY, {edges})")
    return 0
