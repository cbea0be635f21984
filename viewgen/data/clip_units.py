"""A posed clip's units: the scale that turns its camera translations into its start frame's depth units.

A flight (and a training rollout) measures lengths in the start frame's depth unit (depth =
1 / disparity). A real clip's poses come from structure from motion at an arbitrary scale, and its
disparity from a depth backend, so the number ``a`` of depth units per pose unit is not known: it is
**fitted** (:func:`fit_scale`): of a log-spaced grid, the one whose plain warps of the start frame
(holes filled by the nearest pixel, :func:`~viewgen.rendering.holes.warp_nearest_fill`) best match
the clip's later frames in mean absolute RGB error, as median scaling does in monocular depth
evaluation. Its ``gain`` says how far that error is below a still camera's; near 0 the frames do not
tell the motion's size (glinting water, a poor disparity) and the scale is not known.

A clip's frames must also share one disparity unit before a rollout can be trained on them. The
units of a whole clip are a :class:`ClipUnits`: the pose scale and, per frame, the gain and offset that
put that frame's stored disparity in frame 0's unit (``disparity = gain * stored + offset``):

* **synthetic clips** (``viewgen synth``) know them exactly from ``metadata.json`` (``depth = s_t /
  stored_t`` metres): ``pose_scale = 1 / s_0``, ``gain_t = s_0 / s_t``, ``offset_t = 0``;
* **prepared real clips** (``viewgen prepare-clips``, :mod:`viewgen.data.prepared_clips`) store a depth
  backend's min-max normalised disparity per frame and the units fitted from it in ``prepared.json``:
  the pose scale by :func:`fit_scale`, then frame by frame the affine map that best puts frame
  ``t``'s disparity on the points of frame ``t - 1`` moved into camera ``t`` (:func:`fit_disparity_map`),
  as the original aligned each frame's estimate to its structure-from-motion points.

Used by ``viewgen eval``'s posed-clip protocol, ``viewgen prepare-clips`` and the clip windows of
training (:class:`~viewgen.data.datasets.PosedClipWindows`). Hand-written: no library fits a pose scale
or a disparity unit to a warp.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.data.posed_clips import PosedClip
from viewgen.geometry.poses import transform_points
from viewgen.geometry.projection import pixel_centers_uv, project, unproject
from viewgen.rendering.holes import warp_nearest_fill

__all__ = ["PREPARED_FILE", "SCALE_GRID", "ClipUnits", "ScaleFit", "clip_units", "fit_disparity_map", "fit_scale",
           "scale_translations"]

PREPARED_FILE = "prepared.json"  # in a clip's frame folder, written by viewgen prepare-clips

SCALE_GRID = 41  # candidate scales, log-spaced (see fit_scale)
_SCALE_RANGE = (1e-3, 2.0)  # the last frame's camera moves this far (frame 0's depth units) at the ends of the grid


def scale_translations(poses: Tensor, scale: float) -> Tensor:
    """``poses [..., 3, 4]`` with their translations times ``scale`` (a new tensor)."""
    scaled = poses.clone()
    scaled[..., 3] *= scale
    return scaled


@dataclass(frozen=True)
class ScaleFit:
    """A fitted scale: ``scale`` (flight units per pose unit) and ``gain``, how much its warps' error is below
    frame 0 repeated (``1 - best / still``; near or below 0: the frames do not tell the motion's size, e.g.
    glinting water, or the disparity is poor)."""

    scale: float
    gain: float


def fit_scale(rgbd: Tensor, poses: Tensor, intrinsics: Tensor, targets: Tensor) -> ScaleFit:
    """The scale whose warps of ``rgbd [1, 4, H, W]`` to ``poses[1:]`` (``[T, 3, 4]`` relative to frame 0, pose
    units) best match ``targets [T - 1, 3, H, W]`` (mean absolute RGB error over all of them).

    :data:`SCALE_GRID` candidates, log-spaced so that the camera's farthest position lies between
    ``_SCALE_RANGE`` depth units from frame 0's; a path that does not move gets scale 1 and gain 0.
    """
    travel = float(poses[1:, :, 3].norm(dim=1).max()) if poses.shape[0] > 1 else 0.0
    if travel < 1e-12:
        return ScaleFit(1.0, 0.0)
    low, high = (math.log(bound / travel) for bound in _SCALE_RANGE)
    candidates = torch.linspace(low, high, SCALE_GRID, dtype=torch.float64).exp().tolist()
    errors = []
    for scale in candidates:
        warped = warp_nearest_fill(rgbd, scale_translations(poses, scale).to(rgbd.dtype), intrinsics)[1:, :3]
        errors.append(float((warped - targets).abs().mean()))
    best = min(range(len(errors)), key=errors.__getitem__)
    still = float((rgbd[:, :3] - targets).abs().mean())  # frame 0 repeated
    return ScaleFit(candidates[best], 1.0 - errors[best] / max(still, 1e-12))


_MIN_POINTS = 64  # fewer shared points than this: a frame keeps the previous frame's map
_TRIM = 0.8  # the refit keeps this share of the points, those that fit best (occlusions, the sky's edge out)


def fit_disparity_map(disparity: Tensor, next_stored: Tensor, next_from_this: Tensor,
                      intrinsics: Tensor) -> tuple[float, float] | None:
    """``(gain, offset)`` with ``gain * next_stored + offset`` the disparity of the next frame in ``disparity``'s unit.

    disparity: ``[H, W]`` this frame's, in the clip's unit (0 for the sky: not used); next_stored: ``[H, W]`` the
    next frame's stored disparity (any affine unit); next_from_this: ``[3, 4]`` the next camera from this one, in
    that unit's depth; intrinsics: ``[4]`` normalized. This frame's points (depth ``1 / disparity``) are moved into
    the next camera; where they land in view, their new disparity ``1 / z`` is fitted by least squares to
    ``next_stored`` there, then refitted on the best :data:`_TRIM` of them. None when under :data:`_MIN_POINTS`
    points are shared or the fit is not increasing (``gain <= 0``).
    """
    height, width = disparity.shape
    valid = disparity.reshape(-1) > 1e-3
    uv = pixel_centers_uv(height, width, dtype=torch.float64).reshape(-1, 2)[valid]
    points = unproject(uv, 1.0 / disparity.reshape(-1)[valid].double(), intrinsics.double())
    moved_uv, depth = project(transform_points(next_from_this.double(), points), intrinsics.double())
    seen = (depth > 1e-6) & (moved_uv > 0).all(dim=1) & (moved_uv < 1).all(dim=1)
    if int(seen.sum()) < _MIN_POINTS:
        return None
    grid = (2 * moved_uv[seen] - 1).view(1, 1, -1, 2).to(next_stored.dtype)
    stored = F.grid_sample(next_stored.view(1, 1, height, width), grid, align_corners=False).reshape(-1).double()
    target = 1.0 / depth[seen]
    design = torch.stack([stored, torch.ones_like(stored)], dim=1)
    solution = torch.linalg.lstsq(design, target.unsqueeze(1)).solution
    keep = (design @ solution - target.unsqueeze(1)).abs().reshape(-1)
    keep = keep <= keep.quantile(_TRIM)
    solution = torch.linalg.lstsq(design[keep], target[keep].unsqueeze(1)).solution.reshape(-1)
    gain, offset = float(solution[0]), float(solution[1])
    return (gain, offset) if gain > 0 and math.isfinite(gain) and math.isfinite(offset) else None


@dataclass(frozen=True)
class ClipUnits:
    """A clip in one unit (see the module doc): lengths times ``pose_scale`` are frame 0's depth units; frame
    ``t``'s disparity is ``disparity_gain[t] * stored_t + disparity_offset[t]``. ``source``: ``"metadata"`` (exact)
    or ``"prepared:<depth backend>"``; ``scale_gain``: a fitted scale's :attr:`ScaleFit.gain` (None when exact)."""

    pose_scale: float
    disparity_gain: tuple[float, ...]
    disparity_offset: tuple[float, ...]
    source: str
    scale_gain: float | None = None

    def to_dict(self) -> dict:
        return {"pose_scale": self.pose_scale, "disparity_gain": list(self.disparity_gain),
                "disparity_offset": list(self.disparity_offset), "source": self.source, "scale_gain": self.scale_gain}


def clip_units(clip: PosedClip) -> ClipUnits | None:
    """The units of ``clip``: exact from its ``metadata.json`` scales, else from its ``prepared.json`` (written by
    ``viewgen prepare-clips``), else None (its frames' disparity is not known). One-line ``ValueError`` for a
    ``prepared.json`` that does not fit the clip."""
    if clip.disparity_scales is not None:
        scales = clip.disparity_scales.tolist()
        return ClipUnits(1.0 / scales[0], tuple(scales[0] / scale for scale in scales), (0.0,) * len(scales),
                         "metadata")
    if not clip.frame_paths:
        return None
    path = clip.frame_paths[0].parent / PREPARED_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        units = ClipUnits(float(record["pose_scale"]), tuple(map(float, record["disparity_gain"])),
                          tuple(map(float, record["disparity_offset"])), str(record["source"]),
                          record.get("scale_gain"))
        stamps = [int(stamp) for stamp in record["timestamps"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a prepare-clips record ({type(error).__name__}: {error})") from None
    if stamps != clip.timestamps.tolist() or len(units.disparity_gain) != len(clip):
        raise ValueError(f"{path} was prepared for other frames than {clip.name}'s camera file lists; run "
                         "viewgen prepare-clips again")
    return units
