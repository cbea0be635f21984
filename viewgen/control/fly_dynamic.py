"""The Infinite Nature autopilot: steer a flying camera from the disparity it currently sees.

This is a reimplementation of the official ``fly_camera.fly_dynamic`` (Infinite Nature,
ICCV 2021), step for step, so that its poses agree with the original's to about 1e-7:

1. :func:`skyline_balance` reads three numbers off the current disparity: where to look
   (``x``: toward the side with more sky; ``y``: down when there is more sky than
   ``horizon``) and how high to aim the motion (``h``: climb when near ground fills the frame).
2. The look target ``(x + dx, y + dy)`` and the move target ``(0.5, h)`` (texture coordinates)
   are lifted to ``z = 1`` in the current camera and turned into world directions.
3. The look and move directions are blended toward them (``lerp``, ``movelerp``; not
   renormalized, as in the original), the camera moves ``speed * move_dir`` and is rebuilt
   looking along ``look_dir`` with the previous camera's down axis.

Units: disparity is 1/depth with depth in [1, 100], so ``speed = 0.2`` is 0.2 depth units per
frame. Arithmetic runs in float64; poses come back in the start pose's dtype and device.

``level=True`` (opt-in; the defaults keep the original's behaviour) flies level with gravity,
the start camera's +y: zero roll, look pitch within ``max_pitch_deg``, climb within
``max_climb_deg``, a pull toward the horizon when the frame has no signal, and a climb when the
ground it sees is nearer than ``min_clearance`` below (:mod:`viewgen.control.leveling`,
``docs/autopilot.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.control.base import CameraController, check_config_numbers, check_intrinsics, check_offset, unit_down
from viewgen.control.leveling import disparity_signal, ground_clearance, max_descent, with_pitch_in
from viewgen.geometry.poses import invert_pose, look_direction_pose, transform_points
from viewgen.geometry.projection import uv_to_rays

__all__ = ["FlyDynamic", "FlyDynamicConfig", "skyline_balance"]

# Soft sky mask: 1 at disparity <= 0.05, 0 at >= 0.1 (the original's "skyline boundary").
_SKY_DISPARITY, _SKY_RAMP = 0.1, 20.0
# Soft near-ground mask: 0 at disparity <= 0.5, 1 at >= 0.6.
_NEAR_DISPARITY, _NEAR_RAMP = 0.5, 10.0
_BALANCE_EPS = 1e-4


def _disparity_plane(disparity: Tensor) -> Tensor:
    """``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]`` -> finite float64 CPU ``[H, W]``."""
    if not isinstance(disparity, Tensor):
        raise ValueError(f"disparity must be a torch.Tensor, got {type(disparity).__name__}")
    check_shape(disparity, [("H", "W"), (1, "H", "W"), (1, 1, "H", "W")], "disparity")
    check_min_size(disparity, (1, 2), "disparity")
    plane = disparity.detach().reshape(disparity.shape[-2:]).to("cpu", torch.float64)
    if not bool(torch.isfinite(plane).all()):
        raise ValueError("disparity contains NaN or infinite values")
    return plane


def skyline_balance(disparity: Tensor, horizon: float = 0.3, near_fraction: float = 0.2) -> tuple[float, float, float]:
    """Where to look and how high to fly, read off a disparity map (the original's heuristic).

    Args:
        disparity: ``[H, W]`` or ``[1, 1, H, W]``, 1/depth in [0, 1] (``W >= 2``).
        horizon: the fraction of the image that should lie above the horizon.
        near_fraction: the fraction of the image that may be near ground (disparity > ~0.55).

    Returns:
        ``(x, y, h)`` as floats in texture coordinates (0 = left/top, 1 = right/bottom):
        ``x`` in (0, 1) is the sky balance, right-half sky over all sky (0.5 when even or
        sky-free), so the camera turns toward the side with more sky; ``y = 0.5 + sky_fraction -
        horizon`` looks down when there is more sky than ``horizon``; ``h = horizon +
        near_fraction - ground_fraction`` is the height of the move target (below 0.5 aims the
        motion upward, so the camera climbs as near ground fills the frame).
    """
    plane = _disparity_plane(disparity)
    sky = (_SKY_RAMP * (_SKY_DISPARITY - plane)).clamp(0.0, 1.0)
    half_width = plane.shape[-1] // 2
    sky_left = float(sky[:, :half_width].mean())
    sky_right = float(sky[:, half_width:].mean())
    x = (sky_right + _BALANCE_EPS) / (sky_left + sky_right + 2 * _BALANCE_EPS)
    y = 0.5 + float(sky.mean()) - horizon
    ground = (_NEAR_RAMP * (plane - _NEAR_DISPARITY)).clamp(0.0, 1.0)
    h = horizon + (near_fraction - float(ground.mean()))
    return x, y, h


@dataclass(frozen=True)
class FlyDynamicConfig:
    """Parameters of :class:`FlyDynamic` (the original's defaults).

    speed: depth units moved per frame; negative flies backwards (the sky balance and the
        climb target are mirrored, as in the original).
    lerp, movelerp: per-frame blend factors in [0, 1] of the look and move directions.
    horizon, near_fraction: targets of :func:`skyline_balance`.
    meander_{x,y}_period: frames per cycle of a sinusoidal wander of the look target.
    meander_{x,y}_magnitude: its amplitude in texture units (0 disables it).
    level: fly level with gravity (the start camera's +y); the fields below apply only then.
    max_pitch_deg: bound in [0, 90) on the look direction's angle above/below the horizontal.
    max_climb_deg: bound in [0, 90) on the motion's climb or descent angle while the nearby ground lies at
        least half ``min_clearance`` below the camera.
    max_escape_climb_deg: in [max_climb_deg, 90): nearer than that (a slope at least as steep as the climb)
        the climb steepens, to this at ``-0.5 * min_clearance`` (the nearby ground above the camera).
    min_clearance: flight units; below this height over the nearby ground seen in the frame the
        motion climbs (0 disables the rule). The built-in samples start at 0.25 to 0.32.
    level_rate: fraction in [0, 1] of the look pitch removed per frame (a pull toward the horizon).
    """

    speed: float = 0.2
    lerp: float = 0.05
    movelerp: float = 0.05
    horizon: float = 0.3
    near_fraction: float = 0.2
    meander_x_period: float = 100
    meander_x_magnitude: float = 0.0
    meander_y_period: float = 100
    meander_y_magnitude: float = 0.0
    level: bool = False
    max_pitch_deg: float = 25.0
    max_climb_deg: float = 15.0
    min_clearance: float = 0.15
    level_rate: float = 0.02
    max_escape_climb_deg: float = 60.0

    def __post_init__(self) -> None:
        check_config_numbers(self, flags=("level",))
        for name in ("max_pitch_deg", "max_climb_deg", "max_escape_climb_deg"):
            if not 0.0 <= getattr(self, name) < 90.0:
                raise ValueError(f"FlyDynamicConfig.{name} must lie in [0, 90) degrees, got {getattr(self, name)}")
        if self.max_escape_climb_deg < self.max_climb_deg:
            raise ValueError(f"FlyDynamicConfig.max_escape_climb_deg ({self.max_escape_climb_deg}) must not be below "
                             f"max_climb_deg ({self.max_climb_deg})")
        if self.min_clearance < 0:
            raise ValueError(f"FlyDynamicConfig.min_clearance must be >= 0 (0 disables it), got {self.min_clearance}")
        for name in ("lerp", "movelerp", "level_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"FlyDynamicConfig.{name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("meander_x_period", "meander_y_period"):
            if getattr(self, name) == 0:
                raise ValueError(f"FlyDynamicConfig.{name} must be non-zero")

    def meander(self, frame_index: int) -> tuple[float, float]:
        """The sinusoidal look-target wander ``(dx, dy)`` at ``frame_index`` (0 for frame 0)."""
        phase = frame_index * 2.0 * math.pi
        return (
            math.sin(phase / self.meander_x_period) * self.meander_x_magnitude,
            math.sin(phase / self.meander_y_period) * self.meander_y_magnitude,
        )


class FlyDynamic(CameraController):
    """The official ``fly_dynamic`` autopilot as a stateful :class:`CameraController`.

    Args:
        intrinsics: ``[4]`` ``[fx, fy, cx, cy]`` in texture units (the original's default is
            ``[0.8, 0.8 * W / H, 0.5, 0.5]``).
        cam_from_world: start pose, world-to-camera ``[3, 4]`` (or ``[4, 4]``); returned poses
            have its dtype and device.
        speed ... max_escape_climb_deg: see :class:`FlyDynamicConfig`.

    Each :meth:`next` call looks at the given frame's disparity and returns the next pose.
    ``offset = (dx, dy)`` is the user's steering in texture units; it takes the place of the
    original's ``turn_function(t)``: it is added to the look target (``+dx`` aims right,
    ``+dy`` aims down; the original demo sends ``2 * cursor - 1``, so a click at the right edge
    gives ``dx = 1``), and the meander is added on top. :meth:`reset` restarts the flight;
    :meth:`set_speed` changes the speed from the next frame on (the web demo's slider).
    With ``level=True`` the camera keeps the start pose's down axis as gravity (see the module).
    """

    def __init__(self, intrinsics: Tensor, cam_from_world: Tensor, speed: float = 0.2, lerp: float = 0.05,
                 movelerp: float = 0.05, horizon: float = 0.3, near_fraction: float = 0.2,
                 meander_x_period: float = 100, meander_x_magnitude: float = 0.0,
                 meander_y_period: float = 100, meander_y_magnitude: float = 0.0, level: bool = False,
                 max_pitch_deg: float = 25.0, max_climb_deg: float = 15.0, min_clearance: float = 0.15,
                 level_rate: float = 0.02, max_escape_climb_deg: float = 60.0) -> None:
        self.config = FlyDynamicConfig(
            speed=speed, lerp=lerp, movelerp=movelerp, horizon=horizon, near_fraction=near_fraction,
            meander_x_period=meander_x_period, meander_x_magnitude=meander_x_magnitude,
            meander_y_period=meander_y_period, meander_y_magnitude=meander_y_magnitude, level=level,
            max_pitch_deg=max_pitch_deg, max_climb_deg=max_climb_deg, min_clearance=min_clearance,
            level_rate=level_rate, max_escape_climb_deg=max_escape_climb_deg,
        )
        self._intrinsics = check_intrinsics(intrinsics).detach().to("cpu", torch.float64)
        self.reset(cam_from_world)

    @classmethod
    def from_config(cls, intrinsics: Tensor, cam_from_world: Tensor, config: FlyDynamicConfig) -> FlyDynamic:
        """Build from a :class:`FlyDynamicConfig`."""
        return cls(intrinsics, cam_from_world, **vars(config))

    def _restart(self, start: Tensor) -> None:
        """Look and move along the start pose's +z (``start``: float64 CPU ``[3, 4]``)."""
        self._cam_from_world = start
        self._world_from_cam = invert_pose(self._cam_from_world)
        self._look_dir = self._world_from_cam[:, 2].clone()
        self._move_dir = self._look_dir.clone()
        self._position = self._world_from_cam[:, 3].clone()
        self._gravity = torch.nn.functional.normalize(self._world_from_cam[:, 1].clone(), dim=0)
        self._clearance: float | None = None

    # Read-only state, as float64 copies in world coordinates.
    @property
    def position(self) -> Tensor:
        """Camera centre ``[3]``."""
        return self._position.clone()

    @property
    def look_dir(self) -> Tensor:
        """Smoothed look direction ``[3]`` (not unit length in general; unit in level mode)."""
        return self._look_dir.clone()

    @property
    def move_dir(self) -> Tensor:
        """Smoothed motion direction ``[3]``; a frame moves ``speed * move_dir`` (unit in level mode)."""
        return self._move_dir.clone()

    @property
    def gravity(self) -> Tensor:
        """Unit world down ``[3]``: the start pose's +y axis (level mode keeps it as the camera's down)."""
        return self._gravity.clone()

    def set_gravity(self, down: Tensor) -> None:
        """Fly level with ``down [3]`` (world coordinates, normalized here) instead of the start pose's +y.

        For a start camera that was not level (a photo taken looking down a little): a memory
        that knows better (:attr:`viewgen.memory.Memory.gravity`) hands its estimate over at reset.
        Only level mode uses it; call it before the first :meth:`next`.
        """
        self._gravity = unit_down(down)

    @property
    def clearance(self) -> float | None:
        """Level mode: the last ground-clearance estimate in flight units (``inf``: no nearby ground
        seen); ``None`` before the first step or without ``level``."""
        return self._clearance

    def _pose(self) -> Tensor:
        return self._cam_from_world

    def _targets_uv(self, disparity: Tensor, offset: tuple[float, float], signal: float = 1.0) -> Tensor:
        """Look and move targets ``[2, 2]`` (rows: look uv, move uv) for this frame, steered by ``offset`` (checked).

        ``signal`` in [0, 1] scales the skyline balance's look target about the image centre
        (level mode; 1 keeps the original's target unchanged).
        """
        dx, dy = offset
        meander_x, meander_y = self.config.meander(self._frame_index)
        x, y, h = skyline_balance(disparity, self.config.horizon, self.config.near_fraction)
        if self.config.speed < 0:
            x, h = 1.0 - x, 1.0 - h
        if signal != 1.0:
            x, y = 0.5 + signal * (x - 0.5), 0.5 + signal * (y - 0.5)
        return torch.tensor([[x + (dx + meander_x), y + (dy + meander_y)], [0.5, h]], dtype=torch.float64)

    def _target_dirs(self, targets_uv: Tensor) -> Tensor:
        """Unit world directions ``[2, 3]`` from the camera to the lifted look and move targets."""
        targets_world = transform_points(self._world_from_cam, uv_to_rays(targets_uv, self._intrinsics))
        # eps 1e-6 on the norm = TF l2_normalize's 1e-12 on the squared norm
        return torch.nn.functional.normalize(targets_world - self._position, dim=-1, eps=1e-6)

    def next(self, rgbd: Tensor, offset=(0.0, 0.0)) -> Tensor:
        """One autopilot step from the frame ``rgbd [1, 4, H, W]``; returns ``cam_from_world [3, 4]``."""
        check_shape(rgbd, (1, 4, "H", "W"), "rgbd", hint=" (RGB + disparity, channels first)")
        offset = check_offset(offset)
        if self.config.level:
            return self._next_level(_disparity_plane(rgbd[0, 3]), offset)
        targets_uv = self._targets_uv(rgbd[0, 3], offset)
        self._advance()
        down = self._world_from_cam[:, 1]
        new_dirs = self._target_dirs(targets_uv)
        config = self.config
        self._look_dir = self._look_dir * (1.0 - config.lerp) + new_dirs[0] * config.lerp
        self._move_dir = self._move_dir * (1.0 - config.movelerp) + new_dirs[1] * config.movelerp
        self._position = self._position + self._move_dir * config.speed
        self._cam_from_world = look_direction_pose(self._position, self._look_dir, down)
        self._world_from_cam = invert_pose(self._cam_from_world)
        return self.cam_from_world

    def _next_level(self, disparity: Tensor, offset: tuple[float, float]) -> Tensor:
        """The level-mode step from the float64 ``disparity [H, W]`` (see ``docs/autopilot.md``)."""
        config, down, forward = self.config, self._gravity, self._world_from_cam[:, 2]
        targets_uv = self._targets_uv(disparity, offset, disparity_signal(disparity))
        # steered, the view does not turn away from a slope ahead by itself: its upper half counts too
        steered = offset != (0.0, 0.0)
        self._clearance = ground_clearance(disparity, self._intrinsics, self._world_from_cam, down, steered)
        self._advance()
        new_dirs = self._target_dirs(targets_uv)
        max_pitch, max_climb = math.radians(config.max_pitch_deg), math.radians(config.max_climb_deg)
        look = self._look_dir * (1.0 - config.lerp) + new_dirs[0] * config.lerp
        self._look_dir = with_pitch_in(look, down, -max_pitch, max_pitch, forward, relax=config.level_rate)
        # the camera travels along sign * move_dir: bound that direction's climb and descent
        sign = -1.0 if config.speed < 0 else 1.0
        move = (self._move_dir * (1.0 - config.movelerp) + new_dirs[1] * config.movelerp) * sign
        steepest = max_descent(self._clearance, config.min_clearance, max_climb,
                               math.radians(config.max_escape_climb_deg))  # pitch > 0 descends
        self._move_dir = with_pitch_in(move, down, min(-max_climb, steepest), steepest, forward * sign) * sign
        self._position = self._position + self._move_dir * config.speed
        self._cam_from_world = look_direction_pose(self._position, self._look_dir, down)
        self._world_from_cam = invert_pose(self._cam_from_world)
        return self.cam_from_world
