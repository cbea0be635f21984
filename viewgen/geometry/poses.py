"""Rigid poses: inverse, composition, relative pose and point transforms.

A pose is a world-to-camera matrix ``cam_from_world`` (see ``docs/conventions.md``), either
``[..., 3, 4]`` (``[R | t]``) or ``[..., 4, 4]`` (with a ``[0, 0, 0, 1]`` last row). Every
function here accepts both forms and keeps the form of its input (a mix gives 4x4). Names
put the direction in: ``a_from_b`` maps coordinates in frame ``b`` to frame ``a``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.geometry.validation import check_pose


def to_homogeneous_pose(pose: Tensor) -> Tensor:
    """``[..., 3, 4]`` or ``[..., 4, 4]`` -> ``[..., 4, 4]`` with last row ``[0, 0, 0, 1]``."""
    check_pose(pose, "pose")
    if pose.shape[-2] == 4:
        return pose
    bottom = torch.zeros(*pose.shape[:-2], 1, 4, dtype=pose.dtype, device=pose.device)
    bottom[..., 0, 3] = 1
    return torch.cat([pose, bottom], dim=-2)


def invert_pose(a_from_b: Tensor) -> Tensor:
    """Inverse of a rigid pose: ``[R | t] -> [R^T | -R^T t]``; returns ``b_from_a``, same form."""
    check_pose(a_from_b, "pose")
    rotation = a_from_b[..., :3, :3]
    translation = a_from_b[..., :3, 3:]
    rotation_inv = rotation.transpose(-1, -2)
    inverse = torch.cat([rotation_inv, -rotation_inv @ translation], dim=-1)
    if a_from_b.shape[-2] == 4:
        inverse = to_homogeneous_pose(inverse)
    return inverse


def compose_poses(a_from_b: Tensor, b_from_c: Tensor) -> Tensor:
    """``a_from_c = a_from_b @ b_from_c`` as if both had a ``[0, 0, 0, 1]`` row.

    Returns 3x4 when both inputs are 3x4, else 4x4. Batch dimensions broadcast.
    """
    check_pose(a_from_b, "a_from_b")
    check_pose(b_from_c, "b_from_c")
    rotation = a_from_b[..., :3, :3] @ b_from_c[..., :3, :3]
    translation = a_from_b[..., :3, :3] @ b_from_c[..., :3, 3:] + a_from_b[..., :3, 3:]
    composed = torch.cat([rotation, translation], dim=-1)
    if a_from_b.shape[-2] == 4 or b_from_c.shape[-2] == 4:
        composed = to_homogeneous_pose(composed)
    return composed


def relative_pose(tgt_cam_from_world: Tensor, src_cam_from_world: Tensor) -> Tensor:
    """``tgt_from_src = tgt_from_world @ inverse(src_from_world)``: source camera -> target camera."""
    return compose_poses(tgt_cam_from_world, invert_pose(src_cam_from_world))


def relative_to_first(cam_from_world: Tensor) -> Tensor:
    """A path ``[T, 3, 4]`` as seen from its first camera: ``cam_k_from_cam_0`` for every k, float64 ``[T, 3, 4]``,
    the first exactly the identity (not to rounding). Lengths keep their unit."""
    relative = relative_pose(cam_from_world[:, :3].double(), cam_from_world[0, :3].double())
    relative[0] = torch.eye(4, dtype=torch.float64)[:3]
    return relative


def transform_points(a_from_b: Tensor, points_b: Tensor) -> Tensor:
    """Apply a pose to points: ``[..., 3, 4|4]`` and ``[..., N, 3]`` -> ``[..., N, 3]`` (``p R^T + t``)."""
    check_pose(a_from_b, "pose")
    check_shape(points_b, ("...", "N", 3), "points")
    rotation = a_from_b[..., :3, :3]
    translation = a_from_b[..., :3, 3]
    return points_b @ rotation.transpose(-1, -2) + translation.unsqueeze(-2)


def camera_center(cam_from_world: Tensor) -> Tensor:
    """World position of the camera centre, ``-R^T t``: ``[..., 3]``."""
    return invert_pose(cam_from_world)[..., :3, 3]


def look_direction_pose(position: Tensor, look_dir: Tensor, down: Tensor) -> Tensor:
    """World-to-camera ``[..., 3, 4]`` for a camera at ``position`` looking along ``look_dir``.

    The camera's +z axis is ``normalize(look_dir)``, its +x axis ``normalize(down x z)`` and its
    +y axis ``z x x`` (so +y points as close to ``down`` as possible). All inputs ``[..., 3]``
    in world coordinates.
    """
    z_axis = torch.nn.functional.normalize(look_dir, dim=-1, eps=1e-12)
    x_axis = torch.nn.functional.normalize(torch.linalg.cross(down, z_axis, dim=-1), dim=-1, eps=1e-12)
    y_axis = torch.linalg.cross(z_axis, x_axis, dim=-1)
    world_from_cam = torch.stack([x_axis, y_axis, z_axis, position], dim=-1)
    return invert_pose(world_from_cam)
