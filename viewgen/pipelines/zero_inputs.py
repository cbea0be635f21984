"""Infinite Nature Zero's inputs, made as the original's test dataset (``data/lhq_folder.py``), and the sky
dome they give a flight (the canvas seen by rotation only) with ``view_generation``'s sky correction.

From an RGB image and a disparity map (any positive scale, e.g. MiDaS's) of ``H x W`` pixels::

    crop    = the central square of side S (default: the shorter side)
    canvas  = the square of side round(1.5 S) around it ("full" canvas: the original's 384 x 384
              outpainted image around its 256 x 256 crop); outside the image it is reflect-padded
    d1, d97 = 1st and 97th percentiles of the crop's disparity
    scaled  = clip((d - d1) / (d97 - d1 + 1e-6) * 0.8, 0.01, 1)       crop and canvas alike
    resize  = INTER_AREA to size x size (crop) and int(size * canvas / S) (canvas)
    sky     = the given sky mask, else scaled canvas disparity < 0.08; INTER_NEAREST to the canvas size
    sky_offset = 95th percentile of the resized canvas disparity where it is < 0.08 and sky (0 if none)
    sky_ratio  = the number of those pixels / the canvas's pixel count

The cameras have a 55 degree field of view: ``K_ref`` in integer pixels (``fx = fy = size / (2 tan 27.5)``,
``cx = cy = (size - 1) / 2``) and ``K_full`` the same with the principal point moved to the canvas's
centre. All arithmetic is numpy float32 and OpenCV, as in the original, so the results are bit-identical.

The sky dome (:func:`sky_dome_view`) splats the canvas by the camera's rotation alone (the sky is at
infinity) with ``K_full`` and keeps the centre; :func:`correct_sky` pastes its sky into a refined frame
where the dome and the frame both see sky (kornia's 7x7 geodesic erosion and 5x5 Gaussian, re-done here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.errors import InputError
from viewgen.rendering.splat import render_forward_splat

__all__ = ["SkyCorrection", "SkyDomeView", "ZeroInputConfig", "ZeroInputs", "correct_sky", "prepare_zero_inputs",
           "sky_dome_view"]

_SPAN_EPS = 1e-6  # in the denominator of the percentile normalization
_EROSION_BORDER = 1e4  # kornia's geodesic erosion pads with this: the border never erodes
_DOME_MIN_DISPARITY, _DOME_MAX_DISPARITY = 1e-2, 10.0  # the canvas disparity clamp before 1 / d


@dataclass(frozen=True)
class ZeroInputConfig:
    """How an image and its disparity become a flight's start (defaults: the original's test data).

    size: side of the flight's frames (the generator's resolution).
    crop_side: side of the centre crop in input pixels; ``None``: the shorter side.
    canvas_scale: canvas side / crop side (the original: 384 / 256).
    low_percentile, high_percentile, disparity_scale, min_disparity: the disparity normalization.
    sky_disparity: scaled disparity below which a sky-mask pixel counts as sky (and, with no sky
        mask given, below which a pixel is called sky).
    sky_percentile: percentile of those disparities that becomes ``sky_offset``.
    fov_deg: field of view of the frames, across.
    """

    size: int = 128
    crop_side: int | None = None
    canvas_scale: float = 1.5
    low_percentile: float = 1.0
    high_percentile: float = 97.0
    disparity_scale: float = 0.8
    min_disparity: float = 0.01
    sky_disparity: float = 0.08
    sky_percentile: float = 95.0
    fov_deg: float = 55.0

    def __post_init__(self) -> None:
        if int(self.size) < 8 or (self.crop_side is not None and int(self.crop_side) < 2):
            raise ValueError(f"ZeroInputConfig.size must be >= 8 and crop_side >= 2, got {self.size}, {self.crop_side}")
        if not (self.canvas_scale >= 1 and 0 <= self.low_percentile < self.high_percentile <= 100):
            raise ValueError("ZeroInputConfig needs canvas_scale >= 1 and 0 <= low_percentile < high_percentile <= 100")
        if not (0 < self.min_disparity <= 1 and self.disparity_scale > 0 and 0 < self.fov_deg < 180):
            raise ValueError("ZeroInputConfig needs min_disparity in (0, 1], disparity_scale > 0, fov_deg in (0, 180)")


@dataclass(frozen=True, eq=False)
class ZeroInputs:
    """A flight's start (``S`` = ``config.size``, ``F`` the canvas side, 192 for 128).

    rgbd: ``[1, 4, S, S]`` the crop, RGB + scaled disparity in [0, 1] (frame 0).
    rgbd_full: ``[1, 4, F, F]`` the canvas (the sky dome's source).
    sky_mask_full: ``[1, 1, F, F]`` 0/1 sky mask of the canvas.
    sky_offset: disparity below which the sky correction treats a pixel as sky (0: no sky found).
    sky_ratio: fraction of canvas pixels that are sky below ``sky_disparity``.
    pixel_matrix, full_pixel_matrix: ``[3, 3]`` integer-pixel ``K`` of the crop and of the canvas.
    disparity_range: the raw disparities that map to 0 and 0.8 (the 1st and 97th percentiles).
    vertical_offset: the original's ``x_offset`` (0 here): a downward shift of the crop in the canvas.
    warnings: soft problems of the input (a constant disparity, no sky).
    """

    rgbd: Tensor
    rgbd_full: Tensor
    sky_mask_full: Tensor
    sky_offset: float
    sky_ratio: float
    pixel_matrix: Tensor
    full_pixel_matrix: Tensor
    disparity_range: tuple[float, float]
    vertical_offset: int = 0
    warnings: tuple[str, ...] = ()

    def canvas_depth(self) -> Tensor:
        """The sky dome's depth ``[1, F, F]``: ``1 / clamp(canvas disparity, 0.01, 10)`` (``view_generation``'s)."""
        return 1.0 / self.rgbd_full[:, 3].clamp(_DOME_MIN_DISPARITY, _DOME_MAX_DISPARITY)

    @property
    def intrinsics(self) -> Tensor:
        """The crop's normalized ``[fx, fy, cx, cy]`` ``[4]`` (``docs/conventions.md``: corner origin)."""
        size = self.rgbd.shape[-1]
        k = self.pixel_matrix.double()
        return torch.stack([k[0, 0] / size, k[1, 1] / size, (k[0, 2] + 0.5) / size, (k[1, 2] + 0.5) / size]).float()


