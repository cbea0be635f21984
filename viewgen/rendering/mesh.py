"""RGBD image -> grid mesh: vertices at pixel centres, two triangles per cell, an edge mask.

This follows the original Infinite Nature renderer (``docs/conventions.md``, research notes
section 1.3-1.4): one vertex per pixel centre at depth ``1 / clip(disparity, 0.01, 1)``, the
cell ``(row y, col x)`` emits the triangles ``[tl, bl, tr]`` then ``[br, tr, bl]``, and a
per-vertex Sobel mask marks vertices on depth edges so that the triangles spanning a
discontinuity render as holes.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.geometry.disparity import MAX_DISPARITY, MIN_DISPARITY, depth_from_disparity  # noqa: F401 (re-exported)
from viewgen.geometry.projection import pixel_centers_uv, unproject


@functools.lru_cache(maxsize=16)
def _grid_faces_cpu(height: int, width: int) -> Tensor:
    rows = torch.arange(height - 1).view(-1, 1)
    cols = torch.arange(width - 1).view(1, -1)
    top_left = (rows * width + cols).reshape(-1)
    top_right = top_left + 1
    bottom_left = top_left + width
    bottom_right = bottom_left + 1
    first = torch.stack([top_left, bottom_left, top_right], dim=-1)
    second = torch.stack([bottom_right, top_right, bottom_left], dim=-1)
    return torch.stack([first, second], dim=1).reshape(-1, 3)


def grid_faces(height: int, width: int, device: torch.device | str | None = None) -> Tensor:
    """Triangles of the pixel-centre grid, ``[2 (H-1)(W-1), 3]`` int64 vertex indices.

    Vertex index is ``row * W + col``. Cell ``(y, x)`` holds triangles ``2 (y (W-1) + x)``
    (``[tl, bl, tr]``) and ``2 (y (W-1) + x) + 1`` (``[br, tr, bl]``). The order matters only
    for exact depth ties, where the later triangle wins.
    """
    if height < 2 or width < 2:
        raise ValueError(f"a grid mesh needs at least 2x2 pixels, got {height}x{width}")
    return _grid_faces_cpu(height, width).to(device)


@functools.lru_cache(maxsize=16)
def _pixel_centers_uv(height: int, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Cached, read-only ``[1, H * W, 2]`` pixel-centre texture coordinates (a normal tensor even
    when first asked for under ``torch.inference_mode``)."""
    with torch.inference_mode(False):
        return pixel_centers_uv(height, width, dtype=dtype, device=device).reshape(1, height * width, 2)


def grid_vertices(disparity: Tensor, intrinsics: Tensor) -> Tensor:
    """Camera-space vertices at the pixel centres, ``[B, H*W, 3]`` in row-major pixel order.

    Args:
        disparity: ``[B, 1, H, W]``; clipped to ``[0.01, 1]`` so depth lies in ``[1, 100]``.
        intrinsics: ``[B, 4]`` normalized ``[fx, fy, cx, cy]``.
    """
    batch, _, height, width = disparity.shape
    depth = depth_from_disparity(disparity)
    uv = _pixel_centers_uv(height, width, disparity.dtype, disparity.device).expand(batch, -1, -1)
    return unproject(uv, depth.reshape(batch, height * width), intrinsics)


def sobel_gradients(disparity: Tensor) -> tuple[Tensor, Tensor]:
    """``(d/dy, d/dx)`` of ``[B, 1, H, W]`` with reflect padding and the unnormalized 3x3 kernels of
    ``tf.image.sobel_edges``, each ``[B, 1, H, W]``.

    The six non-zero taps are summed in the kernel's row-major order, as a convolution does
    (bit-identical to ``F.conv2d``, which costs twice as much for one channel on CPU).
    """
    height, width = disparity.shape[-2:]
    padded = F.pad(disparity, (1, 1, 1, 1), mode="reflect")
    top, middle, bottom = padded[..., :height, :], padded[..., 1:height + 1, :], padded[..., 2:, :]
    left, centre, right = slice(0, width), slice(1, width + 1), slice(2, width + 2)
    # dy taps: -1 -2 -1 on the top row, +1 +2 +1 on the bottom row; -a - 2b - c == -((a + 2b) + c) exactly.
    top_sum = (top[..., left] + (top[..., centre] + top[..., centre])) + top[..., right]
    d_dy = ((bottom[..., left] - top_sum) + (bottom[..., centre] + bottom[..., centre])) + bottom[..., right]
    # dx taps: -1 +1 on the top row, -2 +2 in the middle, -1 +1 at the bottom.
    d_dx = (top[..., right] - top[..., left]) - (middle[..., left] + middle[..., left])
    d_dx = ((d_dx + (middle[..., right] + middle[..., right])) - bottom[..., left]) + bottom[..., right]
    return d_dy, d_dx


def sobel_edge_alpha(disparity: Tensor, beta: float = 10.0) -> Tensor:
    """``exp(-beta * |Sobel(disparity)|)``: 1 on flat regions, small on depth edges. ``[B,1,H,W]``.

    See :func:`sobel_gradients`; the gradient magnitude is ``sqrt(dy^2 + dx^2 + 1e-6)``.
    """
    d_dy, d_dx = sobel_gradients(disparity)
    return torch.exp(-beta * torch.sqrt((d_dy * d_dy + d_dx * d_dx) + 1e-6))


def sobel_edge_mask(disparity: Tensor, beta: float = 10.0, threshold: float = 0.3) -> Tensor:
    """Per-pixel mask, 1 where ``sobel_edge_alpha > threshold`` (no depth edge), else 0. ``[B,1,H,W]``."""
    return (sobel_edge_alpha(disparity, beta) > threshold).to(disparity.dtype)
