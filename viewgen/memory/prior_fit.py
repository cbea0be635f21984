"""Fitting a procedural world to frame 0: where the camera stands in it, at what scale, in which colours.

The weight-free flight (:class:`~viewgen.memory.world_prior.WorldPrior`) sets frame 0 into a
procedural world built from the synthetic world's primitives (:mod:`viewgen.data.synthetic`).
Three things tie that world to the input:

* **the ground under frame 0** (:func:`fit_ground`): a plane fitted by least squares to the
  camera-space points of frame 0's lower ground pixels gives the camera's height above it (in
  the flight's units, depth = 1 / disparity) and its downward pitch;
* **the scale** (world metres per flight unit): the prior world's start clearance over that height;
* **the colours** (:class:`ColorMap`): the prior world's ground and sky, rendered at the start
  pose, shifted and scaled in luma and chroma to frame 0's ground and sky, so the world the
  flight discovers has the input's palette.

Hand-written: a colour transfer of means and spreads is a few lines (per-channel histogram
matching was tried first: it clamps colours the start view lacked, flattening a zenith into one
tone, and twists hues), and the plane fit is one least-squares solve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.geometry.projection import pixel_centers_uv

__all__ = ["MOUNTAIN_SKYLINE_SPREAD", "OPEN_SKY_DISPARITY", "SEA_HORIZON_COLUMNS", "ColorMap", "GroundFit",
           "fit_ground", "sea_horizon_fraction", "terrain_preset"]

# Disparity below which a pixel of frame 0 counts as sky (as viewgen.io.rgbd_files' all-sky check:
# the autopilot's soft sky mask is 1 below it).
SKY_DISPARITY = 0.05
# A skyline whose height varies across the image by more than this (standard deviation over the
# columns, a fraction of the image height) is a mountain skyline. Measured (80x128 renders at each
# preset's start, seeds 0-2): mountains 0.12-0.17; hills 0.014-0.041; coast 0.012-0.031; the
# built-in samples: coast 0.061, hills 0.073, mountains 0.166.
MOUNTAIN_SKYLINE_SPREAD = 0.1
# Open sky: disparity below this (depth beyond 100, the far end of the flight's depth range). Far ridges
# at 0.01-0.05 (1.5-6% of the built-in samples) are land here.
OPEN_SKY_DISPARITY = 0.01
# A sea horizon: at least this fraction of the columns meets the open sky within SEA_HORIZON_TOLERANCE
# (of the image height) of the lowest skyline row. Measured (160x256 renders at each preset's start, seeds
# 0-7, a one-pixel tolerance): coast 0.29-0.89, hills 0.02-0.18, mountains 0.01-0.03; the built-in coast
# sample 0.32, hills 0.02, mountains 0.02.
SEA_HORIZON_COLUMNS = 0.25
SEA_HORIZON_TOLERANCE = 0.005
_MIN_POINTS = 32
_SATURATED = 0.99  # disparity is clipped to 1 (depth 1): such pixels lie nearer than they say


@dataclass(frozen=True)
class GroundFit:
    """The ground plane under frame 0, in frame 0's camera (flight units).

    height: the camera's distance above the plane (> 0). pitch_deg: how far the camera looks
    down from the plane's horizontal (positive = down). fitted: False when frame 0 has too little
    ground for a fit (then ``height`` and ``pitch_deg`` are the fallbacks).
    """

    height: float
    pitch_deg: float
    fitted: bool


def fit_ground(disparity: Tensor, intrinsics: Tensor, *, fallback_height: float = 0.5,
               max_pitch_deg: float = 20.0) -> GroundFit:
    """Fit the ground plane to frame 0's ``disparity [H, W]`` (1/depth) seen with ``intrinsics [4]``.

    Uses ground pixels (disparity above :data:`SKY_DISPARITY`, below the clip at 1) of the lower half and
    fits ``y = a x + b z + c`` in camera coordinates (y down) by least squares; the height is the
    plane's distance from the camera, the pitch ``atan(-b)`` clamped to ``+-max_pitch_deg``.
    """
    height_px, width_px = disparity.shape[-2:]
    plane = disparity.reshape(height_px, width_px).double().cpu()
    uv = pixel_centers_uv(height_px, width_px, dtype=torch.float64)  # [H, W, 2]
    fx, fy, cx, cy = (float(c) for c in intrinsics.reshape(4))
    lower = torch.zeros_like(plane, dtype=torch.bool)
    lower[height_px // 2:] = True
    ground = lower & (plane > SKY_DISPARITY) & (plane < _SATURATED)  # clipped disparity has no depth
    if int(ground.sum()) < _MIN_POINTS:
        return GroundFit(fallback_height, 0.0, False)
    depth = 1.0 / plane[ground]
    x = (uv[..., 0][ground] - cx) / fx * depth
    y = (uv[..., 1][ground] - cy) / fy * depth
    design = torch.stack([x, depth, torch.ones_like(x)], dim=1)
    a, b, c = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1).tolist()
    height = c / math.sqrt(1.0 + a * a + b * b)
    if not (math.isfinite(height) and height > 1e-3):
        return GroundFit(fallback_height, 0.0, False)
    pitch = max(-max_pitch_deg, min(max_pitch_deg, math.degrees(math.atan(-b))))
    return GroundFit(height, pitch, True)


def _skyline(land: Tensor) -> Tensor:
    """First land row of each column of ``land [H, W]`` (bool): ``[W]`` long, ``H`` where a column is all sky."""
    height, width = land.shape
    rows = torch.arange(height).view(height, 1).expand(height, width)
    return torch.where(land, rows, torch.full_like(rows, height)).amin(dim=0)


def sea_horizon_fraction(disparity: Tensor) -> float:
    """Fraction of the columns of frame 0's ``disparity [H, W]`` whose land meets the open sky (disparity
    below :data:`OPEN_SKY_DISPARITY`) on one level line: within :data:`SEA_HORIZON_TOLERANCE` of the lowest
    skyline row (at least a pixel). A sea (or a plain) runs to the horizon there; hills and ridges stand above it.
    """
    height, width = disparity.shape[-2:]
    skyline = _skyline(disparity.reshape(height, width).cpu() >= OPEN_SKY_DISPARITY)
    skyline = skyline[(skyline > 0) & (skyline < height)]  # the columns where land meets sky inside the view
    if skyline.numel() == 0:
        return 0.0
    tolerance = max(1, round(SEA_HORIZON_TOLERANCE * height))
    return float((skyline >= skyline.max() - tolerance).sum()) / width


def terrain_preset(disparity: Tensor) -> str:
    """The synthetic-world preset whose terrain frame 0 looks like, from its ``disparity [H, W]``.

    ``"mountains"`` when the skyline (the first non-sky row of each column, sky below
    :data:`SKY_DISPARITY`) varies in height by more than :data:`MOUNTAIN_SKYLINE_SPREAD`; else
    ``"coast"`` when at least :data:`SEA_HORIZON_COLUMNS` of the columns meet the open sky on one level
    line (:func:`sea_horizon_fraction`: a sea horizon); else ``"hills"``.
    """
    height, width = disparity.shape[-2:]
    plane = disparity.reshape(height, width).float().cpu()
    skyline = _skyline(plane >= SKY_DISPARITY).double() / height
    if float(skyline.std()) > MOUNTAIN_SKYLINE_SPREAD:
        return "mountains"
    return "coast" if sea_horizon_fraction(plane) >= SEA_HORIZON_COLUMNS else "hills"


# RGB -> (Y, Cb, Cr) of ITU-R BT.601 without offsets: luma and two colour differences.
_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                         dtype=torch.float64)
_FROM_YCBCR = torch.linalg.inv(_TO_YCBCR)


class ColorMap:
    """Colour transfer of the prior world's land and sky to frame 0's ground and sky: mean and spread of luma, chroma.

    Built from the prior world rendered at the start pose (``world_rgb [3, H, W]``, ``world_sky
    [H, W]`` bool, ``world_water [H, W]`` bool or None) and frame 0 (``rgb [3, H, W]``, ``sky [H, W]``
    bool): in each region, luma and the two colour differences (YCbCr) are shifted and scaled so that
    their mean and standard deviation become frame 0's, the spread ratio bounded to [0.25, 1]: never more
    contrast or colour than the world's own. Stretching the world's chroma spread invented pink rock and
    acid-yellow grass; stretching its luma spread (frame 0's ground mixes sunlit and shaded land, the far
    views of a flight less so) made every later view harsher than the truth's (protocol (b), frames
    300-1000, 9 flights: patch ratio 2.48 -> 2.35 on average, lower in 8 of them), at a price in sharpness
    over the first hundred frames (coast, seed 0: 0.53 -> 0.41 of the truth's; docs/weight_free.md).
    Linear, so colours the start view did not contain (a zenith, a sunlit slope) keep their place instead
    of being clamped to the end of a histogram; in YCbCr a grey rock stays a tinted grey where scaling R,
    G and B apart would turn it violet. A region with fewer than 2% of the pixels in either
    image keeps the world's own colours.

    The world's water keeps its own colours and does not enter the land's fit: frame 0's ground mixes land
    and water in its own proportions, which the start views do not share (the coast sample's is a fifth
    sea, its prior world's 2%), so one transfer fitted on both darkened the open sea a flight finds to
    the navy of frame 0's forest (protocol (b), coast sample, seed 0: patch ratio 3.04 -> 2.38 kept own).
    """

    def __init__(self, world_rgb: Tensor, world_sky: Tensor, rgb: Tensor, sky: Tensor,
                 world_water: Tensor | None = None) -> None:
        self.maps: dict[bool, tuple[Tensor, Tensor, Tensor] | None] = {}
        minimum = 0.02 * sky.numel()
        land = ~world_sky if world_water is None else ~world_sky & ~world_water
        for is_sky in (False, True):
            ours, theirs = world_sky if is_sky else land, sky == is_sky
            if int(ours.sum()) < minimum or int(theirs.sum()) < minimum:
                self.maps[is_sky] = None
                continue
            source, target = _TO_YCBCR @ world_rgb[:, ours].double(), _TO_YCBCR @ rgb[:, theirs].double()
            # never more contrast or colour than the world has: no new hues, no stretched noise
            gain = (target.std(dim=1) / source.std(dim=1).clamp_min(1e-6)).clamp(0.25, 1.0)
            self.maps[is_sky] = (source.mean(dim=1), gain, target.mean(dim=1))

    def apply(self, world_rgb: Tensor, world_sky: Tensor, world_water: Tensor | None = None) -> Tensor:
        """Map ``world_rgb [3, H, W]`` (sky where ``world_sky [H, W]``, water, kept, where ``world_water``)
        to the input's palette, same shape."""
        out = world_rgb.clone()
        for is_sky, fitted in self.maps.items():
            region = world_sky if is_sky else ~world_sky
            if world_water is not None and not is_sky:
                region = region & ~world_water
            if fitted is None or not bool(region.any()):
                continue
            source_mean, gain, target_mean = (value.unsqueeze(1) for value in fitted)
            ycbcr = _TO_YCBCR @ world_rgb[:, region].double()
            out[:, region] = (_FROM_YCBCR @ ((ycbcr - source_mean) * gain + target_mean)).to(out)
        return out.clamp(0.0, 1.0)
