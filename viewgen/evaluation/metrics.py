"""Per-image PSNR and SSIM of ``[B, 3, H, W]`` RGB images in [0, 1] against ground truth.

The numbers come from torchmetrics' functional API (the ``eval`` extra: ``pip install
viewgen[eval]``), imported inside the functions so that ``import viewgen`` stays light. The masked
variants average only where the mask is known (``[B, 1, H, W]``, 1 = known), e.g. to score the
warped part of a frame apart from the filled holes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape

__all__ = ["SSIM_KERNEL_SIZE", "masked_psnr", "masked_ssim", "psnr", "ssim"]

SSIM_KERNEL_SIZE = 11  # torchmetrics' default Gaussian window (sigma 1.5): images need H, W >= 11
_EMPTY_MASK = 1e-8


def _check_pair(image: Tensor, target: Tensor) -> None:
    """Both ``[B, 3, H, W]`` of the same size."""
    sizes = check_shape(image, ("B", 3, "H", "W"), "image", hint=" (RGB in [0, 1])")
    check_shape(target, ("B", 3, "H", "W"), "target", sizes=sizes, hint=" (RGB in [0, 1], the same size as image)")


def _check_mask(mask: Tensor, image: Tensor) -> None:
    batch, _, height, width = image.shape
    check_shape(mask, ((1, batch), 1, height, width), "mask", hint=" (1 = known)")


def _mse_to_psnr(mse: Tensor, data_range: float) -> Tensor:
    """``10 log10(range^2 / mse)`` in dB; ``inf`` where ``mse == 0``."""
    return 10.0 * torch.log10(data_range**2 / mse)


def psnr(image: Tensor, target: Tensor, *, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image in dB: ``[B, 3, H, W]`` x 2 -> ``[B]`` (``inf`` if identical)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    _check_pair(image, target)
    return peak_signal_noise_ratio(image, target, data_range=data_range, reduction="none", dim=(1, 2, 3))


def masked_psnr(image: Tensor, target: Tensor, mask: Tensor, *, data_range: float = 1.0) -> Tensor:
    """PSNR per image over the known pixels only: ``mask [B|1, 1, H, W]`` weights each pixel -> ``[B]`` dB.

    NaN for an image whose mask is empty (nothing to score).
    """
    _check_pair(image, target)
    _check_mask(mask, image)
    weight = mask.expand(image.shape[0], 1, *image.shape[-2:]).to(image.dtype)
    squared = ((image - target) ** 2 * weight).sum(dim=(1, 2, 3))
    count = weight.sum(dim=(1, 2, 3)) * image.shape[1]
    mse = torch.where(count > _EMPTY_MASK, squared / count.clamp_min(_EMPTY_MASK), torch.nan)
    return _mse_to_psnr(mse, data_range)


def _ssim_map(image: Tensor, target: Tensor, data_range: float) -> Tensor:
    """SSIM per pixel and channel ``[B, 3, H, W]``."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    check_min_size(image, SSIM_KERNEL_SIZE, "image", hint=" (the SSIM window)")
    _, full = structural_similarity_index_measure(image, target, data_range=data_range, reduction="none",
                                                  return_full_image=True)
    return full


def ssim(image: Tensor, target: Tensor, *, data_range: float = 1.0) -> Tensor:
    """Structural similarity per image (Gaussian window 11, sigma 1.5): ``[B, 3, H, W]`` x 2 -> ``[B]``, 1 if identical.

    Images must be at least 11x11 pixels.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    _check_pair(image, target)
    check_min_size(image, SSIM_KERNEL_SIZE, "image", hint=" (the SSIM window)")
    return structural_similarity_index_measure(image, target, data_range=data_range, reduction="none")


def masked_ssim(image: Tensor, target: Tensor, mask: Tensor, *, data_range: float = 1.0) -> Tensor:
    """The SSIM map averaged over the known pixels (``mask [B|1, 1, H, W]`` weights) -> ``[B]``; NaN if empty.

    torchmetrics' full SSIM map has the image's size; its border (half a window) is computed from
    reflect-padded images, as in the unmasked score.
    """
    _check_pair(image, target)
    _check_mask(mask, image)
    full = _ssim_map(image, target, data_range)
    weight = mask.expand(image.shape[0], 1, *image.shape[-2:]).to(full.dtype)
    total = (full * weight).sum(dim=(1, 2, 3))
    count = weight.sum(dim=(1, 2, 3)) * full.shape[1]
    return torch.where(count > _EMPTY_MASK, total / count.clamp_min(_EMPTY_MASK), torch.nan)
