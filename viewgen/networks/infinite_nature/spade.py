"""SPADE normalization and the SPADE residual block of the Infinite Nature refinement network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from viewgen.networks.infinite_nature.layers import SameConv2d, instance_norm, leaky_relu, resize_condition, sn_conv
from viewgen.networks.winograd import KernelCache, winograd_conv3x3, winograd_pays


class Spade(nn.Module):
    """Spatially-adaptive normalization: ``instance_norm(x) * (1 + gamma(c)) + beta(c)``.

    The condition ``c`` is area-resized to the size of ``x``, then ``conv_cond`` (3x3,
    reflect padding) and ReLU give ``hidden_channels`` features, from which ``gamma`` and
    ``beta`` (3x3, zero padding) predict a per-pixel scale and shift. None of these convs is
    spectrally normalized in the original.

    Args:
        channels: C, the channels of ``x``.
        condition_channels: channels of the condition (5: RGBD in [-1, 1] and the mask).
        hidden_channels: width of the shared hidden layer (128 in the original).

    Where Winograd convolution pays (see :class:`SameConv2d`), gamma and beta are computed as
    one F(4x4, 3x3) convolution, sharing the transform of ``hidden``.
    """

    def __init__(self, channels: int, condition_channels: int, hidden_channels: int):
        super().__init__()
        self.conv_cond = SameConv2d(condition_channels, hidden_channels, 3, pad_mode="reflect")
        self.gamma = SameConv2d(hidden_channels, channels, 3, pad_mode="zeros")
        self.beta = SameConv2d(hidden_channels, channels, 3, pad_mode="zeros")
        self._winograd = KernelCache()

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``x [B, C, h, w]``, ``condition [B, condition_channels, H, W]`` -> ``[B, C, h, w]``."""
        hidden = F.relu(self.conv_cond(resize_condition(condition, x.shape[-2:])))
        gamma, beta = self.modulation(hidden)
        normalized = instance_norm(x)
        return torch.addcmul(normalized + beta, normalized, gamma)  # x_n * (1 + gamma) + beta

    def modulation(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden [B, hidden_channels, h, w]`` -> (gamma, beta), each ``[B, C, h, w]``."""
        gamma_weight, beta_weight = self.gamma.weight, self.beta.weight
        joined_channels = gamma_weight.shape[0] + beta_weight.shape[0]
        if winograd_pays(hidden, gamma_weight, joined_channels):
            kernel, bias = self._winograd.get((gamma_weight, beta_weight), (self.gamma.bias, self.beta.bias))
            both = winograd_conv3x3(F.pad(hidden, (1, 1, 1, 1)), kernel, bias)
            return both[:, : gamma_weight.shape[0]], both[:, gamma_weight.shape[0] :]
        return self.gamma(hidden), self.beta(hidden)


class SpadeResBlock(nn.Module):
    """Residual block: two (SPADE -> leaky ReLU -> 3x3 conv) steps plus a shortcut.

    ``out = conv_1(lrelu(spade_1(conv_0(lrelu(spade_0(x)))))) + shortcut(x)``, where the
    shortcut is ``shortcut_conv(shortcut_spade(x))`` (1x1, no bias, no activation) when the
    channel count changes and the identity otherwise. The middle width is
    ``min(in_channels, out_channels)``. ``conv_0``, ``conv_1`` and ``shortcut_conv`` are the
    spectrally normalized convs of the original (see :func:`~viewgen.networks.infinite_nature.layers.sn_conv`).

    Input ``x [B, in_channels, h, w]`` and ``condition [B, Cc, H, W]``; output ``[B, out_channels, h, w]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        condition_channels: int,
        hidden_channels: int,
        spectral_norm: bool = False,
    ):
        super().__init__()
        mid_channels = min(in_channels, out_channels)
        self.spade_0 = Spade(in_channels, condition_channels, hidden_channels)
        self.conv_0 = sn_conv(in_channels, mid_channels, 3, spectral_norm=spectral_norm)
        self.spade_1 = Spade(mid_channels, condition_channels, hidden_channels)
        self.conv_1 = sn_conv(mid_channels, out_channels, 3, spectral_norm=spectral_norm)
        self.has_learned_shortcut = in_channels != out_channels
        if self.has_learned_shortcut:
            self.shortcut_spade = Spade(in_channels, condition_channels, hidden_channels)
            self.shortcut_conv = sn_conv(in_channels, out_channels, 1, bias=False, spectral_norm=spectral_norm)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        residual = self.conv_0(leaky_relu(self.spade_0(x, condition)))
        residual = self.conv_1(leaky_relu(self.spade_1(residual, condition)))
        if self.has_learned_shortcut:
            x = self.shortcut_conv(self.shortcut_spade(x, condition))
        return x + residual
