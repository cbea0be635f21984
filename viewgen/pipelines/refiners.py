"""Refiners: what re-imagines a warped frame in the fly-through loop.

A refiner has two calls, mirroring Infinite Nature's two networks::

    mu, logvar = refiner.encode_style(rgbd_0)          # once per flight: [B, style_dim] each
    rgbd = refiner.refine(warped_rgbd, mask, style)     # every frame: [B, 4, H, W] in [0, 1]

* :class:`SpadeRefiner`: the learned one (style encoder + SPADE generator), what
  ``FlyThroughPipeline.from_pretrained`` loads.
* :class:`~viewgen.pipelines.classical_refiner.ClassicalRefiner`: the weight-free fallback
  (inpainting, a sky model and detail re-synthesis), used when no weights are given.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from viewgen.networks import SpadeGenerator, StyleEncoder

__all__ = ["Refiner", "RefinerBase", "SpadeRefiner"]


@runtime_checkable
class Refiner(Protocol):
    """The interface :class:`~viewgen.pipelines.FlyThroughPipeline` flies with.

    name: a short name for messages (``"spade"``, ``"classical"``).
    image_size: the ``(H, W)`` the refiner must work at, or ``None`` for any size.
    style_dim: length of the style code.
    """

    name: str
    image_size: tuple[int, int] | None
    style_dim: int

    def to(self, device: torch.device, dtype: torch.dtype) -> Refiner:
        """Move to ``device`` / ``dtype`` (and switch to inference behaviour); returns self."""

    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        """``rgbd [B, 4, H, W]`` -> ``(mu, logvar)``, each ``[B, style_dim]``."""

    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        """``warped_rgbd [B, 4, H, W]`` (holes 0), ``mask [B, 1, H, W]``, ``style [B, style_dim]`` -> ``[B, 4, H, W]``."""

    def is_keyframe(self, mask: Tensor) -> bool:
        """Whether the frame just refined (from a warp with this ``mask``) anchors the next warps."""

    def present(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """The emitted frame for a refined ``rgbd [1, 4, H, W]`` seen from ``cam_from_world [3, 4]``."""


class RefinerBase:
    """Defaults of the two flight hooks, which give Infinite Nature's loop unchanged.

    Every refined frame is a keyframe (the next warp starts from it) and is emitted as is.
    """

    def is_keyframe(self, mask: Tensor) -> bool:
        return True

    def present(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        return rgbd


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
