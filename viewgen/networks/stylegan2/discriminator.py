"""A StyleGAN2 residual discriminator for Infinite Nature Zero's training (which the original never released).

::

    x [B, C, R, R] in [0, 1]  ->  2 x - 1  ->  FromRGB (1x1 conv)
    for each level R, R/2, ..., 8:    (x + skip) / sqrt(2) of two 3x3 convs (the second downsampling)
                                      and a 1x1 downsampling skip
    minibatch standard deviation (groups of up to 4, one feature)      ->  [B, c + 1, 4, 4]
    3x3 conv -> flatten -> dense (leaky ReLU) -> dense                  ->  logits [B]

The architecture is StyleGAN2's ``resnet`` discriminator (Karras et al. 2020, config E/F), built
from the same equalized-learning-rate layers as the generator
(:mod:`~viewgen.networks.stylegan2.layers`); widths follow the generator's rule
``clip(channel_base / 2**stage, 1, channel_max)``. It judges RGB plus disparity (4 channels) so
that the geometry a flight grows from is pushed toward that of real photos too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from viewgen.checks import check_shape
from viewgen.networks.pretrained import PretrainedMixin
from viewgen.networks.stylegan2.encoders import channels_at
from viewgen.networks.stylegan2.layers import ConvLayer, EqualLinear

__all__ = ["StyleGAN2Discriminator", "StyleGAN2DiscriminatorConfig", "minibatch_stddev"]


@dataclass(frozen=True)
class StyleGAN2DiscriminatorConfig:
    """Shape of a :class:`StyleGAN2Discriminator`.

    resolution: side of the square inputs (a power of two, at least 8). image_channels: input channels
    (RGB + disparity). channel_base, channel_max: the width rule (module doc). mbstd_group: samples per
    minibatch-standard-deviation group, at most (:func:`minibatch_stddev`).
    """

    resolution: int = 128
    image_channels: int = 4
    channel_base: int = 8192
    channel_max: int = 512
    mbstd_group: int = 4

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two of at least 8, got {self.resolution}")
        for name in ("image_channels", "channel_base", "channel_max", "mbstd_group"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class DiscriminatorBlock(nn.Module):
    """``[B, in, H, W] -> [B, out, H/2, W/2]``: ``(conv3(conv3_down(x)) + conv1_down(x)) / sqrt(2)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """``[B, C, H, W] -> [B, C + 1, H, W]``: one more channel, the mean standard deviation of each group of
    samples, broadcast over the group's samples and pixels. Groups hold the largest divisor of ``B`` that is at
    most ``group`` samples (StyleGAN2 requires ``B`` to divide by ``group``; any batch works here)."""
    batch, channels, height, width = x.shape
    size = max(d for d in range(1, min(group, batch) + 1) if batch % d == 0)
    grouped = x.view(size, batch // size, channels, height, width)
    deviation = torch.sqrt(grouped.var(0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))  # [B / size]
    feature = deviation.view(1, -1, 1, 1, 1).expand(size, -1, 1, height, width).reshape(batch, 1, height, width)
    return torch.cat([x, feature], dim=1)


class StyleGAN2Discriminator(PretrainedMixin, nn.Module):
    """RGBD ``[B, C, R, R]`` in [0, 1] -> realness logits ``[B]`` (the module doc's network)."""

    config_class = StyleGAN2DiscriminatorConfig

    def __init__(self, config: StyleGAN2DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StyleGAN2DiscriminatorConfig()
        levels = range(int(math.log2(config.resolution)), 2, -1)  # R, ..., 8 as log2
        width = [channels_at(level - 1, config.channel_base, config.channel_max) for level in (*levels, 2)]
        self.from_rgb = ConvLayer(config.image_channels, width[0], 1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(width[i], width[i + 1]) for i in range(len(levels)))
        self.final_conv = ConvLayer(width[-1] + 1, width[-1], 3)
        self.final_dense = EqualLinear(width[-1] * 16, width[-1], activation=True)
        self.final_logit = EqualLinear(width[-1], 1)

    def forward(self, rgbd: torch.Tensor) -> torch.Tensor:
        size = self.config.resolution
        check_shape(rgbd, ("B", self.config.image_channels, size, size), "rgbd", hint=" (RGB + disparity in [0, 1])")
        x = self.from_rgb(rgbd * 2.0 - 1.0)
        for block in self.blocks:
            x = block(x)
        x = self.final_conv(minibatch_stddev(x, self.config.mbstd_group))
        return self.final_logit(self.final_dense(x.flatten(1))).squeeze(1)
