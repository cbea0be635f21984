"""The classical refiner's "style": a 43-number description of the first frame.

It plays the role of Infinite Nature's style code (which keeps the SPADE generator's colors
consistent over a flight), measured instead of learned, so holes filled at frame 300 still
get the palette and texture strength of frame 0. Hand-written because it is a handful of
robust statistics (quantiles, small least-squares fits) that no library packages this way.

Layout of the vector (:data:`STYLE_FIELDS`, in order; ``v`` is the row in [0, 1], 0 = top):

* ``sky_top``, ``sky_horizon`` (3 + 3): sky color at ``v = 0`` and at ``v = horizon_v``, from a
  linear fit of color against ``v`` over the sky pixels.
* ``horizon_v`` (1): the 95th percentile of ``v`` over the sky (where the gradient ends).
* ``sky_threshold`` (1): disparity below which a pixel is sky, ``clamp(margin * q2 + 0.01,
  0.015, cap)`` with ``q2`` the 2nd percentile of the frame's disparity (MiDaS-style inputs
  put the sky anywhere from 0 to ~0.08; the warp returns a sky at 0 as 0.01).
* ``ground_far``, ``ground_near`` (3 + 3): ground color at the far and near disparity, from a
  linear fit of color against ``t = (d - disparity_far) / (disparity_near - disparity_far)``.
* ``ground_std`` (3): per-channel spread of the ground color around that fit.
* ``disparity_far``, ``disparity_near`` (1 + 1): 5th and 95th percentiles of ground disparity.
* ``detail_far``, ``detail_near`` (4 + 4): median local energy of each detail band (fine to
  coarse, :func:`~viewgen.refiners.classical.detail.band_energies`) over the far (``t < 0.5``)
  and near ground, measured with the sky replaced by the far ground color so that the
  skyline does not count as ground texture.
* ``layout`` (16): the disparity layout prior, the median disparity of 16 horizontal bands
  (top to bottom), at least ``1.5 * sky_threshold`` (it describes ground). Learned refiners
  re-impose a typical layout every frame; this is the classical stand-in, which keeps a
  flight from settling onto the renderer's near clip (see :func:`layout_disparity`).

Frames without sky (or without ground) get the neutral defaults in :data:`DEFAULTS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.refiners.classical.detail import band_energies

__all__ = [
    "DEFAULTS",
    "STYLE_DIM",
    "STYLE_FIELDS",
    "detail_targets",
    "ground_color",
    "ground_nearness",
    "layout_disparity",
    "measure_style",
    "sky_color",
    "unpack_style",
]

LAYOUT_ROWS = 16
DETAIL_BANDS = 4
STYLE_FIELDS: tuple[tuple[str, int], ...] = (
    ("sky_top", 3), ("sky_horizon", 3), ("horizon_v", 1), ("sky_threshold", 1),
    ("ground_far", 3), ("ground_near", 3), ("ground_std", 3), ("disparity_far", 1), ("disparity_near", 1),
    ("detail_far", DETAIL_BANDS), ("detail_near", DETAIL_BANDS), ("layout", LAYOUT_ROWS),
)
STYLE_DIM = sum(size for _, size in STYLE_FIELDS)

# Used for a frame without sky or without ground: a hazy blue sky and a green-brown ground.
DEFAULTS: dict[str, tuple[float, ...]] = {
    "sky_top": (0.45, 0.62, 0.86), "sky_horizon": (0.78, 0.84, 0.90), "horizon_v": (0.35,),
    "ground_far": (0.45, 0.50, 0.45), "ground_near": (0.30, 0.38, 0.22), "ground_std": (0.06, 0.06, 0.06),
    "detail_far": (0.03,) * DETAIL_BANDS, "detail_near": (0.03,) * DETAIL_BANDS,
}
_MIN_PIXELS = 0.002  # a class needs this share of the frame to be measured
_MIN_DISPARITY_SPAN = 0.05
_MIN_SKY_THRESHOLD = 0.015


def unpack_style(style: Tensor) -> dict[str, Tensor]:
    """``[B, STYLE_DIM]`` -> ``{field: [B, size]}`` views (see :data:`STYLE_FIELDS`)."""
    check_shape(style, ("B", STYLE_DIM), "style")
    return dict(zip((name for name, _ in STYLE_FIELDS), style.split([size for _, size in STYLE_FIELDS], dim=1)))


def _as_map(field: Tensor) -> Tensor:
    """``[B, C]`` -> ``[B, C, 1, 1]`` for broadcasting against images."""
    return field[:, :, None, None]


def sky_color(style: Tensor, height: int, width: int) -> Tensor:
    """The sky model: ``[B, STYLE_DIM]`` -> ``[B, 3, H, W]`` color gradient by row, in [0, 1]."""
    fields = unpack_style(style)
    rows = (torch.arange(height, dtype=style.dtype, device=style.device) + 0.5) / height
    fraction = (rows.view(1, 1, -1, 1) / _as_map(fields["horizon_v"]).clamp_min(0.05)).clamp(0.0, 1.0)
    color = _as_map(fields["sky_top"]) + fraction * (_as_map(fields["sky_horizon"]) - _as_map(fields["sky_top"]))
    return color.expand(-1, 3, height, width).clamp(0.0, 1.0)


def ground_nearness(style: Tensor, disparity: Tensor) -> Tensor:
    """Position between the style's far (0) and near (1) ground disparity, ``[B, 1, H, W]`` in [0, 1]."""
    fields = unpack_style(style)
    far, near = _as_map(fields["disparity_far"]), _as_map(fields["disparity_near"])
    return ((disparity - far) / (near - far).clamp_min(_MIN_DISPARITY_SPAN)).clamp(0.0, 1.0)


