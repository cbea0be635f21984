"""Export the world a flight flew through: points, a mesh, Gaussian splats and cameras, as one folder.

:func:`write_world` turns a :class:`WorldRecord` (``rgbd [N, 4, H, W]``, ``cam_from_world [N, 3, 4]``,
``intrinsics [N, 4]``) into files that other tools open::

    DIR/points.ply        fused coloured point cloud: vertex (float x, y, z; uchar red, green, blue)
    DIR/mesh.ply          fused mesh: vertex (float x, y, z; uchar red, green, blue), face (list uchar int)
    DIR/splats.ply        3D Gaussian splats, the 3DGS point_cloud.ply layout (62 float32 per splat)
    DIR/cameras.txt       RealEstate10K camera file (world-to-camera [R | t], OpenCV, normalized intrinsics)
    DIR/transforms.json   nerfstudio / instant-ngp cameras (camera-to-world, OpenGL camera axes, pixels)
    DIR/images/           frame_00000.png ..., the RGB frames transforms.json names

``formats`` picks among ``points``, ``mesh``, ``splats`` and ``cameras`` (the last three files). How
points are fused and which triangles are kept: :mod:`viewgen.io.world_points`; the splat encoding:
:mod:`viewgen.io.world_splats`; the camera files: :mod:`viewgen.io.world_cameras`; the flight record
folder (frames, 16-bit disparity PNGs and ``cameras.json``) that ``viewgen export-world`` reads:
:mod:`viewgen.io.world_record`.

Axes. The PLYs hold ``p_file = diag(1, -1, -1) @ p_world``, the OpenGL-style axes of
:mod:`viewgen.io.ply` (+x right, +y up, +z backward; a half turn about x, no mirroring): the identity
camera sits at the origin looking down -z, so a fronto-parallel plane at depth ``d`` in front of it has
``z = -d``. ``transforms.json`` uses the same world axes with nerfstudio's camera axes, so it lines up
with the PLYs; ``cameras.txt`` keeps viewgen's own world and OpenCV cameras, exactly as RealEstate10K does.

Size. ``stride`` keeps every ``stride``-th pixel row and column of each frame. Before any work the
sample counts are bounded (:data:`MAX_POINT_SAMPLES` unprojected samples for points and splats,
``max_mesh_vertices`` for the mesh, both counted as ``N * ceil(H / stride) * ceil(W / stride)``);
above them a one-line ``ValueError`` names the stride that fits.

The folder is written whole: into a hidden folder beside ``DIR`` that replaces ``DIR`` when complete
(:mod:`viewgen.staging`), so an error or an interrupt leaves nothing half-written. An existing ``DIR``
may hold only an earlier export's files; anything else is refused before any work.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewgen.errors import InputError
from viewgen.io.ply import OPENGL_FROM_OPENCV, GridMesh, colored_vertex_records, write_ply, write_ply_elements
from viewgen.io.world_cameras import IMAGES_FOLDER, write_camera_txt, write_transforms
from viewgen.io.world_points import (
    DEFAULT_MAX_STRETCH,
    FusedPoints,
    focal_pixels,
    frame_grid,
    frame_mesh,
    fuse_points,
    strided_size,
)
from viewgen.io.world_record import (
    Progress,
    WorldRecord,
    cameras_json_payload,
    check_output_folder,
    read_flight_record,
    write_flight_record,
)
from viewgen.io.world_splats import write_splats_ply
from viewgen.staging import build_and_publish

__all__ = ["DEFAULT_MAX_MESH_VERTICES", "FORMATS", "MAX_POINT_SAMPLES", "WorldExport", "WorldRecord",
           "cameras_json_payload", "check_world_folder", "read_flight_record", "write_flight_record",
           "write_world"]

FORMATS = ("points", "mesh", "splats", "cameras")
MAX_POINT_SAMPLES = 8_000_000  # measured ~340 bytes a sample at the peak with splats: under 3 GB
DEFAULT_MAX_MESH_VERTICES = 4_000_000  # under 170 MB of PLY (8 M faces), ~1 GB at the peak
_EXPORT_FILES = {"points.ply", "mesh.ply", "splats.ply", "cameras.txt", "transforms.json"}  # and images/
_FILE_AXES = "axes: +x right, +y up, +z backward (OpenGL); the identity camera looks down -z"


@dataclass(frozen=True)
class WorldExport:
    """What :func:`write_world` wrote.

    folder: the folder. files: its entries, in write order (``images/`` for the frames folder).
    num_frames: frames exported. num_points / num_splats: points and splats written (0 when not asked);
    num_mesh_vertices / num_faces: the mesh's; num_cameras: cameras written.
    bounds: ``(min [3], max [3])`` of every point and mesh vertex written, in the PLYs' axes; None without any.
    voxel: the voxel side the points were fused with (world units; 0: none). stride: the pixel stride.
    """

    folder: Path
    files: tuple[str, ...]
    num_frames: int
    num_points: int
    num_splats: int
    num_mesh_vertices: int
    num_faces: int
    num_cameras: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]] | None
    voxel: float
    stride: int


def _is_export_entry(entry: Path) -> bool:
    """An earlier export's file (or its ``images/`` folder of ``frame_NNNNN.png`` only)."""
    if entry.is_symlink():
        return False
    if entry.name == IMAGES_FOLDER and entry.is_dir():
        return all(child.is_file() and not child.is_symlink() and child.name.startswith("frame_")
                   and child.suffix == ".png" for child in entry.iterdir())
    return entry.is_file() and entry.name in _EXPORT_FILES


