"""Scripted camera paths behind the :class:`CameraController` interface.

Built by name in :mod:`~viewgen.control.registry`.

Every scripted path is a pure function of the frame index, expressed in the *start camera's*
frame (+x right, +y down, +z forward; lengths in depth units, where the scene's depth lies in
[1, 100] and the autopilot flies 0.2 per frame). Frame 0 is the start pose itself; the k-th
call of :meth:`ScriptedTrajectory.next` returns frame k. Scripted paths ignore both the RGBD
frame and the steering ``offset`` (it is still checked for shape); use the autopilot to steer.

| name      | motion (start-camera frame)                                                      |
|-----------|----------------------------------------------------------------------------------|
| straight  | ``z = speed * k``, no rotation                                                     |
| zoom-in   | ease-out push-in: ``z = distance * (1 - (1 - s)^2)``, ``s = min(k / num_frames, 1)``; |
|           | starts near ``2 * distance / num_frames`` per frame, stops at ``distance``         |
| dolly     | truck: ``x = amplitude * sin(2 pi k / period)`` (right first), ``z = forward_speed * k`` |
| swing     | ``z = speed * k``, ``x = lateral_amplitude * sin(2 pi k / period)``, yaw           |
|           | ``yaw_amplitude_deg * sin(2 pi k / period)`` (positive yaw turns right)             |
| circle    | horizontal circle through the start, looking straight ahead throughout:            |
|           | ``x = radius * (1 - cos a)``, ``z = radius * sin(a)``, ``a = 2 pi k / period``     |
| there-and-back | straight out along the start look direction and back, never turning (it reverses  |
|           | home): ``z = distance * (1 - cos a) / 2``, ``a = 2 pi k / period``; ``distance`` out  |
|           | at ``period / 2``, the start pose again at ``period``, no rotation                 |
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import torch
from torch import Tensor

from viewgen.control.base import CameraController, check_config_numbers, check_offset
from viewgen.geometry.poses import compose_poses, invert_pose

__all__ = [
    "SCRIPTED_PATHS", "CircleConfig", "CircleTrajectory", "DollyConfig", "DollyTrajectory",
    "ScriptedTrajectory", "StraightConfig", "StraightTrajectory", "SwingConfig", "SwingTrajectory",
    "ThereAndBackConfig", "ThereAndBackTrajectory", "ZoomInConfig", "ZoomInTrajectory",
]

# (position [x, y, z] in the start camera's frame, yaw in radians; positive turns right)
LocalMotion = tuple[tuple[float, float, float], float]


def _sine(frame_index: int, period: float) -> float:
    return math.sin(2.0 * math.pi * frame_index / period)


class ScriptedTrajectory(CameraController):
    """Base of the scripted paths: :meth:`local_motion` gives frame k in the start camera's frame.

    Args:
        cam_from_world: start pose ``[3, 4]`` (or ``[4, 4]``); returned poses have its dtype and device.
        config: the subclass's frozen config (its defaults when ``None``).
    """

    config_class: type  # set by each subclass

    def __init__(self, cam_from_world: Tensor, config=None) -> None:
        self.config = self.config_class() if config is None else config
        if not isinstance(self.config, self.config_class):
            raise ValueError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.reset(cam_from_world)

    @abstractmethod
    def local_motion(self, frame_index: int) -> LocalMotion:
        """Camera position (start-camera frame, depth units) and yaw (radians) at ``frame_index``."""

    def _restart(self, start: Tensor) -> None:
        self._start_cam_from_world = start

    def _pose(self) -> Tensor:
        return self._local_pose(self._frame_index)

    def set_speed(self, units_per_frame: float) -> None:
        """Refused: a scripted path is a function of the frame index, its speed fixed by its config."""
        raise ValueError(f"{type(self).__name__} is a scripted path: give its speed in its config when making it")

    def pose_at(self, frame_index: int) -> Tensor:
        """``cam_from_world [3, 4]`` of frame ``frame_index`` (0 = start), without changing state."""
        return self._local_pose(frame_index).to(self._dtype).to(self._device)

    def _local_pose(self, frame_index: int) -> Tensor:
        """``cam_from_world [3, 4]`` of frame ``frame_index`` as float64 on the CPU."""
        (x, y, z), yaw = self.local_motion(frame_index)
        cos, sin = math.cos(yaw), math.sin(yaw)
        # Columns: the moved camera's axes in the start camera's frame (a yaw about +y).
        start_from_cam = torch.tensor(
            [[cos, 0.0, sin, x], [0.0, 1.0, 0.0, y], [-sin, 0.0, cos, z]], dtype=torch.float64
        )
        return compose_poses(invert_pose(start_from_cam), self._start_cam_from_world)

    def next(self, rgbd: Tensor | None = None, offset=(0.0, 0.0)) -> Tensor:
        """Advance one frame and return its ``cam_from_world [3, 4]``; ``rgbd`` and ``offset`` are unused."""
        check_offset(offset)
        self._advance()
        return self.cam_from_world


@dataclass(frozen=True)
class _TrajectoryConfig:
    """Base of the scripted configs: every field a finite number, those in ``_positive`` > 0."""

    _positive: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        check_config_numbers(self, positive=self._positive)


@dataclass(frozen=True)
class StraightConfig(_TrajectoryConfig):
    """speed: depth units per frame along the start camera's look direction (negative: backwards)."""

    speed: float = 0.2


