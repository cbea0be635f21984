"""Infinite Nature's learned refiner: the style encoder and the SPADE generator behind the
:class:`~viewgen.refiners.base.Refiner` interface."""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.networks import SpadeGenerator, StyleEncoder
from viewgen.refiners.base import RefinerBase

__all__ = ["SpadeRefiner", "check_networks"]


class SpadeRefiner(RefinerBase):
    """Infinite Nature's learned refiner: a :class:`StyleEncoder` and a :class:`SpadeGenerator`.

    The generator re-renders the whole frame (no warped pixel is pasted back), as the original.
    """

    name = "spade"

    def __init__(self, style_encoder: StyleEncoder, generator: SpadeGenerator) -> None:
        check_networks(style_encoder, generator)
        self.style_encoder, self.generator = style_encoder, generator

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.generator.config.image_size)

    @property
    def style_dim(self) -> int:
        return self.generator.config.style_dim

    def to(self, device: torch.device, dtype: torch.dtype) -> SpadeRefiner:
        self.style_encoder = self.style_encoder.to(device, dtype).eval()
        self.generator = self.generator.to(device, dtype).eval()
        return self

    def channels_last(self) -> SpadeRefiner:
        """Keep the generator's weights channels-last (NHWC), the layout oneDNN's bfloat16 kernels want: on an AMX
        CPU a bfloat16 generator call takes 141 ms channels-last, 197 ms as it is (docs/speed.md). Returns self."""
        self.generator = self.generator.to(memory_format=torch.channels_last)
        return self

    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        return self.style_encoder(rgbd)

    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        return self.generator(warped_rgbd, mask, style)


def check_networks(encoder: StyleEncoder, generator: SpadeGenerator) -> None:
    """The encoder and generator must agree on image size, style size and RGBD channels."""
    if tuple(encoder.config.image_size) != tuple(generator.config.image_size):
        raise ValueError(f"image sizes disagree: style encoder {tuple(encoder.config.image_size)}, "
                         f"generator {tuple(generator.config.image_size)}")
    if encoder.config.style_dim != generator.config.style_dim:
        raise ValueError(f"style sizes disagree: encoder {encoder.config.style_dim}, "
                         f"generator {generator.config.style_dim}")
    if encoder.config.in_channels != 4 or generator.config.rgbd_channels != 4:
        raise ValueError("the fly-through needs networks with 4 RGBD channels")