def check_world_folder(out_dir: str | Path) -> Path:
    """The folder :func:`write_world` would replace; one-line ``OSError`` if it must not (no side effects)."""
    return check_output_folder(out_dir, _is_export_entry, "a world export")


def _check_options(record: WorldRecord, formats: Sequence[str], stride: int, voxel: float | None,
                   max_mesh_vertices: int) -> tuple[str, ...]:
    """``formats`` in canonical order; one-line ``InputError`` for bad options or an export too big."""
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise InputError(f"formats must be some of {', '.join(FORMATS)}, got {', '.join(map(str, formats)) or 'none'}")
    if not isinstance(stride, numbers.Integral) or isinstance(stride, bool) or stride < 1:
        raise InputError(f"stride must be a whole number >= 1, got {stride!r}")
    if voxel is not None and not (isinstance(voxel, numbers.Real) and 0 <= voxel < float("inf")):
        raise InputError(f"voxel must be a size >= 0 in world units (0: keep every point), got {voxel!r}")
    height, width = record.size
    for wanted, limit, what in ((("points", "splats"), MAX_POINT_SAMPLES, "points"),
                                (("mesh",), max_mesh_vertices, "mesh vertices")):
        if set(wanted) & set(formats):
            _check_count(len(record), height, width, stride, limit, what)
    return tuple(name for name in FORMATS if name in formats)


def _check_count(frames: int, height: int, width: int, stride: int, limit: int, what: str) -> None:
    """One-line ``InputError`` when ``frames`` frames at ``stride`` could give more than ``limit`` samples."""
    rows, columns = strided_size(height, width, stride)
    if frames * rows * columns <= limit:
        return
    fits = stride
    while fits < max(height, width) and frames * np.prod(strided_size(height, width, fits)) > limit:
        fits += 1
    fix = "fewer frames" if frames * np.prod(strided_size(height, width, fits)) > limit else \
        f"stride {fits} (--stride {fits}) or fewer frames"
    raise InputError(f"the export would have up to {frames * rows * columns:,} {what} ({frames} frames of "
                     f"{columns}x{rows} samples), more than the limit of {limit:,}: use {fix}")


def _fuse(record: WorldRecord, formats: tuple[str, ...], options: dict,
          progress: Progress) -> tuple[FusedPoints | None, GridMesh | None]:
    """One pass over the frames: the fused points (if points or splats are wanted) and the mesh (if wanted).

    ``options``: ``stride``, ``voxel``, ``max_stretch``, ``keep_sky`` (and ``name``) of :func:`write_world`.
    """
    focal_px, stride = focal_pixels(record), options["stride"]
    grids, pieces = [], []
    for index in range(len(record)):
        if {"points", "splats", "mesh"} & set(formats):
            grid = frame_grid(record, index, stride, options["keep_sky"])
            if "points" in formats or "splats" in formats:
                grids.append(grid.kept())  # only what fusing needs stays in memory
            if "mesh" in formats:
                pieces.append(frame_mesh(grid, float(focal_px[index]), stride, options["max_stretch"]))
        if progress is not None:
            progress(1)
    points = fuse_points(grids, focal_px, stride, options["voxel"]) if grids else None
    return points, (_merge_meshes(pieces) if "mesh" in formats else None)