def _as_hwc(value, name: str, channels: tuple[int, ...]) -> np.ndarray:
    """A tensor or array ``[1, C, H, W]``, ``[C, H, W]``, ``[H, W, C]`` or (for C = 1) ``[H, W]`` -> float32 HWC."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":  # bool: a sky mask
        raise InputError(f"{name} must be a numeric tensor or array, got {type(value).__name__}")
    specs = [(1, channels, "H", "W"), (channels, "H", "W"), ("H", "W", channels)] + ([("H", "W")] if 1 in channels
                                                                                     else [])
    check_shape(value, specs, name, error=InputError)
    if value.ndim == 2:
        value = value[..., None]
    elif value.ndim == 4 or value.shape[0] in channels and value.shape[-1] not in channels:
        value = np.moveaxis(value[0] if value.ndim == 4 else value, 0, -1)
    array = np.ascontiguousarray(value, dtype=np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return array


def _split(image, disparity) -> tuple[np.ndarray, np.ndarray]:
    """RGB ``[H, W, 3]`` in [0, 1] and disparity ``[H, W]`` from an RGBD or an RGB image plus a disparity map."""
    if disparity is None:
        rgbd = _as_hwc(image, "image", (4,))
        rgb, disparity_map = rgbd[..., :3], rgbd[..., 3]
    else:
        rgb, disparity_map = _as_hwc(image, "image", (3,)), _as_hwc(disparity, "disparity", (1,))[..., 0]
    if rgb.shape[:2] != disparity_map.shape:
        raise InputError(f"image and disparity sizes differ: {rgb.shape[:2]} and {disparity_map.shape}")
    if min(rgb.shape[:2]) < 2:
        raise InputError(f"image must be at least 2x2 pixels, got {rgb.shape[0]}x{rgb.shape[1]}")
    if rgb.min() < -1e-4 or rgb.max() > 1 + 1e-4:
        raise InputError(f"image RGB must lie in [0, 1], got [{rgb.min():.4g}, {rgb.max():.4g}]")
    return np.clip(rgb, 0.0, 1.0), disparity_map


def _windows(height: int, width: int, crop_side: int, canvas_side: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Top-left corners of the centred crop and of the canvas around it (the canvas may stick out)."""
    top, left = (height - crop_side) // 2, (width - crop_side) // 2
    margin = (canvas_side - crop_side) // 2
    return (top, left), (top - margin, left - margin)


