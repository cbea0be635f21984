"""The trivial baselines a flight must beat, over a clip's first frame and its poses.

* :func:`repeat_start_frame`: every frame is the start frame (no motion at all).
* :func:`warp_nearest_fill`: the start frame warped to each pose (:func:`viewgen.rendering.warp_rgbd`,
  the mesh render) with every hole filled by the nearest known pixel (OpenCV's distance
  transform with labels). No refinement, no memory beyond the start frame.

Both return ``[T, 4, H, W]`` frames aligned with ``cam_from_world [T, 3, 4]``: frame 0 is the
view from ``cam_from_world[0]``, where the start frame was taken, so they compare frame by frame
with a :class:`~viewgen.evaluation.ground_truth.GroundTruthClip` (pass ``clip.rgbd[0]``,
``clip.cam_from_world``, ``clip.intrinsics``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.rendering import warp_rgbd
from viewgen.rendering.holes import fill_nearest

__all__ = ["fill_nearest", "repeat_start_frame", "warp_nearest_fill"]

KNOWN_THRESHOLD = 0.5  # a warped pixel is known where the warp's soft coverage m is at least this


def _start_frame(rgbd: Tensor) -> Tensor:
    """``rgbd [4, H, W]`` or ``[1, 4, H, W]`` -> ``[1, 4, H, W]`` float, checked finite."""
    if not isinstance(rgbd, Tensor):
        raise ValueError(f"start rgbd must be a torch.Tensor, got {type(rgbd).__name__}")
    check_shape(rgbd, [(4, "H", "W"), (1, 4, "H", "W")], "start rgbd", hint=" (one RGBD frame)")
    if not rgbd.is_floating_point() or not bool(torch.isfinite(rgbd).all()):
        raise ValueError("start rgbd must be a finite floating-point tensor")
    return rgbd.reshape(1, *rgbd.shape[-3:])


def _poses(cam_from_world: Tensor) -> Tensor:
    """``cam_from_world [T, 3|4, 4]`` (T >= 1) -> ``[T, 3, 4]``; rigidity is checked by the warp."""
    if not isinstance(cam_from_world, Tensor):
        raise ValueError(f"cam_from_world must be a torch.Tensor, got {type(cam_from_world).__name__}")
    check_shape(cam_from_world, [("T", 3, 4), ("T", 4, 4)], "cam_from_world", hint=" (one pose per frame)")
    if cam_from_world.shape[0] < 1:
        raise ValueError("cam_from_world must hold at least one pose")
    return cam_from_world[:, :3]


def repeat_start_frame(rgbd: Tensor, cam_from_world: Tensor) -> Tensor:
    """Baseline (a): ``rgbd [4, H, W]`` (or ``[1, 4, H, W]``) repeated once per pose -> ``[T, 4, H, W]``."""
    start = _start_frame(rgbd)
    return start.expand(_poses(cam_from_world).shape[0], -1, -1, -1).clone()


@torch.no_grad()
def warp_nearest_fill(rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
    """Baseline (b): the start frame warped to every pose, holes filled by the nearest known pixel.

    Args:
        rgbd: the start frame ``[4, H, W]`` or ``[1, 4, H, W]``, seen from ``cam_from_world[0]``;
            RGB and disparity in [0, 1] (the warp clips disparity to [0.01, 1]).
        cam_from_world: ``[T, 3, 4]`` (or ``[T, 4, 4]``) world-to-camera poses, ``T >= 1``.
        intrinsics: ``[4]`` normalized ``[fx, fy, cx, cy]`` of every frame.

    Returns ``[T, 4, H, W]`` in ``rgbd``'s dtype, every pixel filled (a frame where nothing of
    the start frame is seen is the start frame). Where the warp's coverage ``m`` is at least
    :data:`KNOWN_THRESHOLD` the pixel is the warp divided by ``m`` (its soft edge undone).
    Raises ``ValueError`` (one line) for bad shapes, non-finite values or non-rigid poses.
    """
    start = _start_frame(rgbd)
    poses = _poses(cam_from_world)
    count = poses.shape[0]
    warped, mask = warp_rgbd(start.expand(count, -1, -1, -1), poses[:1].expand(count, -1, -1), poses,
                             intrinsics)
    coverage = mask.clamp(min=0.0).sqrt()  # the warp returns m * m
    known = coverage >= KNOWN_THRESHOLD
    unpremultiplied = torch.where(known, warped / coverage.clamp(min=KNOWN_THRESHOLD), warped).clamp(0.0, 1.0)
    filled = fill_nearest(unpremultiplied, known)
    nothing_seen = ~known.flatten(1).any(dim=1)
    filled[nothing_seen] = start.to(filled.dtype)
    return filled.to(start.dtype)
