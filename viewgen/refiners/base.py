"""What a refiner is: the interface the fly-through loop calls, mirroring Infinite Nature's two networks::

    mu, logvar = refiner.encode_style(rgbd_0)          # once per flight: [B, style_dim] each
    rgbd = refiner.refine(warped_rgbd, mask, style)     # every frame: [B, 4, H, W] in [0, 1]

* :class:`~viewgen.refiners.spade.SpadeRefiner`: the learned one (style encoder + SPADE
  generator), what ``FlyThroughPipeline.from_pretrained`` loads.
* :class:`~viewgen.refiners.classical.refiner.ClassicalRefiner`: the weight-free fallback
  (inpainting, a sky model and detail re-synthesis), used when no weights are given.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["Refiner", "RefinerBase"]


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
        """``warped_rgbd [B, 4, H, W]`` (holes 0), ``mask [B, 1, H, W]``, ``style [B, style_dim]``
        -> ``[B, 4, H, W]``."""

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