def _canvas(array: np.ndarray, corner: tuple[int, int], side: int) -> np.ndarray:
    """The ``side x side`` window at ``corner`` of ``array [H, W, ...]``, reflect-padded where it sticks out."""
    (top, left), (height, width) = corner, array.shape[:2]
    pads = [(max(0, -top), max(0, top + side - height)), (max(0, -left), max(0, left + side - width))]
    padded = np.pad(array, pads + [(0, 0)] * (array.ndim - 2), mode="reflect")
    return padded[top + pads[0][0]:top + pads[0][0] + side, left + pads[1][0]:left + pads[1][0] + side]


def _scale_disparity(crop: np.ndarray, canvas: np.ndarray, config: ZeroInputConfig):
    """The original's ``scale_disp``: ``(crop, canvas, (low, high))`` with the crop's percentiles (float32)."""
    low = np.percentile(crop, config.low_percentile)
    high = np.percentile(crop, config.high_percentile)

    def scale(disparity: np.ndarray) -> np.ndarray:
        return np.clip((disparity - low) / (high - low + _SPAN_EPS) * config.disparity_scale, config.min_disparity, 1.0)

    return scale(crop), scale(canvas), (float(low), float(high))


def _resize(array: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    import cv2

    return cv2.resize(array, (side, side), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _cameras(size: int, canvas_size: int, fov_deg: float) -> tuple[Tensor, Tensor]:
    """``K_ref`` and ``K_full`` ``[3, 3]`` float32, made with the original's float64 -> float32 steps."""
    focal = size / (2.0 * np.tan(fov_deg / 360.0 * np.pi))
    centre = (size - 1) / 2.0
    k_ref = np.array([[focal, 0.0, centre], [0.0, focal, centre], [0.0, 0.0, 1.0]], dtype=np.float32)
    k_full = k_ref.copy()
    k_full[:2, 2] += (canvas_size - size) / 2.0
    return torch.from_numpy(k_ref), torch.from_numpy(k_full)


def _sky_statistics(disparity: np.ndarray, sky: np.ndarray, config: ZeroInputConfig) -> tuple[float, float]:
    """``(sky_offset, sky_ratio)`` of the resized canvas disparity and sky mask ``[F, F]``."""
    candidates = disparity[(disparity < config.sky_disparity) & (sky > 1e-3)]
    if candidates.size == 0:
        return 0.0, 0.0
    ratio = np.float32(candidates.size / disparity.size)
    return float(np.percentile(candidates, config.sky_percentile)), float(ratio)


def _rgbd_tensor(rgb: np.ndarray, disparity: np.ndarray) -> Tensor:
    return torch.from_numpy(np.concatenate([rgb, disparity[..., None]], axis=-1).transpose(2, 0, 1).copy())[None]


def prepare_zero_inputs(image, disparity=None, sky_mask=None, config: ZeroInputConfig | None = None) -> ZeroInputs:
    """An image and its disparity -> a flight's :class:`ZeroInputs` (the steps of the module doc).

    Args:
        image: RGB ``[1, 3, H, W]``, ``[3, H, W]`` or ``[H, W, 3]`` in [0, 1] (tensor or array); or, with
            ``disparity=None``, RGBD with 4 channels in the same layouts.
        disparity: ``[H, W]`` (or ``[1, H, W]``, ``[1, 1, H, W]``) disparity of any positive scale
            (a depth backend's output): only its percentiles matter.
        sky_mask: optional ``[H, W]`` sky mask (nonzero = sky), e.g. from a segmentation network; by
            default a pixel is sky when its scaled disparity is below ``config.sky_disparity``.
        config: a :class:`ZeroInputConfig`.

    Raises :class:`~viewgen.errors.InputError` for unusable inputs (one line).
    """
    config = config or ZeroInputConfig()
    rgb, disparity_map = _split(image, disparity)
    height, width = disparity_map.shape
    crop_side = min(height, width) if config.crop_side is None else int(config.crop_side)
    if crop_side > min(height, width):
        raise InputError(f"crop_side {crop_side} exceeds the {height}x{width} input")
    canvas_side = int(round(crop_side * config.canvas_scale))
    (top, left), corner = _windows(height, width, crop_side, canvas_side)
    crop_disparity = disparity_map[top:top + crop_side, left:left + crop_side]
    scaled_crop, scaled_canvas, span = _scale_disparity(crop_disparity, _canvas(disparity_map, corner, canvas_side),
                                                        config)
    if sky_mask is None:
        sky = np.float32(scaled_canvas < config.sky_disparity)
    else:
        sky = _canvas(np.float32(_as_hwc(sky_mask, "sky_mask", (1,))[..., 0] != 0), corner, canvas_side)
    size = int(config.size)
    full_size = int(size * canvas_side / crop_side)
    canvas_disparity = _resize(scaled_canvas, full_size)
    sky = _resize(sky, full_size, nearest=True)
    sky_offset, sky_ratio = _sky_statistics(canvas_disparity, sky, config)
    k_ref, k_full = _cameras(size, full_size, config.fov_deg)
    rgbd = _rgbd_tensor(_resize(rgb[top:top + crop_side, left:left + crop_side], size), _resize(scaled_crop, size))
    rgbd_full = _rgbd_tensor(_resize(_canvas(rgb, corner, canvas_side), full_size), canvas_disparity)
    return ZeroInputs(rgbd, rgbd_full, torch.from_numpy(sky)[None, None], sky_offset, sky_ratio, k_ref, k_full, span,
                      warnings=_warnings(crop_disparity, sky_offset))


def _warnings(crop_disparity: np.ndarray, sky_offset: float) -> tuple[str, ...]:
    found = []
    if float(crop_disparity.max() - crop_disparity.min()) < 1e-6:
        found.append("the disparity is constant: a flat scene, so the views show no parallax")
    if sky_offset == 0.0:
        found.append("no sky found (no pixel of the canvas is sky with a scaled disparity below the threshold): "
                     "the sky correction and its crash test are off for this flight")
    return tuple(found)


# ---------------------------------------------------------------------------------------------- the sky dome


@dataclass(frozen=True, eq=False)
class SkyDomeView:
    """The canvas turned with the camera, centre crop, each ``[1, c, S, S]``: rgb, disparity, coverage."""

    rgb: Tensor
    disparity: Tensor
    coverage: Tensor


@dataclass(frozen=True, eq=False)
class SkyCorrection:
    """The sky correction of one frame, each ``[1, c, S, S]``.

    dome_sky: eroded sky of the dome; sky: ``dome_sky * (refined disparity < sky_offset)``; blend: its
    blurred weight; rgb, disparity: the corrected frame (disparity not clamped); fraction: ``mean(sky)``.
    """

    dome_sky: Tensor
    sky: Tensor
    blend: Tensor
    rgb: Tensor
    disparity: Tensor
    fraction: float


def sky_dome_view(canvas_rgb: Tensor, canvas_depth: Tensor, rotation: Tensor, canvas_pixel_matrix: Tensor,
                  size: int, vertical_offset: int = 0) -> SkyDomeView:
    """Splat the canvas ``[1, 3, F, F]`` at ``canvas_depth [1, F, F]`` by ``rotation [1, 3, 3]`` alone (``t = 0``)
    with ``K_full``, and crop the centre ``size x size`` (shifted down by ``vertical_offset // 2``)."""
    translation = torch.zeros(1, 3, dtype=canvas_rgb.dtype, device=canvas_rgb.device)
    rgb, disparity, coverage = render_forward_splat(canvas_rgb, canvas_depth, rotation, translation,
                                                    canvas_pixel_matrix)
    left = (canvas_rgb.shape[-1] - size) // 2
    top = (canvas_rgb.shape[-2] - size) // 2 + vertical_offset // 2
    window = (..., slice(top, top + size), slice(left, left + size))
    return SkyDomeView(rgb[window], disparity[window], coverage[window])


def _erode(mask: Tensor, size: int) -> Tensor:
    """kornia's ``erosion`` with a ``size x size`` box (geodesic border): the window minimum, ``[B, 1, H, W]``."""
    before, after = size // 2, size - size // 2 - 1
    padded = F.pad(mask, (before, after, before, after), value=_EROSION_BORDER)
    return -F.max_pool2d(-padded, size, stride=1)


def _gaussian_blur(image: Tensor, size: int, sigma: float) -> Tensor:
    """kornia's separable ``gaussian_blur2d`` (reflect border), rows then columns, ``[B, 1, H, W]``."""
    offsets = torch.arange(size, dtype=image.dtype, device=image.device) - size // 2
    sigma_t = torch.tensor(sigma, dtype=image.dtype, device=image.device)
    taps = torch.exp(-offsets.pow(2.0) / (2 * sigma_t.pow(2.0)))
    taps = taps / taps.sum()
    radius = size // 2
    along_x = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="reflect"), taps.view(1, 1, 1, size))
    return F.conv2d(F.pad(along_x, (0, 0, radius, radius), mode="reflect"), taps.view(1, 1, size, 1))


