"""A flight's fused points as 3D Gaussian splats, in the original 3DGS ``point_cloud.ply`` layout.

One ``vertex`` element, 62 float32 properties in this order (what the 3DGS code's ``save_ply`` writes
and splat viewers such as SuperSplat, antimatter15/splat, gsplat's and nerfstudio's loaders read)::

    x y z  nx ny nz  f_dc_0 f_dc_1 f_dc_2  f_rest_0 ... f_rest_44  opacity  scale_0 scale_1 scale_2
    rot_0 rot_1 rot_2 rot_3

One splat per fused point (:func:`viewgen.io.world_points.fuse_points`), in the file's axes
(``diag(1, -1, -1)`` of viewgen's world: +y up, see :mod:`viewgen.io.ply`):

* ``x y z``: the point.
* ``nx ny nz``: the unit normal of the flat splat, pointing back along its camera's optical axis
  (towards the camera that saw it). The 3DGS code writes zeros there; viewers ignore it.
* ``f_dc_*``: colour as the degree-0 spherical-harmonics coefficient, ``(rgb - 0.5) / C0`` with
  ``C0 = 0.28209479177387814`` (a viewer shows ``0.5 + C0 * f_dc``); ``f_rest_*`` (degrees 1-3) are 0.
* ``opacity``: the logit (pre-sigmoid) of :data:`SPLAT_OPACITY` = 0.9, the same for every splat.
* ``scale_*``: natural logs of the Gaussian's standard deviations (world units) along its axes. Axes 0
  and 1 lie in the camera's image plane (its +x and +y) with the sample's pixel footprint there,
  ``depth * stride / (fx * W)`` and ``depth * stride / (fy * H)``, at least half a voxel so that the
  voxel-thinned near field has no gaps; axis 2 is the camera's optical axis, thin:
  :data:`SPLAT_THICKNESS` (0.1) times the smaller of the other two. Splats are flat discs facing the
  camera that saw them, not spheres.
* ``rot_0..rot_3``: the unit quaternion ``(w, x, y, z)`` (3DGS stores ``w`` first) of the rotation whose
  columns are those axes in the file's frame, ``diag(1, -1, -1) R^T`` for ``cam_from_world = [R | t]``;
  ``w >= 0``.

Written with :func:`viewgen.io.ply.write_ply_elements` (numpy structured records; ``plyfile`` would
do, but it is not a dependency of viewgen).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from viewgen.io.ply import OPENGL_FROM_OPENCV, write_ply_elements
from viewgen.io.world_points import FusedPoints
from viewgen.io.world_record import WorldRecord

__all__ = ["SH_C0", "SPLAT_OPACITY", "SPLAT_PROPERTIES", "SPLAT_THICKNESS", "quaternion_from_rotation",
           "splat_records", "write_splats_ply"]

SH_C0 = 0.28209479177387814
SPLAT_OPACITY = 0.9
SPLAT_THICKNESS = 0.1
SPLAT_PROPERTIES = ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
                    *(f"f_rest_{index}" for index in range(45)), "opacity",
                    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_SPLAT_DTYPE = np.dtype([(name, "<f4") for name in SPLAT_PROPERTIES])
_COLUMN = {name: index for index, name in enumerate(SPLAT_PROPERTIES)}


def quaternion_from_rotation(rotation: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> unit quaternions ``[..., 4]`` ``(w, x, y, z)`` with ``w >= 0``.

    ``R = quaternion_to_matrix(q)`` in the Hamilton convention 3DGS uses (``build_rotation``). Each
    quaternion comes from the largest of ``w, x, y, z`` (Shepperd's method, stable for any rotation).
    """
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    squares = np.stack([1 + trace, 1 + 2 * m[..., 0, 0] - trace, 1 + 2 * m[..., 1, 1] - trace,
                        1 + 2 * m[..., 2, 2] - trace], axis=-1)  # 4 w^2, 4 x^2, 4 y^2, 4 z^2
    pairs = np.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1],
                      m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]],
                     axis=-1)  # 4wx, 4wy, 4wz, 4xy, 4xz, 4yz
    wx, wy, wz, xy, xz, yz = np.moveaxis(pairs, -1, 0)
    candidates = np.stack([np.stack([squares[..., 0], wx, wy, wz], -1), np.stack([wx, squares[..., 1], xy, xz], -1),
                           np.stack([wy, xy, squares[..., 2], yz], -1), np.stack([wz, xz, yz, squares[..., 3]], -1)],
                          axis=-2)  # row k: 4 q_k * q
    best = np.argmax(squares, axis=-1)
    quaternion = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    quaternion = quaternion / np.linalg.norm(quaternion, axis=-1, keepdims=True)
    return np.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def _splat_axes(record: WorldRecord) -> np.ndarray:
    """``[N, 3, 3]`` per frame: columns are the camera's +x, +y, +z in the file's axes (``F R^T``)."""
    rotations = record.cam_from_world[:, :, :3].numpy()
    return OPENGL_FROM_OPENCV @ np.swapaxes(rotations, -1, -2)


def splat_records(points: FusedPoints, record: WorldRecord, stride: int) -> np.ndarray:
    """``[M]`` structured records of the 62 float32 properties (see the module doc) of ``points``.

    ``record`` gives each point's camera (its rotation and focal lengths); ``stride`` the sampling.
    """
    height, width = record.size
    axes = _splat_axes(record)  # [N, 3, 3], per frame
    focal = np.stack([record.intrinsics[:, 0].numpy() * width, record.intrinsics[:, 1].numpy() * height], axis=-1)
    footprint = np.maximum(points.depth[:, None] * (stride / focal[points.frame]), points.voxel / 2)  # [M, 2]
    values = np.zeros((len(points), len(SPLAT_PROPERTIES)), np.float32)  # f_rest_* stay 0
    def columns(first: str, count: int = 1) -> slice:
        return slice(_COLUMN[first], _COLUMN[first] + count)

    values[:, columns("x", 3)] = points.positions @ OPENGL_FROM_OPENCV.T
    values[:, columns("nx", 3)] = (-axes[:, :, 2])[points.frame]
    values[:, columns("f_dc_0", 3)] = (points.rgb - 0.5) / SH_C0
    values[:, columns("opacity")] = math.log(SPLAT_OPACITY / (1.0 - SPLAT_OPACITY))
    values[:, columns("scale_0", 2)] = np.log(footprint)
    values[:, columns("scale_2")] = np.log(SPLAT_THICKNESS * footprint.min(axis=1, keepdims=True))
    values[:, columns("rot_0", 4)] = quaternion_from_rotation(axes)[points.frame]
    return values.view(_SPLAT_DTYPE)[:, 0]


def write_splats_ply(path: str | Path, points: FusedPoints, record: WorldRecord, stride: int) -> int:
    """Write ``points`` as 3DGS splats to ``path`` (binary little-endian PLY); returns the splat count."""
    comments = ("viewgen export-world: 3D Gaussian splats (3DGS point_cloud.ply layout, SH degree 0 used)",
                "axes: +x right, +y up, +z backward (OpenGL); the identity camera looks down -z")
    write_ply_elements(path, (("vertex", splat_records(points, record, stride)),), comments=comments)
    return len(points)
