"""Training objectives: ENR's, the terms of Infinite Nature's and the adversarial terms of Infinite Nature Zero's.

**ENR**: ``L1 + 0.05 (1 - SSIM)`` of cross-view renders against the real views.

Apple's trainer takes SSIM from ``pytorch_msssim.SSIM(data_range=1, size_average=True, channel=3)``:
an 11-tap Gaussian window (sigma 1.5) applied separably with *no padding* (only windows wholly
inside the image count), ``K1 = 0.01``, ``K2 = 0.03``, the mean over every valid window, channel
and image. Hand-written here because pytorch-msssim is not installable in our package registry and
torchmetrics' SSIM scores the border too (from reflect-padded images), which moves the value by
about 1e-4; the window sums below are the library's formula, checked against torchmetrics'
interior in the tests.

**Infinite Nature** (Google's reference ``loss_impl.py``; its weights in :class:`InfiniteNatureLossWeights`),
on RGBD in [0, 1] with every frame of a rollout flattened into the batch: reconstruction L1 over all four
channels (0.5); the generator's hinge term ``-mean D(fake)`` averaged over the discriminator's scales
(1.5); feature matching, ``mean |D_feat(real) - D_feat(fake)|`` averaged over every scale and layer with
the real features detached (10); the style encoder's KL divergence, a *sum* over batch and dimensions as
the reference writes it (0.05); and for the discriminator, the hinge ``mean relu(1 - D(real)) + mean
relu(1 + D(fake))`` averaged over scales (1.5). The perceptual VGG19 term (0.01) is in
:mod:`viewgen.training.perceptual` (it needs a large weights file, and is skipped with a warning without it).

**Infinite Nature Zero** (our choice: its authors released no training code) uses StyleGAN2's objectives:
the non-saturating logistic loss, ``mean softplus(-D(fake))`` for the generator and ``mean softplus(-D(real))
+ mean softplus(D(fake))`` for the discriminator, with the R1 penalty ``mean |grad_x D(x)|^2`` on real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape

__all__ = ["SSIM_WINDOW", "EnrLoss", "InfiniteNatureLossWeights", "enr_loss", "feature_matching_loss",
           "hinge_discriminator_loss", "hinge_generator_loss", "kl_divergence", "logistic_discriminator_loss",
           "logistic_generator_loss", "r1_penalty", "reconstruction_l1", "valid_ssim"]

SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - SSIM_WINDOW // 2
    taps = torch.exp(-(offsets**2) / (2 * _SSIM_SIGMA**2))
    return taps / taps.sum()


def _window_mean(images: Tensor, taps: Tensor) -> Tensor:
    """Gaussian-weighted mean of every whole 11x11 window: ``[B, C, H, W] -> [B, C, H - 10, W - 10]``."""
    channels = images.shape[1]
    rows = taps.view(1, 1, 1, -1).expand(channels, 1, 1, SSIM_WINDOW)
    columns = taps.view(1, 1, -1, 1).expand(channels, 1, SSIM_WINDOW, 1)
    return F.conv2d(F.conv2d(images, rows, groups=channels), columns, groups=channels)


def valid_ssim(image: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean SSIM over all whole windows, channels and images (pytorch_msssim's ``SSIM``), a scalar.

    ``image``, ``target``: ``[B, C, H, W]`` of the same shape, H and W at least 11. Differentiable.
    """
    sizes = check_shape(image, ("B", "C", "H", "W"), "image")
    check_shape(target, ("B", "C", "H", "W"), "target", sizes=sizes)
    check_min_size(image, SSIM_WINDOW, "image", hint=" (the SSIM window)")
    taps = _gaussian_taps(image.dtype, image.device)
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    mean_x, mean_y = _window_mean(image, taps), _window_mean(target, taps)
    var_x = _window_mean(image * image, taps) - mean_x**2
    var_y = _window_mean(target * target, taps) - mean_y**2
    cov = _window_mean(image * target, taps) - mean_x * mean_y
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1)
    return (luminance * contrast_structure).mean()


@dataclass(frozen=True)
class EnrLoss:
    """One batch's objective: ``total = pixel + ssim_weight * (1 - ssim)``; ``pixel`` is the L1 (or L2) mean."""

    total: Tensor
    pixel: Tensor
    ssim: Tensor


