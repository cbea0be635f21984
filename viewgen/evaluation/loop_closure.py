"""Loop-closure error: how different a place looks when a flight comes back to it.

For the persistent-world memory: fly away and back to the first camera, then compare the returned
frame with the first one. Both are RGBD ``[B, 4, H, W]`` (RGB in [0, 1] plus disparity in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from viewgen.checks import check_shape
from viewgen.evaluation.metrics import psnr

__all__ = ["LoopClosureError", "loop_closure_error"]


@dataclass(frozen=True)
class LoopClosureError:
    """psnr_db: ``[B]`` PSNR of the returned RGB against the first (inf = identical).
    disparity_error: ``[B]`` mean absolute disparity difference (0 = the same geometry).
    """

    psnr_db: Tensor
    disparity_error: Tensor


def loop_closure_error(first_rgbd: Tensor, returned_rgbd: Tensor) -> LoopClosureError:
    """Compare the frame seen on return to the first camera with the first frame (both ``[B, 4, H, W]``)."""
    sizes = check_shape(first_rgbd, ("B", 4, "H", "W"), "first_rgbd", hint=" (RGB + disparity)")
    check_shape(returned_rgbd, ("B", 4, "H", "W"), "returned_rgbd", sizes=sizes,
                hint=" (RGB + disparity, the size of first_rgbd)")
    return LoopClosureError(
        psnr_db=psnr(returned_rgbd[:, :3], first_rgbd[:, :3]),
        disparity_error=(returned_rgbd[:, 3:] - first_rgbd[:, 3:]).abs().mean(dim=(1, 2, 3)),
    )