def ground_color(style: Tensor, disparity: Tensor) -> Tensor:
    """The ground model: color by disparity (aerial perspective), ``[B, 1, H, W] -> [B, 3, H, W]``."""
    fields = unpack_style(style)
    far, near = _as_map(fields["ground_far"]), _as_map(fields["ground_near"])
    return (far + ground_nearness(style, disparity) * (near - far)).clamp(0.0, 1.0)


def detail_targets(style: Tensor, disparity: Tensor) -> list[Tensor]:
    """Per-pixel target energy of each ground detail band (fine to coarse), each ``[B, 1, H, W]``.

    Interpolated between the style's far and near ground energies by :func:`ground_nearness`.
    """
    fields = unpack_style(style)
    t = ground_nearness(style, disparity)
    targets = _as_map(fields["detail_far"]) + t * (_as_map(fields["detail_near"]) - _as_map(fields["detail_far"]))
    return list(targets.split(1, dim=1))


def layout_disparity(style: Tensor, height: int) -> Tensor:
    """The layout prior by row, ``[B, STYLE_DIM] -> [B, 1, H, 1]`` (log-linear between band centres)."""
    layout = unpack_style(style)["layout"].clamp_min(1e-3)
    rows = (torch.arange(height, dtype=style.dtype, device=style.device) + 0.5) / height
    position = (rows * LAYOUT_ROWS - 0.5).clamp(0, LAYOUT_ROWS - 1)
    low = position.floor().long().clamp(max=LAYOUT_ROWS - 2)
    t = (position - low).view(1, -1)
    log_layout = layout.log()
    profile = log_layout[:, low] * (1 - t) + log_layout[:, low + 1] * t
    return profile.exp()[:, None, :, None]


def _layout_fields(disparity: Tensor, threshold: float) -> list[float]:
    """Median disparity of :data:`LAYOUT_ROWS` row bands of ``[H, W]``, at least ``1.5 * threshold``."""
    bands = torch.tensor_split(disparity, LAYOUT_ROWS, dim=0)
    return [max(float(band.median()), 1.5 * threshold) for band in bands]


def _erode(mask: Tensor, radius: int) -> Tensor:
    """Binary erosion of a ``[1, 1, H, W]`` bool mask by a square of side ``2 radius + 1``."""
    return ~(F.max_pool2d((~mask).float(), 2 * radius + 1, stride=1, padding=radius) > 0)


