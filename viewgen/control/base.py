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
from typing import Any

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.geometry.validation import check_pose


def unit_down(down) -> Tensor:
    """``down`` (3 numbers, world coordinates) as a unit float64 ``[3]``; ``ValueError`` if not finite or zero."""
    down = torch.as_tensor(down, dtype=torch.float64).reshape(3)
    if not bool(torch.isfinite(down).all()) or float(down.norm()) < 1e-9:
        raise ValueError("gravity must be a finite non-zero 3-vector")
    return torch.nn.functional.normalize(down, dim=0)


class CameraController(ABC):
    """Produces one ``cam_from_world [3, 4]`` per call of :meth:`next`.

    Implementations are stateful: every call advances the camera by one frame. :meth:`reset`
    puts the controller back at a new start pose, as if freshly constructed. The base keeps
    what every controller shares: the start pose's dtype and device (returned poses have them),
    the frame counter, :attr:`cam_from_world` and the speed (:attr:`speed`, :meth:`set_speed`).
    A subclass implements :meth:`_restart` (its own state at a start pose), :meth:`_pose`
    (the current pose) and :meth:`next` (which counts the frame with :meth:`_advance`).
    """

    config: Any  # a frozen dataclass of the controller's settings

    @abstractmethod
    def next(self, rgbd: Tensor | None, offset=(0.0, 0.0)) -> Tensor:
        """Advance one frame; return the new camera's ``cam_from_world [3, 4]``.

        ``rgbd [1, 4, H, W]`` is the frame seen from the current camera; ``offset = (dx, dy)``
        is the user's steering input in texture units (+x right, +y down; see each class for
        whether it is used).
        """

    @abstractmethod
    def _restart(self, start: Tensor) -> None:
        """Fresh internal state at ``start``, the start pose as float64 CPU ``[3, 4]``."""

    @abstractmethod
    def _pose(self) -> Tensor:
        """The current camera as float64 CPU ``[3, 4]``."""

    def set_gravity(self, down: Tensor) -> None:
        """Take the world's down ``[3]`` (world coordinates) from someone who knows it (a memory's estimate).

        Only controllers that keep a horizon use it (the autopilot in level mode overrides this);
        the others check it and ignore it. Raises ``ValueError`` for a non-finite or zero vector.
        """
        unit_down(down)

    def reset(self, cam_from_world: Tensor) -> None:
        """Restart from ``cam_from_world [3, 4]`` (or ``[4, 4]``) with a fresh internal state, frame 0."""
        start = check_start_pose(cam_from_world)
        self._dtype, self._device = start.dtype, start.device
        self._frame_index = 0
        self._restart(start.detach().to("cpu", torch.float64))

    def _advance(self) -> None:
        """Count one more frame (every :meth:`next` calls it)."""
        self._frame_index += 1

    @property
    def frame_index(self) -> int:
        """Number of :meth:`next` calls since the start (the original's ``t``)."""
        return self._frame_index

    @property
    def cam_from_world(self) -> Tensor:
        """The current camera ``[3, 4]``: the start pose, then the last pose :meth:`next` returned.

        In the start pose's dtype and device.
        """
        return self._pose().to(self._dtype).to(self._device)

    @property
    def speed(self) -> float | None:
        """Depth units moved per frame (``config.speed``), or ``None`` for a controller without one."""
        return getattr(self.config, "speed", None)

    def set_speed(self, units_per_frame: float) -> None:
        """Fly at ``units_per_frame`` depth units per frame from the next :meth:`next` on.

        Raises ``ValueError`` for a controller without a speed or a non-finite value.
        """
        if self.speed is None:
            raise ValueError(f"{type(self).__name__} has no speed to set")
        self.config = dataclasses.replace(self.config, speed=float(units_per_frame))


def check_start_pose(cam_from_world: Tensor, tolerance: float = 1e-3) -> Tensor:
    """Validate a start pose and return its ``[3, 4]`` part (same dtype and device).

    Accepts ``[3, 4]`` or ``[4, 4]`` world-to-camera tensors whose rotation is orthonormal with
    determinant +1 within ``tolerance``; raises ``ValueError`` otherwise.
    """
    if not isinstance(cam_from_world, Tensor):
        raise ValueError(f"cam_from_world must be a torch.Tensor, got {type(cam_from_world).__name__}")
    check_pose(cam_from_world, "cam_from_world", "single")
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


def check_steering(offset) -> tuple[float, float]:
    """A steering ``offset`` from a caller: ``None`` is ``(0, 0)``, else :func:`check_offset`.

    Raises ``TypeError`` for anything but ``None`` or a sequence/array/tensor (e.g. a number or a
    string), ``ValueError`` for the wrong count or non-finite values.
    """
    if offset is None:
        return 0.0, 0.0
    try:
        if isinstance(offset, (str, bytes)):
            raise TypeError
        return check_offset(offset)
    except TypeError:
        raise TypeError(f"offset must be None or two numbers (dx, dy), got {type(offset).__name__}") from None


def check_intrinsics(intrinsics: Tensor) -> Tensor:
    """Validate ``[4]`` intrinsics ``[fx, fy, cx, cy]`` (finite, positive focal lengths)."""
    check_shape(intrinsics, (4,), "intrinsics", hint=" [fx, fy, cx, cy]")
    if not bool(torch.isfinite(intrinsics).all()) or bool((intrinsics[:2] <= 0).any()):
        raise ValueError(f"intrinsics must be finite with positive fx, fy, got {intrinsics.tolist()}")
    return intrinsics


def check_config_numbers(config, positive: tuple[str, ...] = (), flags: tuple[str, ...] = ()) -> None:
    """Check that every field of a config dataclass is a finite number and the ``positive`` ones are > 0.

    The ``flags`` fields must be bools instead. Raises ``ValueError`` naming the class and field;
    meant for ``__post_init__``.
    """
    owner = type(config).__name__
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name in flags:
            if not isinstance(value, bool):
                raise ValueError(f"{owner}.{field.name} must be true or false, got {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{owner}.{field.name} must be a finite number, got {value!r}")
        if field.name in positive and value <= 0:
            raise ValueError(f"{owner}.{field.name} must be positive, got {value!r}")
