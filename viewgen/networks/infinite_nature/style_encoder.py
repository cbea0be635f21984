"""The Infinite Nature style encoder: RGBD image -> (mu, logvar) of a 256-D style code."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from viewgen.networks.infinite_nature.layers import instance_norm_tf_order, leaky_relu, sn_conv
from viewgen.networks.pretrained import PretrainedMixin


@dataclass(frozen=True)
class StyleEncoderConfig:
    """Shape of a :class:`StyleEncoder`; the defaults are the released 160x256 model.

    Attributes:
        image_size: (H, W) of the input; fixes the size of the flattened features.
        in_channels: input channels (RGB + disparity).
        channels: output channels of the stride-2 convs, one entry per conv.
        style_dim: size of mu and logvar.
        spectral_norm: wrap the convs in spectral normalization (training only; converted
            weights have it baked in and need ``False``).
    """

    image_size: tuple[int, int] = (160, 256)
    in_channels: int = 4
    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128)
    style_dim: int = 256
    spectral_norm: bool = False

    @property
    def feature_size(self) -> tuple[int, int]:
        """(h, w) of the last conv's output: each stride-2 conv gives ``ceil(size / 2)``."""
        height, width = self.image_size
        for _ in self.channels:
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        return height, width

    @property
    def flat_features(self) -> int:
        """Input size of ``linear_mu`` / ``linear_logvar`` (1536 for the defaults: 3 * 4 * 128)."""
        height, width = self.feature_size
        return height * width * self.channels[-1]


class StyleEncoder(PretrainedMixin, nn.Module):
    """Encode an RGBD image into the mean and log-variance of its style code.

    Each block is a 3x3 stride-2 conv (reflect padding) -> instance norm -> leaky ReLU 0.2.
    The final features are flattened in TensorFlow's (h, w, c) order, so converted dense
    weights apply unchanged, and fed to two linear heads. At inference the style is ``mu``.
    """

    config_class = StyleEncoderConfig

    def __init__(self, config: StyleEncoderConfig | None = None):
        super().__init__()
        self.config = config = config or StyleEncoderConfig()
        widths = (config.in_channels, *config.channels)
        self.convs = nn.ModuleList(
            sn_conv(c_in, c_out, 3, stride=2, spectral_norm=config.spectral_norm)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.linear_mu = nn.Linear(config.flat_features, config.style_dim)
        self.linear_logvar = nn.Linear(config.flat_features, config.style_dim)

    def features(self, rgbd: torch.Tensor) -> torch.Tensor:
        """``rgbd [B, 4, H, W]`` in [0, 1] -> last activations ``[B, channels[-1], h, w]``."""
        x = 2 * rgbd - 1
        for conv in self.convs:
            x = leaky_relu(instance_norm_tf_order(conv(x)))
        return x

    def forward(self, rgbd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``rgbd [B, 4, H, W]`` in [0, 1] -> ``(mu [B, style_dim], logvar [B, style_dim])``."""
        features = self.features(rgbd)
        flat = features.permute(0, 2, 3, 1).reshape(features.shape[0], -1)  # TF's NHWC order
        return self.linear_mu(flat), self.linear_logvar(flat)