def _linear_color_fit(rgb: Tensor, coordinate: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Least squares ``rgb ~ a + b * coordinate`` over N pixels: ``[N, 3], [N] -> (a [3], b [3], std [3])``."""
    design = torch.stack([torch.ones_like(coordinate), coordinate], dim=1).double()
    solution = torch.linalg.lstsq(design, rgb.double()).solution  # [2, 3]
    if coordinate.std() < 1e-6:  # degenerate: constant coordinate -> plain mean
        solution = torch.stack([rgb.double().mean(0), torch.zeros(3, dtype=torch.float64, device=rgb.device)])
    residual = rgb.double() - design @ solution
    return solution[0].to(rgb), solution[1].to(rgb), residual.std(dim=0, unbiased=False).to(rgb)


def _median_or(values: Tensor, default: float) -> float:
    return float(values.median()) if values.numel() else default


def _sky_fields(rgb: Tensor, rows: Tensor, sky: Tensor) -> dict[str, list[float]]:
    """Sky color statistics of one image: rgb ``[3, H, W]``, rows ``[H, 1]``, sky ``[H, W]`` bool."""
    if sky.float().mean() < _MIN_PIXELS:
        return {key: list(DEFAULTS[key]) for key in ("sky_top", "sky_horizon", "horizon_v")}
    v = rows.expand_as(sky)[sky]
    horizon_v = float(torch.quantile(v, 0.95).clamp_min(0.05))
    a, b, _ = _linear_color_fit(rgb[:, sky].T, v)
    return {"sky_top": a.clamp(0, 1).tolist(), "sky_horizon": (a + b * horizon_v).clamp(0, 1).tolist(),
            "horizon_v": [horizon_v]}


def _ground_fields(rgb: Tensor, disparity: Tensor, ground: Tensor) -> dict[str, list[float]]:
    """Ground color and depth statistics of one image: rgb ``[3, H, W]``, disparity/ground ``[H, W]``."""
    if ground.float().mean() < _MIN_PIXELS:
        values = {key: list(DEFAULTS[key]) for key in ("ground_far", "ground_near", "ground_std")}
        return {**values, "disparity_far": [0.1], "disparity_near": [0.9]}
    d = disparity[ground]
    far, near = float(torch.quantile(d, 0.05)), float(torch.quantile(d, 0.95))
    near = max(near, far + _MIN_DISPARITY_SPAN)
    t = ((disparity - far) / (near - far)).clamp(0, 1)
    a, b, std = _linear_color_fit(rgb[:, ground].T, t[ground])
    return {"ground_far": a.clamp(0, 1).tolist(), "ground_near": (a + b).clamp(0, 1).tolist(),
            "ground_std": std.tolist(), "disparity_far": [far], "disparity_near": [near]}


def _detail_fields(rgb: Tensor, ground: Tensor, nearness: Tensor, far_color: list[float],
                   sigmas: tuple[float, ...], energy_sigma: float) -> dict[str, list[float]]:
    """Median band energies over far and near ground; rgb ``[3, H, W]``, ground/nearness ``[H, W]``."""
    if ground.float().mean() < _MIN_PIXELS:
        return {key: list(DEFAULTS[key]) for key in ("detail_far", "detail_near")}
    fill = torch.tensor(far_color, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    separated = torch.where(ground, rgb, fill)  # the skyline is no ground texture
    energies = [energy[0, 0] for energy in band_energies(separated[None], sigmas, energy_sigma)]
    inner = _erode(ground[None, None], 3)[0, 0]
    inner = inner if inner.any() else ground
    detail = {}
    for name, part in (("detail_far", inner & (nearness < 0.5)), ("detail_near", inner & (nearness >= 0.5))):
        part = part if part.any() else inner
        detail[name] = [_median_or(energy[part], default) for energy, default in zip(energies, DEFAULTS[name])]
    return detail


def _sky_threshold(disparity: Tensor, margin: float, cap: float) -> float:
    """``clamp(margin * q2 + 0.01, 0.015, cap)`` with ``q2`` the 2nd percentile of ``disparity [H, W]``.

    The floor keeps the renderer's far clip (sky warped from disparity 0 comes back as 0.01) sky.
    """
    return min(cap, max(_MIN_SKY_THRESHOLD, margin * float(torch.quantile(disparity.flatten().float(), 0.02)) + 0.01))


def measure_style(rgbd: Tensor, *, sky_margin: float, sky_threshold_cap: float, sigmas: tuple[float, ...],
                  energy_sigma: float) -> Tensor:
    """Describe each frame of ``rgbd [B, 4, H, W]`` (RGB and disparity in [0, 1]) as ``[B, STYLE_DIM]``.

    ``sky_margin`` / ``sky_threshold_cap`` set the sky threshold (see the module doc);
    ``sigmas`` (:data:`DETAIL_BANDS` of them) / ``energy_sigma`` are the detail bands of
    :mod:`viewgen.refiners.classical.detail`. The result is in ``rgbd``'s dtype and device.
    """
    if len(sigmas) != DETAIL_BANDS:
        raise ValueError(f"measure_style needs {DETAIL_BANDS} detail sigmas, got {len(sigmas)}")
    rgb, disparity = rgbd[:, :3].clamp(0, 1), rgbd[:, 3].clamp(0, 1)
    height = rgbd.shape[2]
    rows = ((torch.arange(height, dtype=rgbd.dtype, device=rgbd.device) + 0.5) / height).view(-1, 1)
    styles = []
    for index in range(rgbd.shape[0]):
        d = disparity[index]
        threshold = _sky_threshold(d, sky_margin, sky_threshold_cap)
        sky = d < threshold
        fields = {**_sky_fields(rgb[index], rows, sky), **_ground_fields(rgb[index], d, ~sky),
                  "sky_threshold": [threshold], "layout": _layout_fields(d, threshold)}
        span = max(fields["disparity_near"][0] - fields["disparity_far"][0], _MIN_DISPARITY_SPAN)
        nearness = ((d - fields["disparity_far"][0]) / span).clamp(0, 1)
        fields.update(_detail_fields(rgb[index], ~sky, nearness, fields["ground_far"], sigmas, energy_sigma))
        styles.append(torch.tensor([value for name, _ in STYLE_FIELDS for value in fields[name]], dtype=torch.float64))
    return torch.stack(styles).to(device=rgbd.device, dtype=rgbd.dtype)
