"""Hole filling for the weight-free refiner: disparity and color for what the warp could not see.

Why hand-written: OpenCV's ``cv2.inpaint`` (Telea) is the library part; what it cannot know
is which neighbours to trust and what to fall back on far from any neighbour. This module adds:

* **Disparity**: a ground plane ``d = a u + b v + c`` (a flat ground has a disparity that is
  affine in the image coordinates) is fitted to the known ground; the base is the farther of
  that plane and the style's layout prior (so the plane cannot extrapolate past the frame-0
  layout, and holes above the horizon are sky). The *residual* from the base is inpainted
  and fades into the hole with distance, so new ground at the bottom border comes out near
  (high disparity), new content at the horizon far, and disocclusions take their
  neighbours' depth.
* **Background first**: known pixels on the near side of a depth edge next to a hole (the
  occluder's rim) are not used as inpainting sources, so disocclusions are filled from what
  lies behind, not smeared with the occluder.
* **Color**: a base model from the style (sky gradient by row where the filled disparity is
  sky, ground color by disparity elsewhere) plus the inpainted residual of the known pixels
  from that model, fading with distance (slowly in the sky, faster on the ground), plus a
  low-frequency color variation with the style's ground spread where the residual has faded.

``cv2.inpaint`` runs on 16-bit (disparity) and 8-bit (color) images here: in OpenCV 5.0 its
Telea mode returns garbage for float32 input, while the 8/16-bit paths are correct in every
version. It runs on a shrunken image (``inpaint_height``): its cost grows with the length of
the hole boundaries, which are long and thin after a warp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.refiners.classical.detail import lowpass
from viewgen.refiners.classical.style import ground_color, layout_disparity, sky_color, unpack_style
from viewgen.rendering.holes import distance_to_known

__all__ = ["HoleRegion", "fill_color", "fill_disparity", "fit_ground_plane", "foreground_rim", "hole_region",
           "inpaint", "known_weight", "unpremultiply"]

_UINT16_MAX = 65535.0
_MIN_PLANE_PIXELS = 50
_PLANE_SAMPLES = 4096


@lru_cache(maxsize=1)
def _cv2():
    """Import OpenCV on first use (keeps ``import viewgen`` light)."""
    import cv2

    return cv2


def unpremultiply(warped: Tensor, mask: Tensor, eps: float = 1e-4) -> Tensor:
    """Undo ``warp_rgbd``'s ``rgbd * m`` (its mask is ``m * m``): ``[B, C, H, W], [B, 1, H, W] -> [B, C, H, W]``.

    Pixels with ``mask <= eps`` come out 0.
    """
    m = mask.clamp_min(0.0).sqrt()
    return torch.where(mask > eps, warped / m.clamp_min(eps), torch.zeros_like(warped))


def known_weight(mask: Tensor, low: float, high: float) -> Tensor:
    """How much of a pixel is kept from the warp: smoothstep of the mask from ``low`` to ``high``, ``[B, 1, H, W]``."""
    t = ((mask - low) / (high - low)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _encode(values: Tensor, known: Tensor, levels: float) -> tuple[Tensor, Tensor, Tensor]:
    """Map each channel of ``values [C, h, w]`` onto ``[0, levels]`` over its known range: (codes, low, scale)."""
    low = torch.where(known, values, torch.inf).amin(dim=(1, 2))
    high = torch.where(known, values, -torch.inf).amax(dim=(1, 2))
    scale = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    codes = ((values - low[:, None, None]) / scale[:, None, None]).round().clamp(0, levels)
    return codes, low, scale


def inpaint(values: Tensor, region: Tensor, radius: float, factor: int = 1) -> Tensor:
    """Telea-inpaint ``values [C, H, W]`` (C = 1 or 3) inside ``region [H, W]`` bool (``cv2.inpaint``).

    With ``factor > 1`` the inpainting runs on a ``factor`` times smaller image (known pixels
    block-averaged, a block without one is a hole) and its result is upsampled bilinearly:
    Telea's cost grows with the length of the hole boundaries, and the fills fade into smooth
    models anyway. One channel goes through uint16 (1/65535 of its known range), three
    channels through one 8-bit color call (1/255 of each channel's known range: the fill is a
    residual that fades and gets texture on top, so 8 bits suffice and one call costs a third
    of three). Returns ``[C, H, W]``, unchanged outside ``region``; with no known pixel, 0.
    """
    cv2 = _cv2()
    if not bool(region.any()):
        return values
    if bool(region.all()):
        return torch.zeros_like(values)
    known = (~region).to(values.dtype)[None]
    small, small_region = values, region
    if factor > 1 and min(region.shape) >= 8 * factor:
        counts = F.avg_pool2d(known, factor, ceil_mode=True)
        small = F.avg_pool2d(values * known, factor, ceil_mode=True) / counts.clamp_min(1e-6)
        small_region = counts[0] == 0
        if bool(small_region.all()):
            small, small_region = values, region
    levels, dtype = (_UINT16_MAX, np.uint16) if values.shape[0] == 1 else (255.0, np.uint8)
    codes, low, scale = _encode(small, ~small_region, levels)
    image = codes.cpu().numpy().astype(dtype)
    image = image[0] if values.shape[0] == 1 else np.ascontiguousarray(image.transpose(1, 2, 0))
    filled = cv2.inpaint(image, small_region.cpu().numpy().astype(np.uint8), radius, cv2.INPAINT_TELEA)
    filled = torch.from_numpy(filled.reshape(*filled.shape[:2], -1).astype(np.float32)).permute(2, 0, 1)
    decoded = filled.to(values) * scale[:, None, None] + low[:, None, None]
    if decoded.shape[1:] != values.shape[1:]:
        size = (decoded.shape[1] * factor, decoded.shape[2] * factor)
        decoded = F.interpolate(decoded[None], size=size, mode="bilinear", align_corners=False)[0]
        decoded = decoded[:, :values.shape[1], :values.shape[2]]
    return torch.where(region, decoded, values)


def foreground_rim(disparity: np.ndarray, region: np.ndarray, radius: int, ratio: float) -> np.ndarray:
    """Known pixels within ``radius`` of ``region`` that are nearer than ``ratio`` x the local background.

    disparity ``[H, W]``, region ``[H, W]`` bool (holes) -> ``[H, W]`` bool. The local background
    is the smallest known disparity in a ``(2 radius + 1)^2`` window.
    """
    cv2 = _cv2()
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    known_only = np.where(region, 1e3, disparity).astype(np.float32)
    background = cv2.erode(known_only, kernel, borderType=cv2.BORDER_REPLICATE)
    near_hole = cv2.dilate(region.astype(np.uint8), kernel) > 0
    return near_hole & ~region & (disparity > background * ratio)


def fit_ground_plane(disparity: Tensor, ground: Tensor, fallback: float) -> Tensor:
    """Least-squares plane ``d = a u + b v + c`` over the ``ground`` pixels, evaluated everywhere.

    disparity, ground ``[H, W]`` -> ``[H, W]`` (may leave [0, 1]: it extrapolates). The fit uses
    a regular subsample of about 4096 pixels; one refit drops outliers beyond 3 median absolute
    deviations (rocks, trees). Fewer than 50 ground samples give the constant ``fallback``.
    """
    height, width = disparity.shape
    stride = max(1, int(math.sqrt(height * width / _PLANE_SAMPLES)))
    u = (torch.arange(width, dtype=torch.float64) + 0.5) / width
    v = (torch.arange(height, dtype=torch.float64) + 0.5) / height
    grid_v, grid_u = torch.meshgrid(v[::stride], u[::stride], indexing="ij")
    keep = ground[::stride, ::stride].cpu().flatten()
    if int(keep.sum()) < _MIN_PLANE_PIXELS:
        return torch.full_like(disparity, fallback)
    design = torch.stack([grid_u.flatten(), grid_v.flatten(), torch.ones(keep.numel(), dtype=torch.float64)], 1)
    design, target = design[keep], disparity[::stride, ::stride].double().cpu().flatten()[keep]
    for _ in range(2):
        coefficients = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
        residual = (design @ coefficients - target).abs()
        inliers = residual <= 3.0 * residual.median().clamp_min(1e-4)
        if int(inliers.sum()) < _MIN_PLANE_PIXELS:
            break
        design, target = design[inliers], target[inliers]
    a, b, c = coefficients.tolist()
    return (a * u[None, :] + b * v[:, None] + c).to(disparity)


@dataclass(frozen=True, eq=False)
class HoleRegion:
    """Where one image gets filled: ``work [H, W]`` bool (holes plus excluded occluder rims, the
    pixels inpainting computes) and ``distance [1, 1, H, W]`` (pixels to the nearest source)."""

    work: np.ndarray
    distance: Tensor


def hole_region(disparity: Tensor, weight: Tensor, config) -> HoleRegion | None:
    """The :class:`HoleRegion` of one image, or None when every pixel is fully known.

    disparity ``[1, 1, H, W]`` (un-premultiplied), weight ``[1, 1, H, W]`` :func:`known_weight`;
    config: a :class:`~viewgen.refiners.classical.refiner.ClassicalRefinerConfig`.
    """
    region = (weight[0, 0] < 1.0).cpu().numpy()
    if not region.any():
        return None
    d_np = disparity[0, 0].detach().double().cpu().numpy()
    rim = foreground_rim(d_np, region, max(1, round(config.rim_fraction * disparity.shape[-1])), config.rim_ratio)
    work = region | rim
    distance = torch.from_numpy(distance_to_known(work)).to(disparity)[None, None]
    return HoleRegion(work, distance)


def inpaint_factor(image: Tensor, config) -> int:
    """How much smaller the inpainting image is: the power of two bringing the height closest
    to ``config.inpaint_height`` from above (1 for images at most that high)."""
    factor = 1
    while image.shape[-2] / (2 * factor) >= config.inpaint_height:
        factor *= 2
    return factor


def fill_disparity(disparity: Tensor, holes: HoleRegion | None, style: Tensor, config) -> Tensor:
    """Disparity inside the holes: farther of (ground plane, layout prior) + the inpainted residual, faded.

    disparity ``[1, 1, H, W]`` -> ``[1, 1, H, W]``, unchanged outside ``holes.work``; inside it may be
    below 0.01 or above 1 (the caller classifies and clamps).
    """
    if holes is None:
        return disparity
    fields = unpack_style(style)
    d_np = disparity[0, 0].detach().double().cpu().numpy()
    sources = torch.from_numpy(~holes.work & (d_np >= float(fields["sky_threshold"]))).to(disparity.device)
    plane = fit_ground_plane(disparity[0, 0], sources, float(fields["disparity_near"]))[None, None]
    base = torch.minimum(plane, layout_disparity(style, disparity.shape[2]).expand_as(plane))
    work = torch.from_numpy(holes.work).to(disparity.device)
    residual = inpaint((disparity - base)[0], work, config.inpaint_radius, inpaint_factor(disparity, config))
    fade = torch.exp(-holes.distance / (config.ground_decay * disparity.shape[-1]))
    return torch.where(work, base + fade * residual[None], disparity)


def fill_color(rgb: Tensor, disparity: Tensor, holes: HoleRegion | None, style: Tensor,
                generator: torch.Generator, config) -> Tensor:
    """Color inside the holes: the style's sky/ground model + inpainted residual, faded, + color variation.

    rgb ``[1, 3, H, W]`` un-premultiplied warped color, disparity ``[1, 1, H, W]`` the *final* one
    (it decides sky or ground) -> ``[1, 3, H, W]`` in [0, 1], unchanged outside ``holes.work``.
    """
    if holes is None:
        return rgb
    height, width = rgb.shape[-2:]
    fields = unpack_style(style)
    sky = disparity < float(fields["sky_threshold"])
    base = torch.where(sky, sky_color(style, height, width), ground_color(style, disparity))
    work = torch.from_numpy(holes.work).to(rgb.device)
    residual = inpaint((rgb - base)[0], work, config.inpaint_radius, inpaint_factor(rgb, config))
    fade = torch.exp(-holes.distance / (torch.where(sky, config.sky_decay, config.ground_decay) * width))
    noise = torch.randn((1, 1, height, width), generator=generator).to(rgb)
    variation = lowpass(noise, 0.02 * width)
    variation = variation / variation.square().mean().clamp_min(1e-12).sqrt()
    spread = fields["ground_std"][:, :, None, None] * config.hole_color_variation * variation * (~sky)
    rgb_fill = base + fade * residual[None] + (1.0 - fade) * spread
    return torch.where(work, rgb_fill, rgb).clamp(0.0, 1.0)
