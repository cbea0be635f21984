"""The trivial baselines a flight must beat, over a clip's first frame and its poses.

* :func:`repeat_start_frame`: every frame is the start frame (no motion at all).
* :func:`warp_nearest_fill`: the start frame warped to each pose (:func:`viewgen.rendering.warp_rgbd`,
  the mesh render) with every hole filled by the nearest known pixel (OpenCV's distance
  transform with labels). No refinement, no memory beyond the start frame. It lives in
  :mod:`viewgen.rendering.holes` (fitting a clip's pose scale uses it too) and is re-exported here.

Both return ``[T, 4, H, W]`` frames aligned with ``cam_from_world [T, 3, 4]``: frame 0 is the
view from ``cam_from_world[0]``, where the start frame was taken, so they compare frame by frame
with a :class:`~viewgen.evaluation.ground_truth.GroundTruthClip` (pass ``clip.rgbd[0]``,
``clip.cam_from_world``, ``clip.intrinsics``).
"""

from __future__ import annotations

from torch import Tensor

from viewgen.rendering.holes import fill_nearest, stack_poses, start_frame, warp_nearest_fill

__all__ = ["fill_nearest", "repeat_start_frame", "warp_nearest_fill"]


def repeat_start_frame(rgbd: Tensor, cam_from_world: Tensor) -> Tensor:
    """Baseline (a): ``rgbd [4, H, W]`` (or ``[1, 4, H, W]``) repeated once per pose -> ``[T, 4, H, W]``."""
    start = start_frame(rgbd)
    return start.expand(stack_poses(cam_from_world).shape[0], -1, -1, -1).clone()