class StraightTrajectory(ScriptedTrajectory):
    """Constant forward motion along the start look direction, orientation fixed."""

    config_class = StraightConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        return (0.0, 0.0, self.config.speed * frame_index), 0.0


@dataclass(frozen=True)
class ZoomInConfig(_TrajectoryConfig):
    """distance: total push-in (depth units); num_frames: frames to cover it.

    The speed starts at ``2 * distance / num_frames`` per frame (0.2 with the defaults; the
    first frame moves 0.198), falls linearly to 0 at ``num_frames``, and the camera then holds
    still.
    """

    distance: float = 6.0
    num_frames: int = 60

    _positive = ("num_frames",)


class ZoomInTrajectory(ScriptedTrajectory):
    """An ease-out push-in along the start look direction (a physical dolly-in, no focal change)."""

    config_class = ZoomInConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        progress = min(frame_index / self.config.num_frames, 1.0)
        return (0.0, 0.0, self.config.distance * (1.0 - (1.0 - progress) ** 2)), 0.0


@dataclass(frozen=True)
class DollyConfig(_TrajectoryConfig):
    """amplitude: sideways reach (depth units); period: frames per left-right cycle;
    forward_speed: optional forward drift per frame."""

    amplitude: float = 0.5
    period: float = 120
    forward_speed: float = 0.0

    _positive = ("period",)


class DollyTrajectory(ScriptedTrajectory):
    """A sinusoidal truck along the start camera's x axis (right first), orientation fixed."""

    config_class = DollyConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        lateral = self.config.amplitude * _sine(frame_index, self.config.period)
        return (lateral, 0.0, self.config.forward_speed * frame_index), 0.0


@dataclass(frozen=True)
class SwingConfig(_TrajectoryConfig):
    """speed: forward depth units per frame; yaw_amplitude_deg: peak yaw (positive = right);
    lateral_amplitude: peak sideways offset (depth units); period: frames per swing cycle."""

    speed: float = 0.2
    yaw_amplitude_deg: float = 8.0
    lateral_amplitude: float = 0.25
    period: float = 120

    _positive = ("period",)


class SwingTrajectory(ScriptedTrajectory):
    """Forward motion with an in-phase sinusoidal yaw and sideways sway (right first)."""

    config_class = SwingConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        swing = _sine(frame_index, self.config.period)
        position = (self.config.lateral_amplitude * swing, 0.0, self.config.speed * frame_index)
        return position, math.radians(self.config.yaw_amplitude_deg) * swing


@dataclass(frozen=True)
class CircleConfig(_TrajectoryConfig):
    """radius: circle radius (depth units; negative circles to the left); period: frames per lap."""

    radius: float = 0.5
    period: float = 120

    _positive = ("period",)


class CircleTrajectory(ScriptedTrajectory):
    """A horizontal circle (the start camera's x-z plane) through the start, looking straight ahead.

    The camera first moves forward and curves right, reaches ``2 * radius`` to the right at half
    a lap (moving backwards there) and returns to the start after ``period`` frames.
    """

    config_class = CircleConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        angle = 2.0 * math.pi * frame_index / self.config.period
        radius = self.config.radius
        return (radius * (1.0 - math.cos(angle)), 0.0, radius * math.sin(angle)), 0.0


@dataclass(frozen=True)
class ThereAndBackConfig(_TrajectoryConfig):
    """distance: how far out along the start look direction (depth units; negative: backwards first);
    period: frames per round trip."""

    distance: float = 1.0
    period: float = 120

    _positive = ("period",)


class ThereAndBackTrajectory(ScriptedTrajectory):
    """Out along the start look direction and back again, looking ahead throughout (it reverses home).

    Smooth at both ends (``z = distance * (1 - cos a) / 2``, ``a = 2 pi k / period``): ``distance`` out at
    half a period, the start pose itself (exactly) after ``period`` frames, then again.
    """

    config_class = ThereAndBackConfig

    def local_motion(self, frame_index: int) -> LocalMotion:
        angle = 2.0 * math.pi * frame_index / self.config.period
        return (0.0, 0.0, self.config.distance * (1.0 - math.cos(angle)) / 2.0), 0.0


SCRIPTED_PATHS = MappingProxyType({
    "straight": StraightTrajectory,
    "zoom-in": ZoomInTrajectory,
    "dolly": DollyTrajectory,
    "swing": SwingTrajectory,
    "circle": CircleTrajectory,
    "there-and-back": ThereAndBackTrajectory,
})
