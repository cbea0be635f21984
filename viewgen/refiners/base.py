"""What a refiner is: the interface the fly-through loop calls, mirroring Infinite Nature's two networks::

    mu, logvar = refiner.encode_style(rgbd_0)          # once per flight: [B, style_dim] each
    rgbd = refiner.refine(warped_rgbd, mask, style)     # every frame: [B, 4, H, W] in [0, 1]

* :class:`~viewgen.refiners.spade.SpadeRefiner`: the learned one (style encoder + SPADE
  generator), what ``FlyThroughPipeline.from_pretrained`` loads.
* :class:`~viewgen.refiners.classical.refiner.ClassicalRefiner`: hole filling without weights
  (inpainting, a sky model and detail re-synthesis); the weight-free flight uses it inside
  :class:`~viewgen.refiners.classical.weight_free.WeightFreeRefiner`.

A refiner only refines: which frame the next warp starts from and what is drawn onto the shown
frame belong to the flight's memory (:mod:`viewgen.memory`).
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


class RefinerBase:
    """A convenience base of the refiners here: nothing to override but the protocol's members.

    Kept as the shared ancestor of :class:`~viewgen.refiners.spade.SpadeRefiner` and the
    classical refiners; what a flight remembers and shows is its memory's business
    (:mod:`viewgen.memory`), not the refiner's.
    """

    image_size: tuple[int, int] | None = None
