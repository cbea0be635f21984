"""InfiniteNature-Zero's autopilot (``models/fly_camera.auto_pilot``), step for step.

Each step reads three numbers off the current disparity (:func:`zero_skyline_balance`): where to
look (``x`` toward the half with more sky, ``y`` lower when there is more sky than ``horizon``)
and how high to aim the motion (``h``, lower, so climbing, as near ground fills the frame). The
look target ``(x, y)`` and the move target ``(0.5, h)`` become unit rays through
``((u W - cx) / fx, (v H - cy) / fy, 1)`` with the integer-pixel ``K`` (no half-pixel offset on
``u W``), and the look and move directions are blended toward them (``looklerp``, ``movelerp``,
never renormalized). The camera moves ``speed * move`` and is rebuilt looking along ``look``
with the previous camera's down axis. It differs from Infinite Nature's autopilot
(:mod:`viewgen.control.fly_dynamic`) in its constants, a y clamp, a 1e-8 balance epsilon, the
near-ground ramp (disparity 0.4 to 0.5) and, above all, in using the new rays **as camera-frame
vectors** blended into the world-frame state, without rotating them into the world first.

Dtypes follow the original run: the look, move and down state and the poses are float32, the
speed is a float64 tensor (Zero's ``disp_gamma`` is float64), so the position becomes float64
after the first step; the pose uses its float32 rounding. Units: disparity is 1/depth with depth
in [1, 100]; Zero's speed is ``0.025 * 7.5 = 0.1875`` depth units per frame.

:func:`zero_autopilot_step` is the pure step; :class:`ZeroAutopilot` wraps it as a
:class:`~viewgen.control.base.CameraController` flying from any start pose.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.control.base import CameraController, check_config_numbers, check_intrinsics, check_offset
from viewgen.geometry.intrinsics import integer_pixel_matrix
from viewgen.geometry.poses import compose_poses

__all__ = ["ZeroAutopilot", "ZeroAutopilotConfig", "ZeroAutopilotState", "zero_autopilot_step", "zero_skyline_balance"]

_SKY_RAMP = 20.0  # sky = clamp(20 (threshold - disparity), 0, 1)
_GROUND_DISPARITY, _GROUND_RAMP = 0.4, 10.0  # ground = clamp(10 (disparity - 0.4), 0, 1)
_BALANCE_EPS = 1e-8


@dataclass(frozen=True)
class ZeroAutopilotConfig:
    """Parameters of Zero's autopilot, defaulting to the released run (``pvg_lhq-test.py``, ``view_generation``).

    speed: depth units per frame (``cam_speed 0.025 * 7.5 * disp_gamma``, ``disp_gamma = 1``).
    looklerp, movelerp: per-frame blend factors in [0, 1] of the look and move directions.
    horizon: the fraction of the image the horizon should ideally lie below the top.
    sky_fraction: despite the name, the disparity below which a pixel counts as sky (ramping over 0.05).
    near_fraction: the fraction of near ground tolerated before climbing (``auto_pilot``'s own
        default is 0.2; the released script passes 0.3).
    """

    speed: float = 0.025 * 7.5
    looklerp: float = 0.05
    movelerp: float = 0.2
    horizon: float = 0.4
    sky_fraction: float = 0.1
    near_fraction: float = 0.3

    def __post_init__(self) -> None:
        check_config_numbers(self)
        for name in ("looklerp", "movelerp"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ZeroAutopilotConfig.{name} must lie in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class ZeroAutopilotState:
    """What the autopilot carries between steps, in the flight frame (the start camera's), each ``[B, 3]``.

    look, move: smoothed look and move directions (float32, not unit length in general).
    position: camera centre (float64 after the first step, as in the original).
    down: the last camera's +y axis, its down direction (the row ``cam_from_world[:, 1, :3]``).
    """

    look: Tensor
    move: Tensor
    position: Tensor
    down: Tensor

    @classmethod
    def start(cls, batch: int = 1, dtype: torch.dtype = torch.float32, device=None) -> ZeroAutopilotState:
        """Zero's start: at the origin, looking and moving along +z, down along +y."""
        forward = torch.tensor([[0.0, 0.0, 1.0]], dtype=dtype, device=device).repeat(batch, 1)
        down = torch.tensor([[0.0, 1.0, 0.0]], dtype=dtype, device=device).repeat(batch, 1)
        return cls(look=forward, move=forward.clone(), position=torch.zeros_like(forward), down=down)


def zero_skyline_balance(disparity: Tensor, horizon: float = 0.4, sky_threshold: float = 0.1,
                         near_fraction: float = 0.3) -> tuple[Tensor, Tensor, Tensor]:
    """Zero's look and climb targets from a disparity map ``[B, H, W]``: ``(x, y, h)``, each ``[B]``.

    ``x = (sky_right + 1e-8) / (sky_left + sky_right + 2e-8)`` (right-half over all sky, halves split
    at ``W // 2``), ``y = clamp(0.5 + mean(sky) - horizon, 0, 1)`` and ``h = horizon + (near_fraction
    - mean(ground))``, texture coordinates (0 = left/top); ``sky = clamp(20 (sky_threshold - d), 0, 1)``,
    ``ground = clamp(10 (d - 0.4), 0, 1)``. Unchecked (see :func:`zero_autopilot_step`).
    """
    sky = torch.clamp(_SKY_RAMP * (sky_threshold - disparity), 0.0, 1.0)
    y = torch.clamp(0.5 + torch.mean(sky, dim=[1, 2]) - horizon, 0.0, 1.0)
    half = disparity.shape[-1] // 2
    sky_left = torch.mean(sky[:, :, :half], dim=[1, 2])
    sky_right = torch.mean(sky[:, :, half:], dim=[1, 2])
    x = (sky_right + _BALANCE_EPS) / (sky_left + sky_right + 2 * _BALANCE_EPS)
    ground = torch.clamp(_GROUND_RAMP * (disparity - _GROUND_DISPARITY), 0.0, 1.0)
    h = horizon + (near_fraction - torch.mean(ground, dim=[1, 2]))
    return x, y, h


def _target_rays(pixel_matrix: Tensor, uv: Tensor, height: int, width: int) -> Tensor:
    """Unit camera rays ``[B, 2, 3]`` through texture coordinates ``uv [B, 2, 2]`` (the original's formula)."""
    fx, fy = pixel_matrix[0, 0], pixel_matrix[1, 1]
    cx, cy = pixel_matrix[0, 2], pixel_matrix[1, 2]
    ray_x = (uv[..., 0] * width - cx) / fx
    ray_y = (uv[..., 1] * height - cy) / fy
    rays = torch.cat([torch.stack([ray_x, ray_y], dim=-1), torch.ones_like(ray_x).unsqueeze(-1)], dim=-1)
    return F.normalize(rays, dim=-1)


def _look_pose(position: Tensor, look: Tensor, down: Tensor) -> Tensor:
    """World-to-camera ``[B, 3, 4]`` at ``position`` looking along ``look`` with ``down`` as down (float32 math).

    Rows of ``R``: ``n(down x look)``, ``n(look x right)``, ``n(look)``; ``t = -R position`` through
    the original's 4x4 product, with the position rounded to the directions' dtype.
    """
    batch = look.shape[0]
    right = F.normalize(torch.cross(down, look, dim=1), dim=-1)
    rotation = torch.eye(4, dtype=look.dtype, device=look.device).repeat(batch, 1, 1)
    rotation[:, 0, :3] = right
    rotation[:, 1, :3] = F.normalize(torch.cross(look, right, dim=1), dim=-1)
    rotation[:, 2, :3] = F.normalize(look, dim=-1)
    shift = torch.eye(4, dtype=look.dtype, device=look.device).repeat(batch, 1, 1)
    shift[:, :3, 3] = -position  # rounds a float64 position to the pose's dtype
    return (rotation @ shift)[:, :3]


def zero_autopilot_step(pixel_matrix: Tensor, disparity: Tensor, state: ZeroAutopilotState,
                        config: ZeroAutopilotConfig | None = None, speed: Tensor | None = None,
                        look_offset: tuple[float, float] = (0.0, 0.0)) -> tuple[Tensor, ZeroAutopilotState]:
    """One step of Zero's ``auto_pilot``, followed by ``view_generation``'s ``down`` update.

    Args:
        pixel_matrix: ``[3, 3]`` integer-pixel ``K`` of the frame (``geometry.integer_pixel_matrix``).
        disparity: ``[B, H, W]`` current disparity (cast to the state's dtype).
        state: the carried :class:`ZeroAutopilotState` (``ZeroAutopilotState.start()`` at first).
        config: constants (:class:`ZeroAutopilotConfig` defaults if ``None``).
        speed: ``[B]`` or ``[1]`` speed tensor; ``None`` uses ``config.speed`` as a float64 ``[1]``.
            Keep it 1-D: a 0-d tensor would not promote the position to float64.
        look_offset: ``(dx, dy)`` added to the look target in texture units (a steering input the
            original lacks; ``(0, 0)`` keeps it exact).

    Returns:
        ``(cam_from_world [B, 3, 4], next_state)``: the next pose in the flight frame (float32 for a
        float32 state) and the state after the step, whose ``down`` is that pose's second row.
    """
    config = ZeroAutopilotConfig() if config is None else config
    dtype = state.look.dtype
    disparity = disparity.to(dtype=dtype, device=state.look.device)
    pixel_matrix = pixel_matrix.to(dtype=dtype, device=state.look.device)
    speed = torch.tensor([config.speed], dtype=torch.float64) if speed is None else speed
    height, width = disparity.shape[-2:]
    x, y, h = zero_skyline_balance(disparity, config.horizon, config.sky_fraction, config.near_fraction)
    if look_offset[0] != 0.0 or look_offset[1] != 0.0:
        x, y = x + look_offset[0], y + look_offset[1]
    uv = torch.stack([torch.stack([x, y], dim=-1), torch.stack([torch.zeros_like(h) + 0.5, h], dim=-1)], dim=1)
    rays = _target_rays(pixel_matrix, uv, height, width)
    look = state.look * (1.0 - config.looklerp) + rays[:, 0] * config.looklerp
    move = state.move * (1.0 - config.movelerp) + rays[:, 1] * config.movelerp
    position = state.position + move * speed.to(state.look.device).unsqueeze(-1)
    cam_from_world = _look_pose(position, look, state.down)
    return cam_from_world, ZeroAutopilotState(look=look, move=move, position=position, down=cam_from_world[:, 1, :3])


class ZeroAutopilot(CameraController):
    """Zero's autopilot as a stateful :class:`~viewgen.control.base.CameraController`.

    Args:
        intrinsics: normalized ``[4]`` ``[fx, fy, cx, cy]`` (turned into the integer-pixel ``K`` at each
            frame's size) or the original's ``[3, 3]`` ``K`` in integer pixels (used as given).
        cam_from_world: start pose ``[3, 4]`` or ``[4, 4]``; returned poses have its dtype and device.
        config: a :class:`ZeroAutopilotConfig` (the released run's values by default).

    The flight runs in the start camera's frame, exactly as the original runs from the identity
    (float32 state, float64 position), and each pose is composed with the start pose:
    ``cam_from_world = cam_from_start @ start_cam_from_world`` (exact when the start is the identity).
    :meth:`next` reads the frame's disparity (channel 3); ``offset = (dx, dy)`` steers the look
    target in texture units (+x right, +y down), which the original does not have.
    """

    def __init__(self, intrinsics: Tensor, cam_from_world: Tensor, config: ZeroAutopilotConfig | None = None,
                 ) -> None:
        self.config = ZeroAutopilotConfig() if config is None else config
        if not isinstance(self.config, ZeroAutopilotConfig):
            raise ValueError(f"config must be a ZeroAutopilotConfig, got {type(self.config).__name__}")
        self._intrinsics = _check_camera(intrinsics)
        self.reset(cam_from_world)

    @classmethod
    def from_options(cls, intrinsics: Tensor, cam_from_world: Tensor, **options) -> ZeroAutopilot:
        """Build from :class:`ZeroAutopilotConfig` field values (``speed=0.1, near_fraction=0.2``)."""
        return cls(intrinsics, cam_from_world, ZeroAutopilotConfig(**options))

    def _restart(self, start: Tensor) -> None:
        self._start = start
        self._state = ZeroAutopilotState.start()
        self._cam_from_start = torch.eye(4, dtype=torch.float32)[:3]

    def _pose(self) -> Tensor:
        return compose_poses(self._cam_from_start.double(), self._start)

    @property
    def state(self) -> ZeroAutopilotState:
        """The carried state (flight frame: the start camera's), as copies."""
        return dataclasses.replace(self._state, **{f.name: getattr(self._state, f.name).clone()
                                                   for f in dataclasses.fields(self._state)})

    def pixel_matrix(self, height: int, width: int) -> Tensor:
        """The float32 integer-pixel ``K [3, 3]`` used for an ``H x W`` frame."""
        if self._intrinsics.shape == (3, 3):
            return self._intrinsics.float()
        return integer_pixel_matrix(self._intrinsics, height, width).float()

    def next(self, rgbd: Tensor, offset=(0.0, 0.0)) -> Tensor:
        """One step from the frame ``rgbd [1, 4, H, W]`` (disparity in channel 3); returns ``cam_from_world [3, 4]``."""
        if not isinstance(rgbd, Tensor):
            raise TypeError(f"rgbd must be a torch.Tensor, got {type(rgbd).__name__}")
        check_shape(rgbd, (1, 4, "H", "W"), "rgbd", hint=" (RGB + disparity, channels first)")
        check_min_size(rgbd, (1, 2), "rgbd")
        disparity = rgbd.detach()[:, 3].to("cpu", torch.float32)
        if not bool(torch.isfinite(disparity).all()):
            raise ValueError("rgbd disparity (channel 3) contains NaN or infinite values")
        look_offset = check_offset(offset)
        pose, self._state = zero_autopilot_step(self.pixel_matrix(*disparity.shape[-2:]), disparity, self._state,
                                                self.config, look_offset=look_offset)
        self._cam_from_start = pose[0]
        self._advance()
        return self.cam_from_world


def _check_camera(intrinsics: Tensor) -> Tensor:
    """Normalized ``[4]`` intrinsics or a ``[3, 3]`` pixel ``K`` (finite, positive focal lengths), float64 CPU."""
    if not isinstance(intrinsics, Tensor):
        raise TypeError(f"intrinsics must be a torch.Tensor, got {type(intrinsics).__name__}")
    check_shape(intrinsics, [(4,), (3, 3)], "intrinsics", hint=" ([fx, fy, cx, cy] normalized, or K in pixels)")
    if intrinsics.shape == (4,):
        return check_intrinsics(intrinsics.detach()).to("cpu", torch.float64)
    matrix = intrinsics.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(matrix).all()) or not (matrix[0, 0] > 0 and matrix[1, 1] > 0):
        raise ValueError(f"intrinsics K must be finite with positive fx, fy, got {matrix.tolist()}")
    return matrix