def enr_loss(rendered: Tensor, target: Tensor, ssim_weight: float = 0.05, pixel_loss: str = "l1") -> EnrLoss:
    """Apple's loss of ``rendered`` against ``target`` (``[B, 3, H, W]`` in [0, 1]); ``pixel_loss`` ``l1`` or ``l2``."""
    if pixel_loss not in ("l1", "l2"):
        raise ValueError(f"pixel_loss must be l1 or l2, got {pixel_loss!r}")
    sizes = check_shape(rendered, ("B", 3, "H", "W"), "rendered")
    check_shape(target, ("B", 3, "H", "W"), "target", sizes=sizes)
    pixel = F.l1_loss(rendered, target) if pixel_loss == "l1" else F.mse_loss(rendered, target)
    ssim = valid_ssim(rendered, target) if ssim_weight else rendered.new_zeros(())
    return EnrLoss(pixel + ssim_weight * (1 - ssim), pixel, ssim)


@dataclass(frozen=True)
class InfiniteNatureLossWeights:
    """The reference's weights of Infinite Nature's loss terms ("the default values used during the original
    submission"); ``discriminator`` scales the discriminator's own hinge loss."""

    reconstruction: float = 0.5
    adversarial: float = 1.5
    feature_matching: float = 10.0
    kl: float = 0.05
    perceptual: float = 0.01
    discriminator: float = 1.5


def reconstruction_l1(generated: Tensor, truth: Tensor) -> Tensor:
    """``mean |generated - truth|`` over everything: ``[..., 4, H, W]`` RGBD of the same shape (all frames)."""
    if generated.shape != truth.shape:
        raise ValueError(f"generated {tuple(generated.shape)} and truth {tuple(truth.shape)} must have one shape")
    return (generated - truth).abs().mean()


def _check_scales(*groups) -> None:
    if not groups[0] or any(len(group) != len(groups[0]) for group in groups):
        raise ValueError("the discriminator outputs must be non-empty lists with one entry per scale")


def hinge_generator_loss(fake_logits: list[Tensor]) -> Tensor:
    """``-mean D(fake)`` per scale, averaged over the scales (``fake_logits``: one ``[B, 1, h, w]`` per scale)."""
    _check_scales(fake_logits)
    return torch.stack([-logits.mean() for logits in fake_logits]).mean()


def hinge_discriminator_loss(real_logits: list[Tensor], fake_logits: list[Tensor]) -> Tensor:
    """``mean relu(1 - D(real)) + mean relu(1 + D(fake))`` per scale, averaged over the scales."""
    _check_scales(real_logits, fake_logits)
    return torch.stack([F.relu(1 - real).mean() + F.relu(1 + fake).mean()
                        for real, fake in zip(real_logits, fake_logits)]).mean()


def feature_matching_loss(real_features: list[list[Tensor]], fake_features: list[list[Tensor]]) -> Tensor:
    """``mean |real - fake|`` of every scale's every layer (real detached), averaged over all of them."""
    _check_scales(real_features, fake_features)
    pairs = [(real, fake) for reals, fakes in zip(real_features, fake_features) for real, fake in zip(reals, fakes)]
    return torch.stack([(real.detach() - fake).abs().mean() for real, fake in pairs]).mean()


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """``-0.5 sum(1 + logvar - mu^2 - exp(logvar))`` over batch and dimensions (``[B, D]`` each), a sum as the
    reference's."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have one shape")
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()


def logistic_generator_loss(fake_logits: Tensor) -> Tensor:
    """StyleGAN2's non-saturating generator loss ``mean softplus(-D(fake))`` of logits ``[N]``."""
    return F.softplus(-fake_logits).mean()


def logistic_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """StyleGAN2's discriminator loss ``mean softplus(-D(real)) + mean softplus(D(fake))`` of logits ``[N]``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: Tensor, real_images: Tensor) -> Tensor:
    """``mean_i |d D(x_i) / d x_i|^2`` for ``real_images [N, ...]`` (which must require grad) and their logits
    ``[N]``; the graph is kept so the penalty trains the discriminator."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradient.pow(2).flatten(1).sum(1).mean()
