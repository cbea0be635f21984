"""The one camera-controller interface shared by the autopilot and the scripted trajectories.

A controller owns the camera path of a fly-through. The pipeline asks it for the next camera
once per frame, handing it the current RGBD frame (which the autopilot looks at and scripted
paths ignore) and the user's steering offset:

    controller = make_controller("autopilot", intrinsics, cam_from_world)
    next_cam_from_world = controller.next(rgbd, offset=(0.0, 0.0))

Poses are world-to-camera ``cam_from_world`` ``[3, 4]`` (+x right, +y down, +z forward);
``rgbd`` is ``[1, 4, H, W]`` (RGB plus disparity, channels first).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor


class CameraController(ABC):
    """Produces one ``cam_from_world [3, 4]`` per call of :meth:`next`.

    Implementations are stateful: every call advances the camera by one frame. :meth:`reset`
    puts the controller back at a new start pose, as if freshly constructed.
    """

    @abstractmethod
    def next(self, rgbd: Tensor | None, offset=(0.0, 0.0)) -> Tensor:
        """Advance one frame; return the new camera's ``cam_from_world [3, 4]``.

        ``rgbd [1, 4, H, W]`` is the frame seen from the current camera; ``offset = (dx, dy)``
        is the user's steering input in texture units (+x right, +y down; see each class for
        whether it is used).
        """

    @abstractmethod
    def reset(self, cam_from_world: Tensor) -> None:
        """Restart from ``cam_from_world [3, 4]`` (or ``[4, 4]``) with a fresh internal state."""

    @property
    @abstractmethod
    def cam_from_world(self) -> Tensor:
        """The current camera, ``[3, 4]``: the start pose, then the last pose :meth:`next` returned."""


def check_start_pose(cam_from_world: Tensor, tolerance: float = 1e-3) -> Tensor:
    """Validate a start pose and return its ``[3, 4]`` part (same dtype and device).

    Accepts ``[3, 4]`` or ``[4, 4]`` world-to-camera tensors whose rotation is orthonormal with
    determinant +1 within ``tolerance``; raises ``ValueError`` otherwise.
    """
    if not isinstance(cam_from_world, Tensor):
        raise ValueError(f"cam_from_world must be a torch.Tensor, got {type(cam_from_world).__name__}")
    if tuple(cam_from_world.shape) not in ((3, 4), (4, 4)):
        raise ValueError(f"cam_from_world must have shape [3, 4] or [4, 4], got {tuple(cam_from_world.shape)}")
    if not cam_from_world.is_floating_point():
        raise ValueError(f"cam_from_world must be a floating-point tensor, got {cam_from_world.dtype}")
    if not bool(torch.isfinite(cam_from_world).all()):
        raise ValueError("cam_from_world contains NaN or infinite values")
    rotation = cam_from_world[:3, :3].double()
    gram_error = (rotation @ rotation.T - torch.eye(3, dtype=torch.float64, device=rotation.device)).abs().max()
    if float(gram_error) > tolerance or float(torch.linalg.det(rotation)) < 0:
        raise ValueError(
            "cam_from_world[:3, :3] must be a rotation (orthonormal, det +1); "
            f"|R R^T - I| = {float(gram_error):.2e}, det = {float(torch.linalg.det(rotation)):.4f}"
        )
    return cam_from_world[:3, :4]


def check_offset(offset) -> tuple[float, float]:
    """``offset`` as two finite Python floats ``(dx, dy)``; raises ``ValueError`` otherwise."""
    values = offset.detach().flatten().tolist() if isinstance(offset, Tensor) else list(offset)
    if len(values) != 2:
        raise ValueError(f"offset must hold two numbers (dx, dy), got {len(values)}")
    dx, dy = (float(v) for v in values)
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise ValueError(f"offset must be finite, got ({dx}, {dy})")
    return dx, dy


def check_intrinsics(intrinsics: Tensor) -> Tensor:
    """Validate ``[4]`` intrinsics ``[fx, fy, cx, cy]`` (finite, positive focal lengths)."""
    if not isinstance(intrinsics, Tensor) or tuple(intrinsics.shape) != (4,):
        shape = tuple(intrinsics.shape) if isinstance(intrinsics, Tensor) else type(intrinsics).__name__
        raise ValueError(f"intrinsics must be a [4] tensor [fx, fy, cx, cy], got {shape}")
    if not bool(torch.isfinite(intrinsics).all()) or bool((intrinsics[:2] <= 0).any()):
        raise ValueError(f"intrinsics must be finite with positive fx, fy, got {intrinsics.tolist()}")
    return intrinsics


def check_config_numbers(config, positive: tuple[str, ...] = ()) -> None:
    """Check that every field of a config dataclass is a finite number and the ``positive`` ones are > 0.

    Raises ``ValueError`` naming the class and field; meant for ``__post_init__``.
    """
    owner = type(config).__name__
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{owner}.{field.name} must be a finite number, got {value!r}")
        if field.name in positive and value <= 0:
            raise ValueError(f"{owner}.{field.name} must be positive, got {value!r}")
