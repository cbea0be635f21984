"""Gravity-level flight for the autopilot: pitch bounds, a disparity signal, ground clearance.

The helpers of :class:`~viewgen.control.fly_dynamic.FlyDynamic`'s level mode
(``FlyDynamicConfig(level=True)``, see ``docs/autopilot.md``). Directions are float64 ``[3]``
tensors in world coordinates; ``down`` is the unit gravity direction (the start camera's +y).
A direction's *pitch* is its angle below the horizontal plane (the plane orthogonal to
``down``), in radians: > 0 looks down, as ``pitch_deg`` of
:func:`viewgen.evaluation.attitude.camera_attitude`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["CLEARANCE_QUANTILE", "CLEARANCE_RANGE", "SIGNAL_SPREAD", "SKY_DISPARITY", "disparity_signal",
           "ground_clearance", "max_descent", "pitch_of", "with_pitch_in"]

# Disparity spread (5th to 95th percentile) at and above which the skyline balance is trusted fully.
SIGNAL_SPREAD = 0.1
# Sky for the signal: the middle of the skyline balance's soft sky ramp (disparity 0.05 to 0.1).
SKY_DISPARITY = 0.075
# Ground points count for the clearance when their horizontal distance from the camera is at most
# this many flight units (15 frames at the default speed 0.2) ...
CLEARANCE_RANGE = 3.0
# ... and the clearance is this quantile of their drops below the camera (robust to a few outliers).
CLEARANCE_QUANTILE = 0.1
# At most this many samples per image side enter the clearance (a strided subsample).
_CLEARANCE_SAMPLES = 96
_TINY = 1e-9


def _split(direction: Tensor, down: Tensor) -> tuple[Tensor, float]:
    """``direction [3]`` -> (its horizontal part ``[3]``, its component along ``down``)."""
    vertical = float(direction @ down)
    return direction - vertical * down, vertical


def pitch_of(direction: Tensor, down: Tensor) -> float:
    """Angle of ``direction [3]`` below the horizontal, radians in [-pi/2, pi/2] (> 0 is down)."""
    horizontal, vertical = _split(direction, down)
    return math.atan2(vertical, float(horizontal.norm()))


def with_pitch_in(direction: Tensor, down: Tensor, low: float, high: float, fallback: Tensor,
                  relax: float = 0.0) -> Tensor:
    """Unit ``[3]`` with ``direction``'s heading and its pitch scaled by ``1 - relax``, clamped to [low, high].

    Args:
        direction, down, fallback: ``[3]`` world vectors; ``fallback``'s heading is used when
            ``direction`` has no horizontal part (it must have one).
        low, high: pitch bounds in radians, inside (-pi/2, pi/2).
        relax: fraction in [0, 1] of the pitch removed (pulls the direction toward the horizon).
    """
    horizontal, vertical = _split(direction, down)
    if float(horizontal.norm()) <= _TINY * max(1.0, abs(vertical)):
        horizontal = _split(fallback, down)[0]
    pitch = math.atan2(vertical, float(horizontal.norm())) * (1.0 - relax)
    pitch = min(max(pitch, low), high)
    heading = horizontal / horizontal.norm()
    return heading * math.cos(pitch) + down * math.sin(pitch)


def disparity_signal(disparity: Tensor) -> float:
    """How much the skyline balance can be trusted, in [0, 1], from ``disparity [H, W]``.

    The spread between the 5th and 95th percentile of the disparity over :data:`SIGNAL_SPREAD`,
    plus the fraction of sky (disparity <= :data:`SKY_DISPARITY`), clipped to 1: 0 for a uniform
    frame without sky (no signal), 1 for any frame with sky and ground, and 1 for all sky (the
    balance then looks down to find the ground).
    """
    values = disparity[:: max(1, disparity.shape[0] // 64), :: max(1, disparity.shape[1] // 64)].reshape(-1)
    low, high = torch.quantile(values, torch.tensor([0.05, 0.95], dtype=values.dtype)).tolist()
    sky = float((values <= SKY_DISPARITY).to(values.dtype).mean())
    return min(max((high - low) / SIGNAL_SPREAD + sky, 0.0), 1.0)


def _sample_grid(height: int, width: int) -> tuple[slice, slice, Tensor, Tensor]:
    """Strided sample of an ``[H, W]`` image: row/column slices and their ``v [h]``, ``u [w]``."""
    rows = slice(max(1, height // _CLEARANCE_SAMPLES) // 2, None, max(1, height // _CLEARANCE_SAMPLES))
    cols = slice(max(1, width // _CLEARANCE_SAMPLES) // 2, None, max(1, width // _CLEARANCE_SAMPLES))
    v = (torch.arange(height, dtype=torch.float64)[rows] + 0.5) / height
    u = (torch.arange(width, dtype=torch.float64)[cols] + 0.5) / width
    return rows, cols, v, u


def ground_clearance(disparity: Tensor, intrinsics: Tensor, world_from_cam: Tensor, down: Tensor,
                     whole_frame: bool = False) -> float:
    """Height of the camera above the nearby ground it sees, in flight units (``inf``: none seen).

    Every (subsampled) pixel of the lower image half (``v > cy``; of the whole image with ``whole_frame``:
    a slope ahead that rises above the camera counts too) is lifted to the point at depth
    ``1 / clip(disparity, 0.01, 1)``; of those whose horizontal distance from the camera is at
    most :data:`CLEARANCE_RANGE`, the clearance is the :data:`CLEARANCE_QUANTILE` quantile of their
    drop ``(point - camera) . down`` below the camera (negative: ground above the camera).

    Args:
        disparity: float64 ``[H, W]`` frame seen from the camera.
        intrinsics: float64 ``[4]`` ``[fx, fy, cx, cy]`` (texture units).
        world_from_cam: float64 ``[3, 4]`` camera-to-world pose of that frame.
        down: float64 unit ``[3]`` gravity direction.
    """
    fx, fy, cx, cy = intrinsics.tolist()
    rows, cols, v, u = _sample_grid(*disparity.shape)
    counted = torch.ones_like(v, dtype=torch.bool) if whole_frame else v > cy  # the rows that count
    depth = 1.0 / disparity[rows, cols][counted].clamp(0.01, 1.0)
    x = ((u - cx) / fx).expand(depth.shape)
    y = ((v[counted] - cy) / fy).unsqueeze(-1).expand(depth.shape)
    offsets = torch.stack([x, y, torch.ones_like(x)], dim=-1) * depth.unsqueeze(-1) @ world_from_cam[:, :3].T
    drop = offsets @ down
    distance = (offsets - drop.unsqueeze(-1) * down).norm(dim=-1)
    near = drop[distance <= CLEARANCE_RANGE]
    if near.numel() == 0:
        return math.inf
    return float(torch.quantile(near, CLEARANCE_QUANTILE))


def max_descent(clearance: float, min_clearance: float, max_climb: float, escape_climb: float | None = None) -> float:
    """Steepest descent angle (radians; < 0 forces a climb) the motion may take at ``clearance``.

    ``max_climb`` at or above ``min_clearance`` (and always when ``min_clearance`` is 0), falling
    linearly to 0 (level flight) at ``0.75 * min_clearance`` and to ``-max_climb`` (the steepest
    climb) at ``0.5 * min_clearance``. Below that it stays there when ``escape_climb`` is None; else
    (``escape_climb >= max_climb``: the ground rises as steeply as the camera climbs, or more) the climb
    steepens on, reaching ``-escape_climb`` at ``-0.5 * min_clearance`` (the nearby ground above the camera).
    """
    if min_clearance <= 0 or clearance >= min_clearance:
        return max_climb
    if clearance >= 0.5 * min_clearance or escape_climb is None:
        return max_climb * max(-1.0, 4.0 * clearance / min_clearance - 3.0)
    steepening = min(1.0, (0.5 * min_clearance - clearance) / min_clearance)
    return -(max_climb + (escape_climb - max_climb) * steepening)
