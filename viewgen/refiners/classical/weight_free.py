"""The weight-free refiner that ``viewgen fly`` uses when no weights are given.

It completes each warped frame with :class:`~viewgen.refiners.classical.refiner.ClassicalRefiner`'s
hole filling (inpainting, a sky model, a ground-plane prior for new disparity), and brings the
two things the weight-free flight needs besides (``FlyThroughPipeline.weight_free`` wires them
into the flight's memory, :mod:`viewgen.memory`):

* **keyframes** (:attr:`WeightFreeRefiner.keyframes`): the next warps start from the last
  keyframe, renewed every ``keyframe_interval`` frames or as soon as more than
  ``max_hole_fraction`` of a warp is hole, so the image is resampled a few times per second of
  flight instead of every frame (:class:`~viewgen.memory.Keyframes`);
* **surface texture** (:meth:`WeightFreeRefiner.texture`): fine texture fixed to the 3D surface
  (:class:`SurfaceDetail`) is drawn onto the shown frame only, the memory keeping the frame
  without it, so it is never warped and stretched (:class:`~viewgen.memory.SurfaceTextured`).

The classical refiner's own image-space detail synthesis is turned off here
(``detail_layer=False``): fed back through the warps, its noise is stretched into radial
streaks by forward motion, which the surface-fixed texture avoids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from viewgen.memory.frames import KeyframesConfig
from viewgen.refiners.base import RefinerBase
from viewgen.refiners.classical.refiner import ClassicalRefiner, ClassicalRefinerConfig
from viewgen.refiners.classical.surface_detail import SurfaceDetail, SurfaceDetailConfig

__all__ = ["WeightFreeConfig", "WeightFreeRefiner"]


@dataclass(frozen=True)
class WeightFreeConfig:
    """Settings of :class:`WeightFreeRefiner`.

    keyframe_interval: renew the keyframe at least every this many frames.
    max_hole_fraction: renew it as soon as a warp leaves more than this share of pixels as holes
        (mask below 0.5), so that hole filling never has to invent much at once.
    seed: seed of the surface texture (the flight is otherwise deterministic).
    fill: the hole filling's settings; detail: the surface texture's.
    """

    keyframe_interval: int = 4
    max_hole_fraction: float = 0.02
    seed: int = 0
    fill: ClassicalRefinerConfig = field(default_factory=lambda: ClassicalRefinerConfig(detail_layer=False))
    detail: SurfaceDetailConfig = field(default_factory=SurfaceDetailConfig)

    def __post_init__(self) -> None:
        if self.keyframe_interval < 1 or not 0.0 <= self.max_hole_fraction <= 1.0:
            raise ValueError("WeightFreeConfig needs keyframe_interval >= 1 and max_hole_fraction in [0, 1]")


class WeightFreeRefiner(RefinerBase):
    """Hole filling, plus the keyframe rule and surface texture its flight uses; any image size, no weights."""

    name = "weight-free"
    image_size = None

    def __init__(self, config: WeightFreeConfig | None = None) -> None:
        self.config = config = config or WeightFreeConfig()
        self.filling = ClassicalRefiner(config.fill)
        self.style_dim = self.filling.style_dim
        self.detail = SurfaceDetail(config.detail, seed=config.seed)

    @property
    def keyframes(self) -> KeyframesConfig:
        """The keyframe rule this refiner is designed for (its config's two keyframe fields)."""
        return KeyframesConfig(self.config.keyframe_interval, self.config.max_hole_fraction)

    def to(self, device: torch.device, dtype: torch.dtype) -> WeightFreeRefiner:
        self.filling.to(device, dtype)
        return self

    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        """Frame 0's color/layout statistics; also measures the texture the surface detail restores."""
        self.detail.fit(rgbd[:1].float().cpu())
        return self.filling.encode_style(rgbd)

    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        return self.filling.refine(warped_rgbd, mask, style)

    def texture(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """``rgbd [1, 4, H, W]`` seen from ``cam_from_world [3, 4]`` with the surface texture added (same shape).

        Fitted to frame 0 by :meth:`encode_style`; disparity is unchanged.
        """
        shown = self.detail.apply(rgbd.float().cpu(), cam_from_world.float().cpu(), intrinsics.float().cpu())
        return shown.to(rgbd)
