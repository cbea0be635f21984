"""Detail restoration for the weight-free refiner: keep fine texture alive over hundreds of warps.

Why this exists: every frame of a fly-through is resampled by the mesh renderer with
barycentric (bilinear-like) interpolation, and flying forward magnifies the image, so
without a refiner that re-creates detail the ground turns to mush within ~100 frames.
The SPADE generator hallucinates new detail; this module does the classical equivalent.

The image is split into four detail bands with Gaussian blurs (by default ``x - G_1``,
``G_1 - G_3``, ``G_3 - G_8`` and ``G_8 - G_20``, sigmas in pixels; wide blurs run on a
shrunken image, :func:`lowpass`). For each band the local energy ``e`` (RMS over channels
and a window) is compared with a per-pixel target from the style
(:func:`viewgen.refiners.classical.style.detail_targets`, frame 0's energy at that depth):

1. **Gain**: the band is scaled by ``clamp(target / e, min_gain, max_gain)``. Attenuation
   (``min_gain < 1``) removes the energy that magnification keeps moving from the fine
   bands into the coarse ones, where it shows as streaks radiating from the focus of
   expansion. Amplification is off by default (``max_gain = 1``): inside the feedback loop
   it turns the renderer's position-dependent resampling blur into rings.
2. **Renewal** (three finest bands): a share of each band is crossfaded, energy-preserving,
   with fresh texture at the target energy: on near ground, where the content moves fast
   and lives a few frames, and wherever the texture is streak-like (:func:`coherence`).
3. **Synthesis** (fine and mid bands): what is still missing, ``sqrt(target^2 - (gain e)^2)``,
   is added as band-limited noise.

All texture is luminance noise times ``rgb / luma`` of the local color (the hue is kept). It
is fed back with the frame, so the next warp carries it along like real texture; only each
frame's deficit and renewal is new, which keeps flicker low where the content moves slowly.

No library offers "keep the band energy of an image sequence at a target under repeated
resampling", hence the hand-written code; the filters are plain separable convolutions.
Randomness only comes from the caller's ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.procedural.filters import gaussian_blur, luma  # re-exported (the one blur and luma)

__all__ = ["band_energies", "band_noise", "coherence", "energy_window", "gaussian_blur", "local_energy", "lowpass",
           "luma", "restore_detail", "split_bands"]

_EPS = 1e-6


def lowpass(image: Tensor, sigma: float) -> Tensor:
    """A Gaussian blur that is cheap for wide kernels, ``[B, C, H, W] -> [B, C, H, W]``.

    For ``sigma >= 2.4`` the image is box-averaged by ``f`` (a power of two up to 8, keeping
    ``sigma / f >= 1.2``), blurred with the remaining width and bilinearly upsampled; below that
    (or for images too small to shrink) it is :func:`gaussian_blur`.
    """
    factor = 1
    while factor < 8 and sigma / (2 * factor) >= 1.2:
        factor *= 2
    height, width = image.shape[-2:]
    if factor == 1 or min(height, width) < 4 * factor:
        return gaussian_blur(image, sigma)
    small = F.avg_pool2d(image, factor, ceil_mode=True)
    small = gaussian_blur(small, math.sqrt(max(sigma ** 2 - (factor ** 2 - 1) / 12.0, 1e-6)) / factor)
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)


def split_bands(image: Tensor, sigmas: tuple[float, ...]) -> tuple[Tensor, list[Tensor]]:
    """``[B, C, H, W]`` -> ``(base, bands)``, bands ordered fine to coarse, ``base + sum(bands) == image``.

    Band ``i`` is ``L(x, sigmas[i - 1]) - L(x, sigmas[i])`` (``L(x, 0) = x``, ``L`` = :func:`lowpass`),
    each blur applied to the previous one with the variance difference; ``base = L(x, sigmas[-1])``.
    """
    bands, previous, previous_sigma = [], image, 0.0
    for sigma in sigmas:
        low = lowpass(previous, math.sqrt(max(sigma ** 2 - previous_sigma ** 2, 0.0)))
        bands.append(previous - low)
        previous, previous_sigma = low, sigma
    return previous, bands


def local_energy(band: Tensor, sigma: float) -> Tensor:
    """RMS of a detail band over its channels and a Gaussian window: ``[B, C, H, W] -> [B, 1, H, W]``."""
    return lowpass(band.square().mean(dim=1, keepdim=True), sigma).clamp_min(0.0).sqrt()


def energy_window(sigma: float, energy_sigma: float) -> float:
    """The window of a band's :func:`local_energy`: ``max(energy_sigma, 2 sigma)``."""
    return max(energy_sigma, 2.0 * sigma)


def band_energies(image: Tensor, sigmas: tuple[float, ...], energy_sigma: float) -> list[Tensor]:
    """Local energy of every band of :func:`split_bands`, fine to coarse, each ``[B, 1, H, W]``."""
    _, bands = split_bands(image, sigmas)
    return [local_energy(band, energy_window(sigma, energy_sigma)) for band, sigma in zip(bands, sigmas)]


def coherence(band: Tensor, sigma: float) -> Tensor:
    """How line-like a band is locally, from its structure tensor: ``[B, C, H, W] -> [B, 1, H, W]`` in [0, 1].

    ``sqrt((Jxx - Jyy)^2 + 4 Jxy^2) / (Jxx + Jyy)`` with ``J`` the windowed (``sigma``) outer
    product of the channel-mean gradient: near 0 for isotropic texture, 1 for parallel streaks.
    """
    mean = band.mean(dim=1, keepdim=True)
    padded = F.pad(mean, (1, 1, 1, 1), mode="replicate")
    gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    jxx, jyy, jxy = lowpass(torch.cat([gx * gx, gy * gy, gx * gy], dim=1), sigma).unbind(dim=1)
    spread = ((jxx - jyy).square() + 4.0 * jxy.square()).clamp_min(0.0).sqrt()
    return (spread / (jxx + jyy).clamp_min(_EPS)).clamp(0.0, 1.0).unsqueeze(1)


