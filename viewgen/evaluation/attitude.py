"""Camera attitude of a flight from its poses: pitch, roll, heading, height, upside-down.

Conventions (``docs/conventions.md``): poses are ``cam_from_world [N, 3|4, 4]``; camera axes +x
right, +y down, +z forward, so the rows of the rotation are the camera's right, down and forward
directions in world coordinates. The world's down direction defaults to +y, as in the synthetic
world (:mod:`viewgen.data.synthetic`: x east, y down, z north).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.checks import check_shape

__all__ = ["WORLD_DOWN", "CameraAttitude", "camera_attitude"]

WORLD_DOWN = (0.0, 1.0, 0.0)


@dataclass(frozen=True)
class CameraAttitude:
    """Attitude per frame, all ``[N]``.

    pitch_deg: elevation of the view below the horizon, degrees in [-90, 90]; > 0 looks down.
    roll_deg: bank about the view axis, degrees in (-180, 180]; > 0 turns the image's right side
        down (as ``roll`` of :func:`viewgen.data.synthetic.flights.camera_pose`); +-180 = upside down.
    heading_deg: direction of the view in the horizontal plane, degrees from world +z toward +x.
    height: the camera's position along world up (``-down``), in world units.
    upside_down: bool, the camera's down axis points above the horizon (the sky at the bottom).
    """

    pitch_deg: Tensor
    roll_deg: Tensor
    heading_deg: Tensor
    height: Tensor
    upside_down: Tensor


def camera_attitude(cam_from_world: Tensor, world_down: Sequence[float] = WORLD_DOWN) -> CameraAttitude:
    """Attitude of every pose in ``cam_from_world [N, 3|4, 4]`` (see :class:`CameraAttitude`).

    ``world_down`` is the world's down direction (normalized here); the heading is measured in the
    plane orthogonal to it, from the world axis next after it (z for y down) toward the one after (x).
    """
    check_shape(cam_from_world, ("N", (3, 4), 4), "cam_from_world", what="pose", hint=" (world-to-camera)")
    pose = cam_from_world.to(torch.float64)
    rotation, translation = pose[:, :3, :3], pose[:, :3, 3]
    down = torch.tensor(world_down, dtype=torch.float64, device=pose.device)
    if down.shape != (3,) or not torch.isfinite(down).all() or down.norm() == 0:
        raise ValueError(f"world_down must be a nonzero 3-vector, got {tuple(world_down)}")
    down = down / down.norm()
    right_dot, down_dot, forward_dot = (rotation[:, row] @ down for row in range(3))
    center = -(rotation.transpose(1, 2) @ translation.unsqueeze(-1)).squeeze(-1)
    axis = int(down.abs().argmax())
    north, east = rotation[:, 2, (axis + 1) % 3], rotation[:, 2, (axis + 2) % 3]
    return CameraAttitude(
        pitch_deg=torch.rad2deg(torch.asin(forward_dot.clamp(-1.0, 1.0))).to(torch.float32),
        roll_deg=torch.rad2deg(torch.atan2(right_dot, down_dot)).to(torch.float32),
        heading_deg=torch.rad2deg(torch.atan2(east, north)).to(torch.float32),
        height=(-(center @ down)).to(torch.float32),
        upside_down=down_dot < -1e-9,  # exactly straight down (0) is not upside down
    )
