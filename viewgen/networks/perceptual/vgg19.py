"""VGG19 as Infinite Nature's perceptual loss sees it (the reference's ``build_vgg19``, CQFIO's builder).

The network takes RGB in [0, 1], scales it to [0, 255] and subtracts the ImageNet mean
``(123.68, 116.779, 103.939)`` (MatConvNet's VGG weights expect that, no division by a deviation);
every 3x3 convolution (stride 1, zero "SAME" padding) is followed by a ReLU, and the blocks are
joined by 2x2 **average** pooling (stride 2, "SAME"). It is built up to ``conv5_2`` and returns the
five activations the loss compares: ``conv1_2, conv2_2, conv3_2, conv4_2, conv5_2``.

Parameters are named after the layers (``conv3_2.weight [C_out, C_in, 3, 3]``, ``conv3_2.bias``);
:func:`viewgen.training.perceptual.read_matconvnet_vgg19` reads them from MatConvNet's
``imagenet-vgg-verydeep-19.mat``, the file the reference loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["VGG19_LAYERS", "VGG19_TAPS", "VGG19Config", "VGG19Features"]

# (block, convolutions in the block) up to conv5_2
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 2))
VGG19_LAYERS = tuple(f"conv{block}_{index}" for block, count in _BLOCKS for index in range(1, count + 1))
VGG19_TAPS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
IMAGENET_MEAN_255 = (123.68, 116.779, 103.939)


@dataclass(frozen=True)
class VGG19Config:
    """channels: the width of each block's convolutions (VGG19: 64, 128, 256, 512, 512; smaller for tests)."""

    channels: tuple[int, int, int, int, int] = (64, 128, 256, 512, 512)


class VGG19Features(nn.Module):
    """The convolutions ``conv1_1`` .. ``conv5_2`` of VGG19 (see the module doc)."""

    def __init__(self, config: VGG19Config = VGG19Config()) -> None:
        super().__init__()
        self.config = config
        in_channels = 3
        for block, count in _BLOCKS:
            width = config.channels[block - 1]
            for index in range(1, count + 1):
                self.add_module(f"conv{block}_{index}", nn.Conv2d(in_channels, width, 3, padding=1))
                in_channels = width
        self.register_buffer("mean_255", torch.tensor(IMAGENET_MEAN_255).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: Tensor) -> list[Tensor]:
        """``rgb [B, 3, H, W]`` in [0, 1] -> the five tapped activations ``[B, C_k, H / 2^k, W / 2^k]`` (k = 0..4)."""
        x = rgb * 255.0 - self.mean_255
        taps = []
        for block, count in _BLOCKS:
            if block > 1:
                x = F.avg_pool2d(x, 2, stride=2, ceil_mode=True)  # TF's "SAME" 2x2 pooling of an odd side
            for index in range(1, count + 1):
                name = f"conv{block}_{index}"
                x = F.relu(getattr(self, name)(x))
                if name in VGG19_TAPS:
                    taps.append(x)
        return taps