def band_noise(shape: tuple[int, int, int, int], sigmas: tuple[float, ...], count: int,
               generator: torch.Generator, dtype: torch.dtype, device: torch.device) -> list[Tensor]:
    """Unit-RMS noise in each of the ``count`` finest bands of :func:`split_bands`, each ``[B, C, H, W]``.

    One white field is split (disjoint bands of white noise are nearly independent). It is drawn
    on the CPU from ``generator``, so results do not depend on the device.
    """
    white = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    _, bands = split_bands(white, sigmas[:count])
    return [band / band.square().mean(dim=(1, 2, 3), keepdim=True).clamp_min(_EPS).sqrt() for band in bands]


def _renewal_map(bands: list[Tensor], sigmas: tuple[float, ...], energy_sigma: float, renewal: Tensor | float,
                 streak_renewal: Tensor | float) -> Tensor:
    """Per-pixel renewal ``[B, 1, H, W]``: the larger of ``renewal`` and ``streak_renewal`` times how
    streak-like the texture is (:func:`coherence` of the mid band, ramped in from 0.3 to 0.7;
    streaks are coherent across scales, so one map serves every band)."""
    mid = min(1, len(bands) - 1)
    streaks = ((coherence(bands[mid], energy_window(sigmas[mid], energy_sigma)) - 0.3) / 0.4).clamp(0.0, 1.0)
    renewal = torch.as_tensor(renewal).to(bands[0])
    return torch.maximum(renewal, torch.as_tensor(streak_renewal).to(bands[0]) * streaks).clamp(0.0, 1.0)


def restore_detail(rgb: Tensor, targets: list[Tensor], generator: torch.Generator, *, sigmas: tuple[float, ...],
                   energy_sigma: float, min_gain: Tensor | float, max_gain: float, renewal: Tensor | float,
                   noise_fraction: Tensor | float, max_change: float, streak_renewal: Tensor | float = 0.0,
                   renewed_bands: int = 3, synthesised_bands: int = 2) -> Tensor:
    """Bring the detail bands of ``rgb`` to their target energies (compensation, renewal, synthesis).

    Args:
        rgb: ``[B, 3, H, W]`` in [0, 1] (known pixels and hole fill already blended).
        targets: target RMS energy of each band (fine to coarse), each ``[B, 1, H, W]``.
        generator: private generator for the synthesised noise.
        sigmas: band split of :func:`split_bands`; energy_sigma: window of :func:`band_energies`.
        min_gain: ``[B, 1, H, W]`` or scalar in (0, 1]: strongest attenuation of a band above its
            target (1 = never attenuate).
        max_gain: largest amplification of a synthesised band in one call (>= 1; coarser bands
            are never amplified).
        renewal: ``[B, 1, H, W]`` or scalar in [0, 1]: share of each band's energy replaced by fresh
            texture at the target energy (an energy-preserving crossfade). Magnification stretches
            texture into streaks radiating from the focus of expansion; renewing it where it moves
            fast (near ground) keeps it isotropic.
        noise_fraction: ``[B, 1, H, W]`` or scalar in [0, 1], share of the remaining deficit that is
            synthesised now (1 in holes; below 1 on known pixels damps flicker).
        max_change: bound on ``|output - rgb|`` per channel before the final clamp to [0, 1].
        streak_renewal: ``[B, 1, H, W]`` or scalar: extra renewal of line-like band content
            (:func:`coherence` above 0.3 ramps it in), the streaks that magnification draws.
        renewed_bands, synthesised_bands: renewal applies to the finest ``renewed_bands`` bands and
            deficit noise to the finest ``synthesised_bands``; in coarser bands the renewed share
            just fades (fresh coarse noise every frame would make the ground boil).

    Returns:
        ``[B, 3, H, W]`` in [0, 1].
    """
    base, bands = split_bands(rgb, sigmas)
    # noise follows the local color (it varies the brightness, keeping the hue)
    color = (base / luma(base).clamp_min(0.05)).clamp(0.0, 2.0)
    low, high = torch.as_tensor(min_gain).to(rgb), torch.as_tensor(max_gain).to(rgb)
    renew = _renewal_map(bands, sigmas, energy_sigma, renewal, streak_renewal)
    noises = band_noise((rgb.shape[0], 1, *rgb.shape[2:]), sigmas, renewed_bands, generator, rgb.dtype, rgb.device)
    delta = torch.zeros_like(rgb)
    for index, (band, target, sigma) in enumerate(zip(bands, targets, sigmas)):
        energy = local_energy(band, energy_window(sigma, energy_sigma))
        # coarse bands are never amplified: boosting them exaggerates large structures
        gain = torch.minimum(torch.maximum(target / energy.clamp_min(_EPS), low),
                             high if index < synthesised_bands else torch.ones_like(high))
        if index >= renewed_bands:  # coarser bands: streaks fade without replacement
            delta.addcmul_((1.0 - renew).sqrt() * gain - 1.0, band)
            continue
        deficit_share = noise_fraction if index < synthesised_bands else 0.0
        deficit = (target.square() - (gain * energy).square()).clamp_min(0.0)
        amplitude = (renew * target.square() + (1.0 - renew) * deficit_share * deficit).sqrt()
        delta.addcmul_((1.0 - renew).sqrt() * gain - 1.0, band).addcmul_(amplitude * noises[index], color)
    return (rgb + delta.clamp(-max_change, max_change)).clamp(0.0, 1.0)
