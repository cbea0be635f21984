"""Primitive layers shared by the Infinite Nature networks, matching the TensorFlow originals.

All tensors are NCHW. The original pads explicitly in TensorFlow's "SAME" manner (which
puts the odd pixel at the bottom/right) and then runs a VALID convolution; reflect padding
is the default, zero padding is used for the SPADE gamma/beta convolutions.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from viewgen.networks.winograd import KernelCache, winograd_conv3x3, winograd_pays

PadMode = Literal["reflect", "zeros"]

LEAKY_RELU_SLOPE = 0.2
INSTANCE_NORM_EPS = 1e-5


def same_padding(in_size: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one axis so a VALID conv gives ``ceil(in_size / stride)`` outputs.

    ``total = out * stride + kernel - in - 1`` (clamped at 0), ``before = total // 2``.
    E.g. ``same_padding(5, 3, 2) == (1, 2)`` and ``same_padding(160, 4, 2) == (1, 2)``.
    """
    out_size = math.ceil(in_size / stride)
    total = max(out_size * stride + kernel_size - in_size - 1, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel_size: tuple[int, int], stride: tuple[int, int], mode: PadMode) -> torch.Tensor:
    """Pad ``x [B, C, H, W]`` TF-"SAME"-style for a ``kernel_size``/``stride`` VALID conv."""
    top, bottom = same_padding(x.shape[-2], kernel_size[0], stride[0])
    left, right = same_padding(x.shape[-1], kernel_size[1], stride[1])
    if top == bottom == left == right == 0:
        return x
    torch_mode = "constant" if mode == "zeros" else mode
    return F.pad(x, (left, right, top, bottom), mode=torch_mode)


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with explicit TF-"SAME" padding (reflect or zeros) and a VALID convolution.

    Input ``[B, in_channels, H, W]`` -> output ``[B, out_channels, ceil(H/s), ceil(W/s)]``.
    The parameters are the usual ``weight [out, in, k, k]`` and optional ``bias [out]``.
    A stride-1 3x3 layer convolves by Winograd's F(4x4, 3x3) where that pays (CPU inference on
    large maps, :mod:`viewgen.networks.winograd`) unless inside
    ``conv_algorithm("direct")``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        bias: bool = True,
        pad_mode: PadMode = "reflect",
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.pad_mode = pad_mode
        self._winograd = KernelCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if self.stride == (1, 1) and winograd_pays(x, weight):
            kernel, bias = self._winograd.get((weight,), (self.bias,))
            return winograd_conv3x3(pad_same(x, self.kernel_size, self.stride, self.pad_mode), kernel, bias)
        return self.conv_with(x, weight, self.bias)

    def conv_with(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """This layer's padded convolution with another ``weight`` / ``bias`` (e.g. fused layers)."""
        if self.pad_mode == "zeros" and self.stride == (1, 1) and all(k % 2 for k in self.kernel_size):
            # Symmetric zero padding: let the convolution pad in place of a padded copy (same values).
            return F.conv2d(x, weight, bias, padding=(self.kernel_size[0] // 2, self.kernel_size[1] // 2))
        return F.conv2d(pad_same(x, self.kernel_size, self.stride, self.pad_mode), weight, bias, self.stride)


def sn_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    bias: bool = True,
    spectral_norm: bool = False,
) -> nn.Module:
    """A reflect-padded :class:`SameConv2d` for a layer that the original spectrally normalizes.

    For inference and converted weights keep ``spectral_norm=False``: the normalization is
    baked into ``weight`` at conversion. ``spectral_norm=True`` wraps the layer with
    ``torch.nn.utils.parametrizations.spectral_norm`` for training; its state-dict keys then
    become ``parametrizations.weight.original`` and friends.
    """
    conv = SameConv2d(in_channels, out_channels, kernel_size, stride=stride, bias=bias)
    if spectral_norm:
        return nn.utils.parametrizations.spectral_norm(conv)
    return conv


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel normalization over H and W (biased variance, eps 1e-5, no affine)."""
    return F.instance_norm(x, eps=INSTANCE_NORM_EPS)


def instance_norm_tf_order(x: torch.Tensor) -> torch.Tensor:
    """:func:`instance_norm` with TensorFlow's float32 operation order (same maths, other rounding).

    ``tf.nn.moments`` (mean, then the mean of squared differences) followed by
    ``tf.nn.batch_normalization``, which computes ``x * inv + (-mean * inv)`` with
    ``inv = rsqrt(var + eps)``. It costs several passes instead of one fused kernel, so only the
    style encoder uses it: there the parity budget (1e-5 on mu) is as small as TF's own float32
    error, and this order keeps us on TF's side of it.
    """
    mean = x.mean(dim=(-2, -1), keepdim=True)
    variance = (x - mean).square().mean(dim=(-2, -1), keepdim=True)
    inv = torch.rsqrt(variance + INSTANCE_NORM_EPS)
    return x * inv + (-mean * inv)


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with the slope 0.2 used at every call site of the original."""
    return F.leaky_relu(x, LEAKY_RELU_SLOPE)


def upsample_nearest_2x(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W] -> [B, C, 2H, 2W]`` by repeating each pixel (the original ``double_size``)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample_2x(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W] -> [B, C, H//2, W//2]`` by 2x2 averaging (the original ``half_size``)."""
    return F.avg_pool2d(x, 2)


def resize_condition(condition: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-resize ``condition [B, C, H, W]`` to ``size = (h, w)`` as the original ``diff_resize_area``.

    If ``h`` divides ``H`` and ``w`` divides ``W`` this is average pooling by ``(H/h, W/w)``;
    otherwise the condition is first resized bilinearly (half-pixel centres) to the least
    common multiple of the sizes and then average-pooled.
    """
    in_h, in_w = condition.shape[-2:]
    out_h, out_w = size
    if (in_h, in_w) == (out_h, out_w):
        return condition
    lcm_h, lcm_w = math.lcm(in_h, out_h), math.lcm(in_w, out_w)
    if (lcm_h, lcm_w) != (in_h, in_w):
        condition = F.interpolate(condition, size=(lcm_h, lcm_w), mode="bilinear", align_corners=False)
    factor = (lcm_h // out_h, lcm_w // out_w)
    return F.avg_pool2d(condition, kernel_size=factor, stride=factor)
