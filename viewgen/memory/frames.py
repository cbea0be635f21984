"""Memories made of remembered frames: the last frame (the paper), keyframes, and surface texture on top.

Shapes as in :mod:`viewgen.memory.base`: ``rgbd [1, 4, H, W]``, ``mask [1, 1, H, W]``,
``cam_from_world [3, 4]``, ``intrinsics [4]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from viewgen.errors import ViewgenRuntimeError
from viewgen.memory.base import Memory, Warp
from viewgen.rendering.warp import warp_rgbd

__all__ = ["Keyframes", "KeyframesConfig", "LastFrame", "SurfaceTextured"]

# (rgbd [1, 4, H, W], cam_from_world [3, 4], intrinsics [4]) -> rgbd [1, 4, H, W]
Texture = Callable[[Tensor, Tensor, Tensor], Tensor]


class LastFrame(Memory):
    """Infinite Nature's memory: the last frame only; every new frame warps the previous one."""

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        self._keep(rgbd, cam_from_world, intrinsics)

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """Warp the remembered frame to ``cam_from_world``: ``(rgbd [1, 4, H, W], mask [1, 1, H, W])``."""
        if not hasattr(self, "rgbd"):
            raise ViewgenRuntimeError(f"{type(self).__name__} is empty: reset it with frame 0 first")
        return self.warp(self.rgbd, self.cam_from_world, cam_from_world, self.intrinsics, intrinsics)

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        self._keep(rgbd, cam_from_world, intrinsics)
        return rgbd

    def _keep(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        """The frame the next :meth:`render` warps from."""
        self.rgbd, self.cam_from_world, self.intrinsics = rgbd, cam_from_world, intrinsics


@dataclass(frozen=True)
class KeyframesConfig:
    """Settings of :class:`Keyframes`.

    interval: renew the keyframe at least every this many frames (1 = every frame, the paper).
    max_hole_fraction: renew it as soon as a render leaves more than this share of pixels as
        holes (mask below 0.5), so hole filling never has to invent much at once.
    """

    interval: int = 4
    max_hole_fraction: float = 0.02

    def __post_init__(self) -> None:
        if self.interval < 1 or not 0.0 <= self.max_hole_fraction <= 1.0:
            raise ValueError("KeyframesConfig needs interval >= 1 and max_hole_fraction in [0, 1]")


class Keyframes(LastFrame):
    """Warps start from the last keyframe, renewed every ``interval`` frames or when holes grow.

    Warping one keyframe several times, instead of re-warping each frame, avoids the blur of
    resampling the image on every step. What the weight-free flight flies with.
    """

    def __init__(self, warp: Warp = warp_rgbd, config: KeyframesConfig | None = None) -> None:
        super().__init__(warp)
        self.config = config or KeyframesConfig()
        self._since_keyframe, self._mask = 0, None

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        super().reset(rgbd, cam_from_world, intrinsics)
        self._since_keyframe, self._mask = 0, None

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        rgbd, self._mask = super().render(cam_from_world, intrinsics)
        return rgbd, self._mask

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """Keep ``rgbd`` as the new keyframe when :meth:`is_keyframe` says so for the last render's mask."""
        if self._mask is None:
            raise ViewgenRuntimeError("Keyframes.add needs a render first (the keyframe rule reads its mask)")
        if self.is_keyframe(self._mask):
            self._keep(rgbd, cam_from_world, intrinsics)
        self._mask = None
        return rgbd

    def is_keyframe(self, mask: Tensor) -> bool:
        """Whether the frame refined from a render with ``mask [1, 1, H, W]`` is a keyframe (counts it)."""
        self._since_keyframe += 1
        holes = float((mask < 0.5).float().mean())
        if self._since_keyframe >= self.config.interval or holes > self.config.max_hole_fraction:
            self._since_keyframe = 0
            return True
        return False


class SurfaceTextured(Memory):
    """``memory``, with ``texture`` drawn onto every shown frame; the remembered frame stays un-textured.

    ``texture(rgbd, cam_from_world, intrinsics)`` adds detail fixed to the 3D surface (e.g. the
    weight-free refiner's :meth:`~viewgen.refiners.classical.weight_free.WeightFreeRefiner.texture`).
    Because the inner memory keeps the frame without it, the texture is never warped and stretched.
    """

    def __init__(self, memory: Memory, texture: Texture) -> None:
        super().__init__(memory.warp)
        self.memory, self.texture = memory, texture

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        self.memory.reset(rgbd, cam_from_world, intrinsics)

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        return self.memory.render(cam_from_world, intrinsics)

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """Remember ``rgbd`` in the inner memory; return it with the surface texture ``[1, 4, H, W]``."""
        remembered = self.memory.add(rgbd, cam_from_world, intrinsics)
        return self.texture(remembered, cam_from_world, intrinsics)
