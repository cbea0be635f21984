"""Hole filling from the known pixels around each hole.

* :func:`fill_nearest`: every unknown pixel takes its nearest known pixel (what the warp baseline
  of ``viewgen eval`` does). OpenCV's distance transform with labels finds it (exact L2); the
  rest is indexing. :func:`distance_to_known` gives the transform's distances.
* :func:`fill_four_sides`: every unknown pixel takes the inverse-distance-weighted mean of the
  nearest known pixel to its left, right, top and bottom (what the weight-free refiner does).
  A hole is mostly a thin band (a ridge against the sky, the far side of a bump): the four sides
  blend both of its banks instead of copying whichever is a pixel nearer. Measured on the
  short-range protocol (9 cases, 160x256) it scores 0.2-0.6 dB above the nearest pixel at frames
  1-50. Neither OpenCV's inpainting (Navier-Stokes: 0.1-0.4 dB below; Telea) nor a push-pull
  pyramid did as well, and taking the background side (the lower disparity) lost 1-2.6 dB: the
  content revealed behind a ridge is more of the ridge. Hand-written because it is four
  ``cummax`` scans in torch, which no library offers as a fill.
* :func:`warp_nearest_fill`: a start frame warped to many poses with its holes filled by
  :func:`fill_nearest`: ``viewgen eval``'s warp baseline, and what fits a posed clip's pose scale.
* :func:`hole_half_width`: how wide the hole around each pixel is, so that a caller can fill thin
  holes and show something else in wide ones (where any fill from the sides draws streaks).

Shapes: ``image [B, C, H, W]``, ``known [B, 1, H, W]`` bool.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.rendering.warp import warp_rgbd

__all__ = ["KNOWN_THRESHOLD", "distance_to_known", "fill_four_sides", "fill_nearest", "hole_half_width", "stack_poses",
           "start_frame", "warp_nearest_fill"]


def fill_nearest(image: Tensor, known: Tensor) -> Tensor:
    """Fill the unknown pixels of ``image [B, C, H, W]`` with their nearest known pixel (L2).

    ``known [B, 1, H, W]`` is boolean. A frame with no known pixel is returned unchanged.
    """
    check_shape(known, (image.shape[0], 1, *image.shape[-2:]), "known")
    filled = image.clone()
    for index in range(image.shape[0]):
        known_np = known[index, 0].cpu().numpy()
        if known_np.all() or not known_np.any():
            continue
        holes = (~known_np).astype(np.uint8)  # the transform measures distances to the zero (known) pixels
        _, labels = cv2.distanceTransformWithLabels(holes, cv2.DIST_L2, cv2.DIST_MASK_PRECISE,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        known_flat = np.flatnonzero(known_np)
        source_of_label = np.zeros(int(labels.max()) + 1, dtype=np.int64)
        source_of_label[labels.reshape(-1)[known_flat]] = known_flat  # every known pixel has its own label
        source = torch.from_numpy(source_of_label[labels.reshape(-1)]).to(image.device)
        filled[index] = image[index].flatten(1)[:, source].view_as(image[index])
    return filled


def distance_to_known(region: np.ndarray) -> np.ndarray:
    """Distance in pixels from each pixel of ``region [H, W]`` (bool) to the nearest pixel outside it (0 outside).

    OpenCV's 3x3 approximation of the Euclidean distance, float32 ``[H, W]``.
    """
    return cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)


def hole_half_width(region: np.ndarray, reach: int) -> np.ndarray:
    """Half the width of the hole around each pixel of ``region [H, W]`` (bool, True = hole): float32 ``[H, W]``.

    The largest :func:`distance_to_known` within ``reach`` pixels (a square window, OpenCV's
    dilation): a pixel of a band ``w`` pixels wide gets about ``w / 2``, a pixel at the rim of a
    wide hole gets the depth of that hole (up to ``reach``) although it is next to a known pixel.
    """
    distance = distance_to_known(region)
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), dtype=np.uint8)
    return cv2.dilate(distance, kernel)


def fill_four_sides(image: Tensor, known: Tensor, power: float = 1.5) -> Tensor:
    """Fill the unknown pixels of ``image [B, C, H, W]`` from the nearest known pixel on each of four sides.

    For every pixel with ``known [B, 1, H, W]`` False, the nearest known pixel along its row to the
    left and to the right and along its column above and below (those that exist) are averaged
    with weights ``distance ** -power`` (distance in pixels). Known pixels are returned as given;
    a frame with no known pixel is returned unchanged.
    """
    check_shape(known, (image.shape[0], 1, *image.shape[-2:]), "known")
    total = torch.zeros_like(image)
    weight = torch.zeros_like(image[:, :1])
    for dim in (-1, -2):
        for reverse in (False, True):
            values, distance = _nearest_known_along(image.flip(dim) if reverse else image,
                                                    known.flip(dim) if reverse else known, dim)
            side_weight = distance.to(image.dtype).clamp_min(1.0).pow(-power)  # no known pixel: inf -> 0
            if reverse:
                values, side_weight = values.flip(dim), side_weight.flip(dim)
            total += values * side_weight
            weight += side_weight
    filled = total / weight.clamp_min(torch.finfo(image.dtype).tiny)
    return torch.where(known | (weight == 0), image, filled)


def _nearest_known_along(image: Tensor, known: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """The last known pixel at or before each position along ``dim``: ``(values like image, distance [B, 1, H, W])``.

    ``distance`` is in pixels (0 on known pixels) and ``inf`` where no pixel before is known.
    """
    length = known.shape[dim]
    shape = [1] * known.dim()
    shape[dim] = length
    index = torch.arange(length, device=known.device).view(shape).expand_as(known)
    last = torch.where(known, index, torch.full_like(index, -1)).cummax(dim).values
    distance = torch.where(last >= 0, (index - last).float(), torch.full(last.shape, float("inf"), device=known.device))
    values = image.gather(dim, last.clamp_min(0).expand_as(image))
    return values, distance


KNOWN_THRESHOLD = 0.5  # a warped pixel is known where the warp's soft coverage m is at least this


def start_frame(rgbd: Tensor) -> Tensor:
    """``rgbd [4, H, W]`` or ``[1, 4, H, W]`` -> ``[1, 4, H, W]`` float, checked finite."""
    if not isinstance(rgbd, Tensor):
        raise ValueError(f"start rgbd must be a torch.Tensor, got {type(rgbd).__name__}")
    check_shape(rgbd, [(4, "H", "W"), (1, 4, "H", "W")], "start rgbd", hint=" (one RGBD frame)")
    if not rgbd.is_floating_point() or not bool(torch.isfinite(rgbd).all()):
        raise ValueError("start rgbd must be a finite floating-point tensor")
    return rgbd.reshape(1, *rgbd.shape[-3:])


def stack_poses(cam_from_world: Tensor) -> Tensor:
    """``cam_from_world [T, 3|4, 4]`` (T >= 1) -> ``[T, 3, 4]``; rigidity is checked by the warp."""
    if not isinstance(cam_from_world, Tensor):
        raise ValueError(f"cam_from_world must be a torch.Tensor, got {type(cam_from_world).__name__}")
    check_shape(cam_from_world, [("T", 3, 4), ("T", 4, 4)], "cam_from_world", hint=" (one pose per frame)")
    if cam_from_world.shape[0] < 1:
        raise ValueError("cam_from_world must hold at least one pose")
    return cam_from_world[:, :3]


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
    start = start_frame(rgbd)
    poses = stack_poses(cam_from_world)
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
