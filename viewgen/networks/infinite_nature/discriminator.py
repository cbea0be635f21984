"""Patch discriminators of Infinite Nature (the reference ``loss_impl.py``; training only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from viewgen.networks.infinite_nature.layers import SameConv2d, downsample_2x, instance_norm, leaky_relu, sn_conv
from viewgen.networks.pretrained import PretrainedMixin


@dataclass(frozen=True)
class PatchDiscriminatorConfig:
    """Shape of a :class:`PatchDiscriminator`; the defaults follow the original reference code.

    Attributes:
        in_channels: input channels (RGBD in [0, 1], fed without rescaling).
        base_channels: channels of the first conv; each later conv doubles, up to ``max_channels``.
        max_channels: cap on the width.
        strides: strides of ``conv_in`` (the original's plain ``conv``), then of ``convs[0]``, ... (``conv_1`` ...).
            The reference uses (2, 2, 2, 1); an unofficial port used (2, 1, 1, 2).
        kernel_size: square kernel of every conv, including the logit conv (stride 1).
        spectral_norm: wrap ``conv_1`` ... in spectral normalization (training only).
    """

    in_channels: int = 4
    base_channels: int = 64
    max_channels: int = 512
    strides: tuple[int, ...] = (2, 2, 2, 1)
    kernel_size: int = 4
    spectral_norm: bool = False

    @property
    def channels(self) -> tuple[int, ...]:
        """Output channels of ``conv_in``, ``convs[0]``, ... (64, 128, 256, 512 by default)."""
        widths = [self.base_channels]
        for _ in self.strides[1:]:
            widths.append(min(2 * widths[-1], self.max_channels))
        return tuple(widths)


class PatchDiscriminator(PretrainedMixin, nn.Module):
    """Patch-wise real/fake logits for an RGBD image.

    ``conv_in`` (no norm, no activation, as written in the original), then for each further
    conv: conv -> instance norm -> leaky ReLU 0.2, each output kept as a feature for the
    feature-matching loss; then ``logit``, a 1-channel conv. All convs use reflect
    TF-"SAME" padding. At 160x256 with the defaults the logits are ``[B, 1, 20, 32]``.
    """

    config_class = PatchDiscriminatorConfig

    def __init__(self, config: PatchDiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or PatchDiscriminatorConfig()
        kernel, channels = config.kernel_size, config.channels
        self.conv_in = SameConv2d(config.in_channels, channels[0], kernel, stride=config.strides[0])
        self.convs = nn.ModuleList(
            sn_conv(c_in, c_out, kernel, stride=stride, spectral_norm=config.spectral_norm)
            for c_in, c_out, stride in zip(channels[:-1], channels[1:], config.strides[1:])
        )
        self.logit = SameConv2d(channels[-1], 1, kernel)

    def forward(self, rgbd: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``rgbd [B, C, H, W]`` -> (features ``[B, C_i, h_i, w_i]`` per normalized conv, logits ``[B, 1, h, w]``)."""
        x = self.conv_in(rgbd)
        features = []
        for conv in self.convs:
            x = leaky_relu(instance_norm(conv(x)))
            features.append(x)
        return features, self.logit(x)


@dataclass(frozen=True)
class MultiScaleDiscriminatorConfig:
    """``num_scales`` copies of one :class:`PatchDiscriminatorConfig`; scale ``k`` sees the input halved ``k`` times."""

    patch: PatchDiscriminatorConfig = field(default_factory=PatchDiscriminatorConfig)
    num_scales: int = 2


class MultiScaleDiscriminator(PretrainedMixin, nn.Module):
    """Patch discriminators at full resolution and at successive 2x2-average halvings."""

    config_class = MultiScaleDiscriminatorConfig

    def __init__(self, config: MultiScaleDiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or MultiScaleDiscriminatorConfig()
        self.scales = nn.ModuleList(PatchDiscriminator(config.patch) for _ in range(config.num_scales))

    def forward(self, rgbd: torch.Tensor) -> tuple[list[list[torch.Tensor]], list[torch.Tensor]]:
        """``rgbd [B, C, H, W]`` -> (features per scale, logits per scale), full resolution first."""
        all_features, all_logits = [], []
        for index, discriminator in enumerate(self.scales):
            if index > 0:
                rgbd = downsample_2x(rgbd)
            features, logits = discriminator(rgbd)
            all_features.append(features)
            all_logits.append(logits)
        return all_features, all_logits
