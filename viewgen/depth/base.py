"""The depth-estimator protocol, the shared base class and disparity normalization.

Every backend turns RGB ``[B, 3, H, W]`` in [0, 1] into disparity ``[B, 1, H, W]`` in [0, 1]
the way the original Infinite Nature demo did with MiDaS: estimate relative inverse depth at
the backend's own input size, normalize each image to [0, 1] (min-max by default, or the
robust 1st/97th percentile variant), then resize to the requested size (area averaging when
shrinking, as the original's ``AREA`` resize).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_hw, check_shape
from viewgen.errors import InputError, ViewgenError

__all__ = [
    "NORMALIZATIONS",
    "DepthError",
    "DepthEstimator",
    "DepthEstimatorBase",
    "MissingDependencyError",
    "UnknownBackendError",
    "check_image",
    "normalize_disparity",
    "resize_disparity",
]

NORMALIZATIONS = ("minmax", "percentile", "none")
PERCENTILES = (0.01, 0.97)
CONSTANT_DISPARITY = 0.5  # a constant estimate becomes a flat plane at depth 2 (not 0/0)
_RANGE_TOLERANCE = 1e-3


class DepthError(InputError):
    """Unusable input or options for depth estimation (one-line message)."""


class UnknownBackendError(DepthError):
    """A depth backend name that is not registered."""


class MissingDependencyError(ViewgenError, OSError):
    """An optional package a backend needs is not installed (the message says what to install)."""


@runtime_checkable
class DepthEstimator(Protocol):
    """What every depth backend provides.

    ``estimator(image)`` maps RGB ``[B, 3, H, W]`` in [0, 1] to disparity ``[B, 1, H, W]`` in
    [0, 1] (larger = nearer), on the image's device. ``size=(h, w)`` returns it at another
    size; ``normalization`` is ``"minmax"`` (the original's), ``"percentile"`` (1st/97th
    percentiles, clipped) or ``"none"`` (already normalized values, clamped).
    """

    name: str
    device: torch.device

    def __call__(self, image: Tensor, size: tuple[int, int] | None = None,
                 normalization: str = "minmax") -> Tensor: ...

    def input_size(self, height: int, width: int) -> tuple[int, int]: ...


def check_image(image: Tensor) -> Tensor:
    """Validate RGB ``[B, 3, H, W]`` (or ``[3, H, W]``, or 1-channel grey) in [0, 1]; return ``[B, 3, H, W]`` float32.

    Raises :class:`DepthError` for other shapes, NaN/infinite values or values far outside
    [0, 1] (e.g. 0-255 images); values within 1e-3 of the range are clamped.
    """
    if not isinstance(image, Tensor):
        raise DepthError(f"the image must be a torch.Tensor [B, 3, H, W] in [0, 1], got {type(image).__name__}")
    check_shape(image, [((1, 3), "H", "W"), ("B", (1, 3), "H", "W")], "the image", hint=" (RGB, or grey)",
                error=DepthError)
    if image.numel() == 0:
        raise DepthError(f"the image is empty, got shape {list(image.shape)}")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if not (image.is_floating_point() or image.dtype == torch.uint8):
        raise DepthError(f"the image must be a float tensor in [0, 1], got dtype {image.dtype}")
    if image.dtype == torch.uint8:
        raise DepthError("the image is uint8 (0-255); convert it with image.float() / 255")
    image = image.float()
    if image.shape[1] == 1:
        image = image.expand(-1, 3, -1, -1)
    if not bool(torch.isfinite(image).all()):
        raise DepthError("the image contains NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        hint = " (divide 0-255 images by 255)" if high > 1.5 else ""
        raise DepthError(f"image values must lie in [0, 1], got [{low:.4g}, {high:.4g}]{hint}")
    return image.clamp(0, 1)


def _check_size(size) -> tuple[int, int]:
    return check_hw(size, error=DepthError)


def normalize_disparity(raw: Tensor, normalization: str = "minmax") -> Tensor:
    """Normalize raw relative disparity ``[B, 1, h, w]`` to [0, 1], each image on its own.

    ``"minmax"``: ``(d - min) / (max - min)`` (the original demo). ``"percentile"``: the 1st
    and 97th percentiles map to 0 and 1, values beyond are clipped (robust to a few extreme
    pixels; the percentiles InfiniteNature-Zero uses, without its 0.8 scale). ``"none"``:
    values are taken as already normalized and clamped to [0, 1]. A constant image becomes
    0.5 everywhere (a flat plane) instead of 0/0. Non-finite values raise :class:`DepthError`.
    """
    if normalization not in NORMALIZATIONS:
        raise DepthError(f"unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}")
    check_shape(raw, ("B", 1, "h", "w"), "raw disparity", error=DepthError)
    raw = raw.float()
    if not bool(torch.isfinite(raw).all()):
        raise DepthError("the depth estimate contains NaN or infinite values (corrupt weights or input?)")
    if normalization == "none":
        return raw.clamp(0, 1)
    flat = raw.flatten(1)
    low = flat.min(dim=1).values
    high = flat.max(dim=1).values
    if normalization == "percentile":
        # torch.quantile refuses very large inputs; a strided subsample gives the same percentiles to ~1e-3.
        sample = flat if flat.shape[1] <= 1 << 22 else flat[:, :: math.ceil(flat.shape[1] / (1 << 22))]
        quantiles = torch.quantile(sample, torch.tensor(PERCENTILES, device=raw.device), dim=1)
        spread_ok = (quantiles[1] - quantiles[0]) > 1e-6 * torch.maximum(quantiles[1].abs(), quantiles[0].abs())
        low = torch.where(spread_ok, quantiles[0], low)
        high = torch.where(spread_ok, quantiles[1], high)
    scale = torch.maximum(high.abs(), low.abs())
    constant = (high - low) <= 1e-6 * scale
    span = torch.where(constant, torch.ones_like(high), high - low)
    out = ((raw - low.view(-1, 1, 1, 1)) / span.view(-1, 1, 1, 1)).clamp(0, 1)
    return torch.where(constant.view(-1, 1, 1, 1), torch.full_like(out, CONSTANT_DISPARITY), out)


def resize_disparity(disparity: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``[B, 1, h, w]`` to ``size``: area averaging when shrinking (the original's AREA
    resize), antialiased bilinear otherwise; the result is clamped to [0, 1]."""
    height, width = _check_size(size)
    if tuple(disparity.shape[-2:]) == (height, width):
        return disparity
    if height <= disparity.shape[-2] and width <= disparity.shape[-1]:
        out = F.interpolate(disparity, size=(height, width), mode="area")
    else:
        out = F.interpolate(disparity, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp(0, 1)


class DepthEstimatorBase:
    """Shared behaviour of the backends: input checks, normalization and resizing.

    Subclasses set ``name`` and ``device`` and implement :meth:`predict_raw` (relative
    disparity at the backend's own size, larger = nearer) and :meth:`input_size`.
    """

    name: str = "base"
    device: torch.device = torch.device("cpu")

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the backend runs at for an ``height x width`` image."""
        raise NotImplementedError

    def predict_raw(self, image: Tensor) -> Tensor:
        """Relative disparity ``[B, 1, h, w]`` (any positive scale) for checked RGB on ``self.device``."""
        raise NotImplementedError

    def __call__(self, image: Tensor, size: tuple[int, int] | None = None,
                 normalization: str = "minmax") -> Tensor:
        if normalization not in NORMALIZATIONS:
            raise DepthError(f"unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}")
        image = check_image(image)
        target = _check_size(size) if size is not None else tuple(image.shape[-2:])
        with torch.no_grad():
            raw = self.predict_raw(image.to(self.device))
            disparity = resize_disparity(normalize_disparity(raw, normalization), target)
        return disparity.to(image.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={str(self.device)!r})"
