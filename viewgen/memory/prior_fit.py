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
  flight discovers has the input's palette; the land's statistics read along the way a flight goes
  (:func:`palette_land`, :meth:`ColorMap.with_land_palette`) rather than from the start view alone.

Hand-written: a colour transfer of means and spreads is a few lines (per-channel histogram
matching was tried first: it clamps colours the start view lacked, flattening a zenith into one
tone, and twists hues), and the plane fit is one least-squares solve.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.data.synthetic.flights import FlightConfig, generate_flight
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.renderer import render, surface_points
from viewgen.data.synthetic.world import World
from viewgen.geometry.projection import pixel_centers_uv

__all__ = ["MOUNTAIN_SKYLINE_SPREAD", "OPEN_SKY_DISPARITY", "PALETTE_HEIGHT_QUANTILES", "PALETTE_VIEWS",
           "SEA_HORIZON_COLUMNS", "ColorMap", "GroundFit", "fit_ground", "palette_cameras", "palette_land",
           "sea_horizon_fraction", "terrain_preset"]

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
PALETTE_VIEWS = 12  # views of the prior world's land along the way a flight goes (palette_land)
PALETTE_HEIGHT_QUANTILES = (0.05, 0.95)  # of the start view's land heights: the band the palette reads
_PALETTE_SIZE = (40, 64)  # pixels of a palette view: its colours count, not its detail
_PALETTE_PATH_FRAMES = 1000  # steps of the drone path the views are spread over
_PATH_LOOKAHEAD_FRAMES = 42  # the drone path looks this many steps ahead for the ground it must clear (250 m at 6)
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
    image keeps the world's own colours. :meth:`with_land_palette` swaps the land's source statistics
    for those of land seen elsewhere (one start view is a noisy palette).

    The world's water keeps its own colours and does not enter the land's fit: frame 0's ground mixes land
    and water in its own proportions, which the start views do not share (the coast sample's is a fifth
    sea, its prior world's 2%), so one transfer fitted on both darkened the open sea a flight finds to
    the navy of frame 0's forest (protocol (b), coast sample, seed 0: patch ratio 3.04 -> 2.38 kept own).
    """

    def __init__(self, world_rgb: Tensor, world_sky: Tensor, rgb: Tensor, sky: Tensor,
                 world_water: Tensor | None = None) -> None:
        # region (sky?) -> (source mean, gain, target mean, target std) in YCbCr, or None: keep the world's
        self.maps: dict[bool, tuple[Tensor, Tensor, Tensor, Tensor] | None] = {}
        minimum = 0.02 * sky.numel()
        land = ~world_sky if world_water is None else ~world_sky & ~world_water
        for is_sky in (False, True):
            ours, theirs = world_sky if is_sky else land, sky == is_sky
            enough = int(ours.sum()) >= minimum and int(theirs.sum()) >= minimum
            self.maps[is_sky] = _fit(world_rgb[:, ours], rgb[:, theirs]) if enough else None

    def with_land_palette(self, world_land: Tensor) -> ColorMap:
        """A copy whose land transfer starts from ``world_land [3, P]`` (the world's land pixels, e.g. from
        :func:`palette_land`) instead of the start view's land; frame 0's side and the sky stay as they are.
        Unchanged where the start view fitted no land transfer or ``world_land`` has fewer than
        :data:`_MIN_POINTS` pixels (too few for a spread)."""
        fitted = self.maps[False]
        palette = copy.copy(self)
        palette.maps = dict(self.maps)
        if fitted is not None and world_land.shape[1] >= _MIN_POINTS:
            palette.maps[False] = _statistics(*_moments(world_land), fitted[2], fitted[3])
        return palette

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
            source_mean, gain, target_mean = (value.unsqueeze(1) for value in fitted[:3])
            ycbcr = _TO_YCBCR @ world_rgb[:, region].double()
            out[:, region] = (_FROM_YCBCR @ ((ycbcr - source_mean) * gain + target_mean)).to(out)
        return out.clamp(0.0, 1.0)


def _statistics(source_mean: Tensor, source_std: Tensor, target_mean: Tensor,
                target_std: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One region's transfer: (source mean, gain, target mean, target std), the gain (spread ratio) in [0.25, 1]:
    never more contrast or colour than the world has (no new hues, no stretched noise)."""
    gain = (target_std / source_std.clamp_min(1e-6)).clamp(0.25, 1.0)
    return source_mean, gain, target_mean, target_std


def _moments(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation ``([3], [3])`` float64 of pixels ``rgb [3, P]`` in YCbCr."""
    ycbcr = _TO_YCBCR @ rgb.double()
    return ycbcr.mean(dim=1), ycbcr.std(dim=1)


def _fit(source_rgb: Tensor, target_rgb: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`_statistics` of pixels ``source_rgb [3, P]`` mapped onto ``target_rgb [3, Q]``."""
    return _statistics(*_moments(source_rgb), *_moments(target_rgb))


def palette_cameras(world: World, start: Tensor, clearance: float, reach_m: float) -> Tensor:
    """The cameras of :func:`palette_land`: ``[1 + V, 3, 4]`` float32 world -> camera, ``start`` first, then
    :data:`PALETTE_VIEWS` spread evenly along the drone path from it over ``reach_m`` metres."""
    start = start.double().cpu()
    step = reach_m / _PALETTE_PATH_FRAMES
    pitch_deg = math.degrees(math.asin(max(-1.0, min(1.0, float(start[2, 1])))))  # camera +z's downward part
    way = FlightConfig(speed=max(step, 1e-3), altitude=clearance, pitch_deg=pitch_deg,
                       min_clearance=min(FlightConfig.min_clearance, clearance),
                       lookahead=_PATH_LOOKAHEAD_FRAMES * step)
    path = generate_flight(world, _PALETTE_PATH_FRAMES, start=start, config=way)
    along = torch.linspace(0, _PALETTE_PATH_FRAMES - 1, PALETTE_VIEWS).round().long()
    return torch.cat([start[None].float(), path[along]])  # the start view first: it sets the band of heights


def palette_land(world: World, start: Tensor, clearance: float, intrinsics: Tensor, reach_m: float,
                 config: RenderConfig | None = None) -> Tensor:
    """The land of ``world`` where a flight from ``start`` goes, of the kind frame 0 shows: its land pixels ``[3, P]``.

    The way (:func:`palette_cameras`) is the synthetic world's own drone path (``generate_flight``: it keeps
    to the valleys and turns gently) from ``start`` (``[3, 4]`` world -> camera, metres; its position,
    heading and pitch) over ``reach_m`` metres in 1000 steps (its turns and smoothing are per
    step, so a longer reach turns wider), ``clearance`` metres above the ground ahead; :data:`PALETTE_VIEWS`
    small views are spread evenly along it. Like is compared with like: only land within the heights the
    start view's land spans (its :data:`PALETTE_HEIGHT_QUANTILES` quantiles) counts, so a way past snow and
    rock faces that frame 0 does not show does not darken and grey its valley floor; where the (small)
    start view shows no land, none counts (``[3, 0]``). Neither sky nor water counts. ``intrinsics [4]``
    normalized, ``config`` the ray marcher's settings.
    """
    cams = palette_cameras(world, start, clearance, reach_m)
    cam_intrinsics = intrinsics.float().cpu().reshape(1, 4).expand(len(cams), 4)
    rgb, depth = render(world, cams, cam_intrinsics, *_PALETTE_SIZE, config)
    points = surface_points(cams, cam_intrinsics, depth)  # [1 + V, h, w, 3]
    land = depth[:, 0].isfinite() & ~world.is_water(points[..., 0], points[..., 2])
    heights = -points[..., 1]  # metres above the world's zero (y points down)
    if int(land[0].sum()) == 0:
        return rgb.new_zeros(3, 0)
    low, high = torch.quantile(heights[0][land[0]], heights.new_tensor(PALETTE_HEIGHT_QUANTILES)).tolist()
    land = land & (heights >= low) & (heights <= high)
    return rgb[1:].permute(1, 0, 2, 3)[:, land[1:]]