def _merge_meshes(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> GridMesh:
    """Per-frame ``(positions, rgb, faces)`` -> one :class:`GridMesh` in the file's axes, faces re-indexed."""
    offsets = np.cumsum([0] + [len(positions) for positions, _, _ in pieces])
    positions = np.concatenate([positions for positions, _, _ in pieces])
    rgb = np.concatenate([rgb for _, rgb, _ in pieces])
    faces = np.concatenate([faces + offset for (_, _, faces), offset in zip(pieces, offsets)])
    return GridMesh(vertices=(positions @ OPENGL_FROM_OPENCV.T).astype(np.float32),
                    colors=np.round(rgb * 255).astype(np.uint8), faces=faces.astype(np.int64))


def _bounds(points: FusedPoints | None, mesh: GridMesh | None):
    parts = [] if points is None else [points.positions @ OPENGL_FROM_OPENCV.T]
    parts += [] if mesh is None else [mesh.vertices.astype(np.float64)]
    everything = np.concatenate(parts) if parts else np.zeros((0, 3))
    if not len(everything):
        return None
    return tuple(everything.min(axis=0).tolist()), tuple(everything.max(axis=0).tolist())


def _write_points(path: Path, points: FusedPoints, record: WorldRecord, stride: int) -> None:
    vertices = (points.positions @ OPENGL_FROM_OPENCV.T).astype(np.float32)
    colors = np.round(points.rgb * 255).astype(np.uint8)
    comments = (f"viewgen export-world: {len(record)} frames fused, every {stride} pixel(s), edges dropped, "
                f"voxel {points.voxel:.6g} (nearest sample kept)", _FILE_AXES)
    write_ply_elements(path, (("vertex", colored_vertex_records(vertices, colors)),), comments=comments)


def _write_files(folder: Path, record: WorldRecord, formats: tuple[str, ...], points: FusedPoints | None,
                 mesh: GridMesh | None, options: dict) -> list[str]:
    """Write the files of ``formats`` into ``folder`` (a staging folder); returns their names in write order."""
    stride, files = options["stride"], []
    if "points" in formats:
        _write_points(folder / "points.ply", points, record, stride)
        files.append("points.ply")
    if "mesh" in formats:
        write_ply(folder / "mesh.ply", mesh, comments=(
            f"viewgen export-world: {len(record)} frames' grid meshes, every {stride} pixel(s), edge and "
            f"stretched (> {options['max_stretch']:g} footprints) triangles dropped", _FILE_AXES))
        files.append("mesh.ply")
    if "splats" in formats:
        write_splats_ply(folder / "splats.ply", points, record, stride)
        files.append("splats.ply")
    if "cameras" in formats:
        write_camera_txt(folder / "cameras.txt", record, options["name"])
        points_file = "points.ply" if "points" in formats else None
        files.extend(["cameras.txt", *write_transforms(folder, record, points_file)])
    return files


def write_world(out_dir: str | Path, record: WorldRecord, *, voxel: float | None = None, stride: int = 1,
                formats: Sequence[str] = FORMATS, max_mesh_vertices: int = DEFAULT_MAX_MESH_VERTICES,
                max_stretch: float = DEFAULT_MAX_STRETCH, keep_sky: bool = False, name: str = "viewgen flight",
                progress: Progress = None) -> WorldExport:
    """Export the world of ``record`` into the folder ``out_dir`` (see the module doc for the files).

    Args:
        out_dir: the folder to write (replaced whole; an existing one may hold only an earlier export).
        record: the flight (:class:`WorldRecord`).
        voxel: voxel side for deduplicating points (world units); ``None``: the median strided pixel
            footprint (:func:`viewgen.io.world_points.default_voxel`); 0: keep every sample.
        stride: keep every ``stride``-th pixel row and column of each frame.
        formats: any of ``"points"``, ``"mesh"``, ``"splats"``, ``"cameras"``.
        max_mesh_vertices: refuse a mesh that could have more vertices (the error names a stride that fits).
        max_stretch: drop mesh triangles whose longest edge exceeds this many cell footprints.
        keep_sky: keep the samples at the far clip (disparity <= 0.01, depth 100), dropped by default.
        name: the first line of ``cameras.txt``.
        progress: called with 1 after each frame is processed.

    Returns a :class:`WorldExport`. Raises :class:`~viewgen.errors.InputError` (a ``ValueError``) for bad
    options or an export above the limits and ``OSError`` for a folder that cannot be written, all in one
    line and before any file is written.
    """
    formats = _check_options(record, formats, stride, voxel, max_mesh_vertices)
    shown = Path(out_dir).expanduser()
    target = check_world_folder(shown)
    stride, voxel = int(stride), None if voxel is None else float(voxel)
    options = {"stride": stride, "voxel": voxel, "max_stretch": max_stretch, "keep_sky": keep_sky, "name": name}
    points, mesh = _fuse(record, formats, options, progress)
    files: list[str] = []

    def fill(folder: Path) -> None:
        files[:] = _write_files(folder, record, formats, points, mesh, options)

    build_and_publish(target, fill, "a world export", shown)
    return WorldExport(folder=shown, files=tuple(files), num_frames=len(record),
                       num_points=len(points) if "points" in formats else 0,
                       num_splats=len(points) if "splats" in formats else 0,
                       num_mesh_vertices=0 if mesh is None else len(mesh.vertices),
                       num_faces=0 if mesh is None else len(mesh.faces),
                       num_cameras=len(record) if "cameras" in formats else 0, bounds=_bounds(points, mesh),
                       voxel=points.voxel if points is not None else 0.0, stride=stride)
