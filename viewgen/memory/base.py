"""The :class:`Memory` interface: what a flight knows of the world, and the warp it renders with.

Shapes: ``rgbd [1, 4, H, W]`` (RGB + disparity in [0, 1]), ``mask [1, 1, H, W]`` (1 = known),
poses world-to-camera ``cam_from_world [3, 4]``, intrinsics ``[4]`` ``[fx, fy, cx, cy]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from torch import Tensor

from viewgen.rendering.warp import warp_rgbd

__all__ = ["Memory", "Warp"]

# (rgbd, src_cam_from_world, tgt_cam_from_world, intrinsics, tgt_intrinsics) -> (rgbd, mask),
# as :func:`viewgen.rendering.warp.warp_rgbd`.
Warp = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


class Memory(ABC):
    """What a flight knows of the world: reset with frame 0, rendered from every new camera, added to.

    Args:
        warp: renders a remembered RGBD frame from another camera (:data:`Warp`; the mesh warp
            :func:`~viewgen.rendering.warp.warp_rgbd` by default).

    Memories are stateful, like camera controllers: one memory serves one flight at a time.
    """

    def __init__(self, warp: Warp = warp_rgbd) -> None:
        self.warp = warp

    @property
    def gravity(self) -> Tensor | None:
        """World down ``[3]`` in the flight's world as this memory estimates it, or ``None`` (unknown)."""
        return None

    @abstractmethod
    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        """Forget everything; the world is frame 0, ``rgbd [1, 4, H, W]`` seen from ``cam_from_world [3, 4]``."""

    @abstractmethod
    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """The known world seen from ``cam_from_world [3, 4]``: ``(rgbd [1, 4, H, W], mask [1, 1, H, W])``."""

    @abstractmethod
    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """Remember the refined frame ``rgbd [1, 4, H, W]`` seen from ``cam_from_world``.

        Returns the frame the flight shows ``[1, 4, H, W]`` (``rgbd`` itself, unless the memory
        draws something of its own onto the view, as :class:`~viewgen.memory.SurfaceTextured`).
        Call it once after each :meth:`render`, with the frame refined from that render.
        """
