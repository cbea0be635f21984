"""Image filters shared by the synthetic world, the refiners and the tools: the one ``luma`` and the one
``gaussian_blur``. Shapes ``[B, C, H, W]``, any float dtype and device.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["LUMA_WEIGHTS", "gaussian_blur", "luma"]

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # Rec. 601


@lru_cache(maxsize=64)
def _gaussian_taps(sigma: float, radius: int) -> tuple[float, ...]:
    """Normalized Gaussian taps for offsets ``0..radius`` (cached: the same few are used every frame)."""
    weights = [math.exp(-0.5 * (offset / sigma) ** 2) for offset in range(radius + 1)]
    total = weights[0] + 2.0 * sum(weights[1:])
    return tuple(weight / total for weight in weights)


def _filter_axis(padded: Tensor, taps: tuple[float, ...], dim: int) -> Tensor:
    """Symmetric 1-D filter along ``dim`` of an image padded by ``len(taps) - 1`` on both sides.

    Shift-and-add: on CPU this beats a depthwise ``conv2d`` several times for these short kernels.
    """
    radius = len(taps) - 1
    length = padded.shape[dim] - 2 * radius
    out = padded.narrow(dim, radius, length) * taps[0]
    for offset in range(1, radius + 1):
        out.add_(padded.narrow(dim, radius - offset, length), alpha=taps[offset])
        out.add_(padded.narrow(dim, radius + offset, length), alpha=taps[offset])
    return out


def gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with reflect padding, ``[B, C, H, W] -> [B, C, H, W]``.

    The kernel radius is ``ceil(3 sigma)``, shrunk to fit images smaller than the kernel.
    """
    if sigma <= 0:
        return image
    height, width = image.shape[-2:]
    radius = max(1, min(math.ceil(3.0 * sigma), height - 1, width - 1))
    taps = _gaussian_taps(float(sigma), radius)
    # padding both axes at once is exact: filtering reflected rows = reflecting filtered rows
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    return _filter_axis(_filter_axis(padded, taps, 3), taps, 2)


def luma(rgb: Tensor) -> Tensor:
    """Rec. 601 luminance ``[B, 3, H, W] -> [B, 1, H, W]``."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)
