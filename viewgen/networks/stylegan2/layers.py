"""StyleGAN2 layers in plain PyTorch: equalized linear and conv, fused leaky ReLU, modulated conv, noise, ToRGB.

Equalized learning rate: weights are stored with unit variance and scaled at run time by
``1 / sqrt(fan_in)`` (times ``lr_mul`` for the mapping network), so every layer learns at the
same speed. Parameter and submodule names follow rosinality's ``stylegan2-pytorch`` (as patched
by Infinite Nature Zero), so the original checkpoints load without renaming:

* :class:`ConvLayer` is an ``nn.Sequential``: ``[Blur] -> EqualConv2d -> FusedLeakyReLU``, keys
  ``0.weight`` / ``1.bias`` (or ``0.kernel`` / ``1.weight`` / ``2.bias`` when it downsamples);
* :class:`StyledConv` holds ``conv`` (:class:`ModulatedConv2d`: ``weight [1, out, in, k, k]``,
  ``modulation`` and, when upsampling, ``blur``), ``noise`` and ``activate``;
* :class:`ToRGB` holds ``conv``, ``bias [1, C, 1, 1]`` and, with a skip input, ``upsample``.

Every operation keeps the original's order (scale then multiply, bias inside the activation), so
float32 results match it bit for bit on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from viewgen.networks.stylegan2.resample import BLUR_TAPS, Blur, Upsample

__all__ = [
    "ConvLayer", "EqualConv2d", "EqualLinear", "FusedLeakyReLU", "ModulatedConv2d", "NoiseInjection", "PixelNorm",
    "StyledConv", "ToRGB", "fused_leaky_relu",
]

LEAKY_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2.0)
DEMODULATION_EPS = 1e-8
PIXEL_NORM_EPS = 1e-8


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, gain: float = ACTIVATION_GAIN) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * sqrt(2)``; ``bias [C]`` is added along dim 1 of ``x [B, C, ...]``."""
    if bias is not None:
        x = x + bias.view(1, bias.shape[0], *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope=LEAKY_SLOPE) * gain


class FusedLeakyReLU(nn.Module):
    """:func:`fused_leaky_relu` with a learned ``bias [C]`` (zeros at start)."""

    def __init__(self, channels: int, bias: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class PixelNorm(nn.Module):
    """Normalize each sample to unit mean square over dim 1: ``x / sqrt(mean(x^2) + 1e-8)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + PIXEL_NORM_EPS)


class EqualLinear(nn.Module):
    """Linear layer ``[B, in] -> [B, out]`` with run-time weight scale ``lr_mul / sqrt(in)``.

    ``weight [out, in]`` starts as ``randn / lr_mul``; ``bias [out]`` starts at ``bias_init`` and is
    used times ``lr_mul``. ``activation=True`` applies :func:`fused_leaky_relu` with the bias.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_features).fill_(bias_init)) if bias else None
        self.activation = activation
        self.lr_mul = lr_mul
        self.scale = (1 / math.sqrt(in_features)) * lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias=bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, lr_mul={self.lr_mul}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """Conv ``[B, in, H, W] -> [B, out, H', W']`` with run-time weight scale ``1 / sqrt(in * k * k)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        out_channels, in_channels, kernel, _ = self.weight.shape
        return f"{in_channels}, {out_channels}, {kernel}, stride={self.stride}, padding={self.padding}"


class ConvLayer(nn.Sequential):
    """``[Blur] -> EqualConv2d -> [FusedLeakyReLU]``: ``[B, in, H, W] -> [B, out, H, W]`` (or ``H/2`` when
    ``downsample``: blur with padding ``(k + 1) // 2`` per side, then a stride-2 valid conv)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 blur_taps: Sequence[int] = BLUR_TAPS, bias: bool = True, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:
            excess = (len(blur_taps) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_taps, pad=((excess + 1) // 2, excess // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels, bias=bias))
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    """Style-modulated (and demodulated) conv: ``x [B, in, H, W]``, ``style [B, style_dim] -> [B, out, H', W']``.

    The style gives one scale per input channel (``modulation``, bias 1 at start); the weight is
    scaled per sample and, with ``demodulate``, renormalized to unit norm per output channel. The
    per-sample weights run as one grouped convolution. With ``upsample`` the output is ``2H x 2W``:
    a stride-2 transposed convolution followed by a blur (gain 4).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False, blur_taps: Sequence[int] = BLUR_TAPS):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        if upsample:
            excess = (len(blur_taps) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_taps, pad=((excess + 1) // 2 + 1, excess // 2 + 1), gain=4)

    def sample_weights(self, style: torch.Tensor) -> torch.Tensor:
        """``style [B, style_dim]`` -> the per-sample kernels ``[B, out, in, k, k]``."""
        batch = style.shape[0]
        weight = self.scale * self.weight * self.modulation(style).view(batch, 1, self.in_channels, 1, 1)
        if self.demodulate:
            norm = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + DEMODULATION_EPS)
            weight = weight * norm.view(batch, self.out_channels, 1, 1, 1)
        return weight

    def forward(self, x: torch.Tensor, style: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``weight``: this ``style``'s :meth:`sample_weights`, when the caller computed them already."""
        batch, in_channels, height, width = x.shape
        k = self.kernel_size
        weight = self.sample_weights(style) if weight is None else weight
        x = x.reshape(1, batch * in_channels, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channels, self.out_channels, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            return self.blur(out.view(batch, self.out_channels, out.shape[-2], out.shape[-1]))
        weight = weight.reshape(batch * self.out_channels, in_channels, k, k)
        out = F.conv2d(x, weight, padding=self.padding, groups=batch)
        return out.view(batch, self.out_channels, out.shape[-2], out.shape[-1])

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, {self.kernel_size}, demodulate={self.demodulate}, "
                f"upsample={self.upsample}")


class NoiseInjection(nn.Module):
    """Add per-pixel noise scaled by a learned ``weight [1]``: ``x + weight * noise``.

    ``noise [B or 1, 1, H, W]`` is given explicitly for reproducible output; when it is ``None``
    fresh standard normal noise is drawn (from ``generator`` if given, else torch's global RNG),
    as the original does on every call, in training and evaluation alike.
    """

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        if noise is None:
            batch, _, height, width = x.shape
            noise = torch.randn(batch, 1, height, width, generator=generator, dtype=x.dtype,
                                device=generator.device if generator is not None else x.device).to(x.device)
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated 3x3 conv -> noise -> biased leaky ReLU: ``[B, in, H, W] -> [B, out, H or 2H, W or 2W]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 upsample: bool = False, blur_taps: Sequence[int] = BLUR_TAPS):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim, upsample=upsample,
                                    blur_taps=blur_taps)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style, weight), noise, generator))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to ``out_channels`` (no demodulation) plus ``bias``, plus the upsampled ``skip``.

    ``x [B, in, H, W]``, ``style [B, style_dim]``, ``skip [B, C, H/2, W/2]`` or ``None`` -> ``[B, C, H, W]``
    (pre-activation image; the generator applies ``tanh`` at the end).
    """

    def __init__(self, in_channels: int, style_dim: int, out_channels: int = 3, upsample: bool = True,
                 blur_taps: Sequence[int] = BLUR_TAPS):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_taps)
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style, weight) + self.bias
        if skip is not None:
            if not hasattr(self, "upsample"):
                raise ValueError("this ToRGB was built with upsample=False and takes no skip image")
            out = out + self.upsample(skip)
        return out