def correct_sky(refined_rgbd: Tensor, dome: SkyDomeView, sky_offset: float, coverage_threshold: float = 0.9,
                erosion_size: int = 7, blur_size: int = 5, blur_sigma: float = 1.5) -> SkyCorrection:
    """Paste the dome's sky into ``refined_rgbd [1, 4, S, S]`` where both see sky (``view_generation``'s steps).

    ``dome_sky = erode((coverage > 0.9) & (dome disparity < sky_offset))``, ``sky = dome_sky * (refined
    disparity < sky_offset)``, ``blend = blur(sky) * (coverage > 0.9)``; RGB and disparity are blended
    toward the dome by ``blend``. The defaults are the original's (7 x 7 box, 5 x 5 Gaussian of sigma 1.5).
    """
    known = (dome.coverage > coverage_threshold).to(refined_rgbd.dtype)
    dome_sky = _erode(((dome.coverage > coverage_threshold) & (dome.disparity < sky_offset)).float(),
                      erosion_size).to(refined_rgbd.dtype)
    sky = (refined_rgbd[:, 3:4] < sky_offset).to(refined_rgbd.dtype) * dome_sky
    blend = _gaussian_blur(sky, blur_size, blur_sigma) * known
    rgb = refined_rgbd[:, :3] * (1 - blend) + dome.rgb * blend
    disparity = refined_rgbd[:, 3:4] * (1.0 - blend) + dome.disparity * blend
    return SkyCorrection(dome_sky, sky, blend, rgb, disparity, float(torch.mean(sky)))
