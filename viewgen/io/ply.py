"""Export an RGBD image as the colored grid mesh the renderer draws, to a PLY file.

The mesh is exactly what :func:`viewgen.rendering.warp_rgbd` rasterizes: one vertex per pixel
centre, unprojected to depth ``1 / clip(disparity, 0.01, 1)`` with the normalized intrinsics;
two triangles per cell in the renderer's order (``[tl, bl, tr]``, ``[br, tr, bl]``, see
:func:`viewgen.rendering.mesh.grid_faces`); and, unless ``mask_edges=False``, the renderer's
Sobel edge mask (:func:`viewgen.rendering.mesh.sobel_edge_mask`) applied by dropping every
vertex where it is 0 together with every face that touches one, which are the triangles the
renderer shows as holes.

Axes of the written file: viewgen works in OpenCV camera axes (+x right, +y down, +z forward).
Mesh viewers (MeshLab, three.js, Blender's PLY import with its default "Y up, -Z forward")
expect OpenGL-style axes: +y up, and a camera looking down -z. So the file holds
``p_file = diag(1, -1, -1) @ p_world`` with ``p_world = R^T (p_cam - t)`` for
``cam_from_world = [R | t]``, a half turn about x (a rotation, so no mirroring). With the
default identity pose the camera sits at the origin looking down -z with +y up. The renderer's
triangle order is counter-clockwise as seen from the camera, so face normals (right-hand rule)
point towards the viewer.

PLY layout: ``vertex`` with ``float x, y, z`` and ``uchar red, green, blue``; ``face`` with
``list uchar int vertex_indices``. Binary little-endian by default, ASCII on request. The file
is written to a temporary name beside ``path`` and renamed when complete (parents created);
errors are one line naming ``path`` (:func:`write_ply`).

Shared with the fused exports of :mod:`viewgen.io.world_files`: :func:`unproject_to_world` and
:func:`edge_keep_mask` (the renderer's vertices and edge mask of one frame), and
:func:`write_ply_elements`, which writes any elements given as numpy structured arrays (a scalar
field per property, a fixed-length field as a ``list uchar`` property). The PLY writer is our own
because it is a header and a ``tobytes`` of packed records; ``plyfile`` (the tests' reader) would
add a dependency for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

from viewgen.geometry.disparity import depth_from_disparity
from viewgen.geometry.projection import pixel_centers_uv, unproject
from viewgen.geometry.validation import check_pose
from viewgen.io.images import save_atomic
from viewgen.io.limits import MAX_MESH_SIDE
from viewgen.io.rgbd_files import validate_rgbd
from viewgen.rendering.mesh import grid_faces, sobel_edge_mask
from viewgen.staging import WriteError, check_file_destination, describe_os_error

__all__ = ["OPENGL_FROM_OPENCV", "GridMesh", "MeshExport", "colored_vertex_records", "edge_keep_mask",
           "export_mesh_ply", "rgbd_to_mesh", "unproject_to_world", "write_ply", "write_ply_elements"]

# OpenCV (+y down, +z forward) -> OpenGL (+y up, camera looking down -z): a half turn about x.
OPENGL_FROM_OPENCV = np.diag([1.0, -1.0, -1.0])

_VERTEX_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                          ("red", "u1"), ("green", "u1"), ("blue", "u1")])
_FACE_DTYPE = np.dtype([("vertex_indices", "<i4", (3,))])
# numpy scalar type -> PLY property type (little-endian, as the header says)
_PLY_TYPES = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
              "f4": "float", "f8": "double"}


@dataclass(frozen=True, eq=False)
class GridMesh:
    """A colored triangle mesh in the PLY file's axes (OpenGL-style, see the module doc).

    vertices: ``[N, 3]`` float32. colors: ``[N, 3]`` uint8 RGB. faces: ``[M, 3]`` int64 indices
    into ``vertices``, counter-clockwise as seen from the camera.
    """

    vertices: np.ndarray
    colors: np.ndarray
    faces: np.ndarray


@dataclass(frozen=True)
class MeshExport:
    """What :func:`export_mesh_ply` wrote."""

    path: Path
    num_vertices: int
    num_faces: int


def _rgbd_batch(rgbd: Tensor) -> Tensor:
    if not isinstance(rgbd, Tensor):
        raise TypeError(f"rgbd must be a torch.Tensor, got {type(rgbd).__name__}")
    if rgbd.dim() == 3:
        rgbd = rgbd.unsqueeze(0)
    validate_rgbd(rgbd, "rgbd")  # [1, 4, H, W], H, W >= 2, float, RGB and disparity in [0, 1]
    return rgbd.detach().to("cpu", torch.float32).clamp(0.0, 1.0)


def _intrinsics(intrinsics) -> Tensor:
    values = torch.as_tensor(intrinsics, dtype=torch.float32).detach().cpu().reshape(-1)
    if values.numel() != 4 or not torch.isfinite(values).all() or (values[:2] <= 0).any():
        raise ValueError(f"intrinsics must be [fx, fy, cx, cy] (normalized, positive focal lengths), "
                         f"got {values.tolist()}")
    return values


def _pose(cam_from_world) -> np.ndarray:
    if cam_from_world is None:
        return np.eye(4)[:3]
    pose = torch.as_tensor(cam_from_world).detach().cpu().double()
    if pose.dim() == 3 and pose.shape[0] == 1:
        pose = pose[0]
    check_pose(pose, "cam_from_world", "single")
    if not torch.isfinite(pose).all():
        raise ValueError("cam_from_world must be a finite world-to-camera pose, got NaN or infinite values")
    return pose[:3].numpy()


def unproject_to_world(disparity: Tensor, intrinsics: Tensor, cam_from_world: np.ndarray,
                       stride: int = 1) -> np.ndarray:
    """World points (viewgen's OpenCV world axes) of the pixel centres, as the renderer places its vertices.

    Args:
        disparity: ``[1, 1, H, W]`` float; depth is ``1 / clip(disparity, 0.01, 1)`` along the optical axis.
        intrinsics: ``[4]`` normalized ``[fx, fy, cx, cy]``.
        cam_from_world: ``[3, 4]`` float64 world-to-camera ``[R | t]``.
        stride: keep every ``stride``-th row and column (from the first), at their own pixel centres.

    Returns ``[H' * W', 3]`` float64, row-major over the kept pixels (``H' = ceil(H / stride)``). The
    camera-space points are computed in the disparity's dtype exactly as
    :func:`viewgen.rendering.mesh.grid_vertices` does, then moved by ``R^T (p - t)`` in float64.
    """
    height, width = disparity.shape[-2:]
    uv = pixel_centers_uv(height, width, dtype=disparity.dtype, device=disparity.device)[::stride, ::stride]
    depth = depth_from_disparity(disparity[0, 0, ::stride, ::stride])
    camera_points = unproject(uv.reshape(-1, 2), depth.reshape(-1), intrinsics).double().cpu().numpy()
    return (camera_points - cam_from_world[:, 3]) @ cam_from_world[:, :3]  # R^T (p - t), row-vector form


def edge_keep_mask(disparity: Tensor) -> np.ndarray:
    """``[H, W]`` bool: True where the renderer's Sobel edge mask keeps the pixel (no depth edge there).

    ``disparity`` is ``[1, 1, H, W]``, clamped to ``[1e-6, 1e5]`` first as ``warp_rgbd`` does before meshing.
    """
    return sobel_edge_mask(disparity.clamp(1e-6, 1e5))[0, 0].cpu().numpy() > 0.5


def rgbd_to_mesh(rgbd: Tensor, intrinsics, cam_from_world=None, mask_edges: bool = True) -> GridMesh:
    """The renderer's grid mesh of one RGBD image, in the PLY file's axes (see the module doc).

    Args:
        rgbd: ``[1, 4, H, W]`` or ``[4, H, W]``, RGB and disparity in [0, 1], ``H, W >= 2``.
        intrinsics: ``[4]`` (or ``[1, 4]``) normalized ``[fx, fy, cx, cy]``.
        cam_from_world: ``[3, 4]`` / ``[4, 4]`` world-to-camera pose; identity when ``None``.
        mask_edges: drop the vertices on depth edges (the renderer's Sobel mask is 0 there)
            and every face touching one, as the renderer does; ``False`` keeps everything.

    An RGBD with a side above :data:`~viewgen.io.limits.MAX_MESH_SIDE` (2048) raises ``ValueError``.
    """
    rgbd = _rgbd_batch(rgbd)
    _, _, height, width = rgbd.shape
    if max(height, width) > MAX_MESH_SIDE:
        raise ValueError(f"the RGBD is {width}x{height}: a mesh of more than {MAX_MESH_SIDE} pixels a side would be "
                         f"too big to write and to open; downscale it first (viewgen export-mesh --max-side N)")
    world_points = unproject_to_world(rgbd[:, 3:], _intrinsics(intrinsics), _pose(cam_from_world))
    vertices = (world_points @ OPENGL_FROM_OPENCV.T).astype(np.float32)
    colors = rgbd[0, :3].mul(255).round().to(torch.uint8).permute(1, 2, 0).reshape(-1, 3).numpy()
    faces = grid_faces(height, width).numpy()
    if mask_edges:
        keep = edge_keep_mask(rgbd[:, 3:]).reshape(-1)
        faces = faces[keep[faces].all(axis=1)]
        new_index = np.cumsum(keep) - 1
        vertices, colors, faces = vertices[keep], colors[keep], new_index[faces]
    return GridMesh(vertices=np.ascontiguousarray(vertices), colors=np.ascontiguousarray(colors),
                    faces=np.ascontiguousarray(faces, dtype=np.int64))


def write_ply(path: str | Path, mesh: GridMesh, binary: bool = True, comments: tuple[str, ...] = ()) -> Path:
    """Write ``mesh`` as a PLY file (binary little-endian or ASCII), atomically. Returns ``path``.

    A link is followed (its target replaced). ``OSError`` in one line naming ``path`` when it
    cannot be written: a file where a folder above it should be, a folder, a read-only file, a
    full disk (the existing file is then left as it was).
    """
    if len(mesh.vertices) >= 2**31:
        raise ValueError(f"too many vertices for a PLY with int indices: {len(mesh.vertices)}")
    faces = np.empty(len(mesh.faces), _FACE_DTYPE)
    faces["vertex_indices"] = mesh.faces
    elements = (("vertex", colored_vertex_records(mesh.vertices, mesh.colors)), ("face", faces))
    return write_ply_elements(path, elements, binary=binary, comments=comments)


def colored_vertex_records(vertices: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """``[N, 3]`` positions and ``[N, 3]`` uint8 RGB -> the ``[N]`` records of a PLY ``vertex`` element
    (``float x, y, z``, ``uchar red, green, blue``), for :func:`write_ply_elements`."""
    records = np.empty(len(vertices), _VERTEX_DTYPE)
    for axis, name in enumerate("xyz"):
        records[name] = vertices[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        records[name] = colors[:, channel]
    return records


def _ply_type(dtype: np.dtype, where: str) -> str:
    name = _PLY_TYPES.get(dtype.newbyteorder("<").str[1:] if dtype.byteorder != "|" else dtype.str[1:])
    if name is None:
        raise ValueError(f"{where}: numpy type {dtype} has no PLY property type")
    return name


def _element_layout(name: str, records: np.ndarray) -> tuple[list[str], np.dtype]:
    """The header lines of one element and its on-disk little-endian record type.

    A scalar field is a property; a fixed-length field ``(k,)`` is a ``list uchar <type>`` property,
    so the disk record gets a ``uchar`` count (always ``k``) before it.
    """
    lines, fields = [f"element {name} {len(records)}"], []
    for field in records.dtype.names:
        base, shape = records.dtype.fields[field][0].base, records.dtype.fields[field][0].shape
        kind = _ply_type(base, f"{name}.{field}")
        if shape:
            lines.append(f"property list uchar {kind} {field}")
            fields += [(f"{field}__count", "u1"), (field, base.newbyteorder("<"), shape)]
        else:
            lines.append(f"property {kind} {field}")
            fields.append((field, base.newbyteorder("<")))
    return lines, np.dtype(fields)


def _disk_records(records: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``records`` copied into the packed on-disk type of :func:`_element_layout` (list counts filled in)."""
    disk = np.empty(len(records), dtype)
    for field in dtype.names:
        if field.endswith("__count"):
            disk[field] = dtype.fields[field.removesuffix("__count")][0].shape[0]
        else:
            disk[field] = records[field]
    return disk


def _ascii_format(dtype: np.dtype) -> str:
    """One ``%`` format per scalar of a record: ``%.9g`` floats (exact for float32), ``%.17g`` doubles, ``%d`` ints."""
    formats = []
    for field in dtype.names:
        base, shape = dtype.fields[field][0].base, dtype.fields[field][0].shape
        one = "%.17g" if base.itemsize == 8 and base.kind == "f" else "%.9g" if base.kind == "f" else "%d"
        formats += [one] * (shape[0] if shape else 1)
    return " ".join(formats)


def write_ply_elements(path: str | Path, elements, binary: bool = True, comments: tuple[str, ...] = ()) -> Path:
    """Write PLY elements given as numpy structured arrays, atomically; returns ``path``.

    Args:
        path: the ``.ply`` file (a link is followed; missing parent folders are created).
        elements: ``(name, records)`` pairs in file order; each field of ``records`` becomes a property
            in field order (``<f4`` float, ``u1`` uchar, ``<i4`` int, ...), a fixed-length field
            ``(name, "<i4", (3,))`` a ``list uchar int`` property.
        binary: binary little-endian (default) or ASCII.
        comments: header comment lines (whitespace folded to single spaces).

    ``OSError`` in one line naming ``path`` when it cannot be written (see :func:`write_ply`).
    """
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0"]
    header += [f"comment {' '.join(str(line).split())}" for line in comments]
    layouts = []
    for name, records in elements:
        lines, dtype = _element_layout(name, records)
        header += lines
        layouts.append((records, dtype))
    header.append("end_header")

    def write(stream: BinaryIO) -> None:
        stream.write(("\n".join(header) + "\n").encode("ascii"))
        for records, dtype in layouts:
            disk = records if records.dtype == dtype else _disk_records(records, dtype)
            if binary:
                stream.write(np.ascontiguousarray(disk).view(np.uint8))  # the records' own memory when packed
            elif len(disk):
                from numpy.lib.recfunctions import structured_to_unstructured

                np.savetxt(stream, structured_to_unstructured(disk, dtype=np.float64), fmt=_ascii_format(dtype))

    target = check_file_destination(Path(path))  # a link's target; not under a file, not a read-only file
    try:
        save_atomic(target, write, suffix=".ply")
    except OSError as error:
        raise WriteError(path, describe_os_error(error)) from None
    return Path(path)


def export_mesh_ply(path: str | Path, rgbd: Tensor, intrinsics, cam_from_world=None, mask_edges: bool = True,
                    binary: bool = True) -> MeshExport:
    """Write the renderer's colored grid mesh of ``rgbd`` to a PLY file (see the module doc).

    Args:
        path: the ``.ply`` to write (atomically; missing parent folders are created).
        rgbd: ``[1, 4, H, W]`` or ``[4, H, W]``, RGB and disparity in [0, 1].
        intrinsics: ``[4]`` normalized ``[fx, fy, cx, cy]``.
        cam_from_world: ``[3, 4]`` world-to-camera pose of the RGBD's camera (identity if ``None``);
            vertices are written in that world frame, turned to OpenGL-style axes
            (``diag(1, -1, -1)``: +y up, the identity camera looking down -z).
        mask_edges: drop the vertices on depth edges and their faces, as the renderer does.
        binary: binary little-endian PLY (default) or ASCII.

    Returns a :class:`MeshExport` with the path and the vertex and face counts. Raises
    ``ValueError`` for bad inputs and ``OSError`` when the file cannot be written.
    """
    mesh = rgbd_to_mesh(rgbd, intrinsics, cam_from_world, mask_edges)
    height, width = (rgbd.shape[-2], rgbd.shape[-1])
    comments = (f"viewgen export-mesh: {height}x{width} RGBD grid, "
                f"{'depth edges removed' if mask_edges else 'depth edges kept'}",
                "axes: +x right, +y up, +z backward (OpenGL); the identity camera looks down -z")
    written = write_ply(path, mesh, binary=binary, comments=comments)
    return MeshExport(path=written, num_vertices=len(mesh.vertices), num_faces=len(mesh.faces))
