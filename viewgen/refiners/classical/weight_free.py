"""The weight-free refiner that ``viewgen fly`` uses when no weights are given.

It is the small half of the weight-free flight; the large half is its memory,
:class:`~viewgen.memory.WorldPrior` (frame 0 set into a procedural world), which already hands
over a complete view except in the small holes that frame 0's warp leaves next to what it
knows (disocclusions, depth edges). Those are filled here from the nearest known pixel on each
of their four sides (:func:`~viewgen.rendering.holes.fill_four_sides`) and blended in by the
mask, so every pixel with mask 1 is returned exactly as given.

Why this fill: measured on ``viewgen eval``'s short-range protocol it beats the nearest pixel
(the baseline's fill) by 0.2-0.6 dB, OpenCV's Navier-Stokes inpainting and a push-pull pyramid
as well, and filling from the background side loses 1-2.6 dB (the holes are mostly the hidden
continuation of a ridge); detail synthesis or sharpening inside them costs PSNR too
(:mod:`viewgen.rendering.holes` has the figures).

No learned weights, no randomness: ``refine`` is a pure function of its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.refiners.base import RefinerBase
from viewgen.rendering.holes import fill_four_sides

__all__ = ["WeightFreeConfig", "WeightFreeRefiner"]


@dataclass(frozen=True)
class WeightFreeConfig:
    """Settings of :class:`WeightFreeRefiner`.

    known: mask value from which a pixel is a source of the fill (pixels below are filled;
        between ``known`` and 1 the given pixel and the fill are blended by the mask).
    """

    known: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.known <= 1.0:
            raise ValueError(f"WeightFreeConfig.known must lie in (0, 1], got {self.known}")


class WeightFreeRefiner(RefinerBase):
    """Fills the small holes of a warped frame from the known pixels on their four sides; any image size, no weights."""

    name = "weight-free"
    image_size = None
    style_dim = 1

    def __init__(self, config: WeightFreeConfig | None = None) -> None:
        self.config = config or WeightFreeConfig()

    def to(self, device: torch.device, dtype: torch.dtype) -> WeightFreeRefiner:
        """Nothing to move (no parameters); returns ``self``."""
        return self

    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        """No style to encode: ``(zeros [B, 1], zeros [B, 1])`` (the world prior carries frame 0's look)."""
        check_shape(rgbd, ("B", 4, "H", "W"), "rgbd")
        zeros = torch.zeros(rgbd.shape[0], self.style_dim, dtype=rgbd.dtype, device=rgbd.device)
        return zeros, zeros.clone()

    @torch.inference_mode()
    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        """``warped_rgbd [B, 4, H, W]`` (complete, not premultiplied), ``mask [B, 1, H, W]`` -> ``[B, 4, H, W]``.

        Pixels with ``mask < known`` are replaced by the distance-weighted mean of the nearest
        pixel with ``mask >= known`` on each of their four sides (:func:`fill_four_sides`);
        the result is ``lerp(filled, warped_rgbd, mask)``. ``style`` is ignored.
        """
        check_shape(warped_rgbd, ("B", 4, "H", "W"), "warped_rgbd")
        check_min_size(warped_rgbd, 2, "warped_rgbd")
        batch, _, height, width = warped_rgbd.shape
        check_shape(mask, ("B", 1, "H", "W"), "mask", sizes={"B": batch, "H": height, "W": width})
        mask = mask.to(warped_rgbd).clamp(0.0, 1.0)
        known = mask >= self.config.known
        if bool(known.all()):
            return warped_rgbd.clone()
        filled = fill_four_sides(warped_rgbd, known)
        return torch.lerp(filled, warped_rgbd, mask)
