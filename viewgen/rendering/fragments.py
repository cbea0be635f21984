"""The record passed from a rasterizer to shading, and the per-pixel arithmetic both rasterizers share.

Screen convention (the original ``tf_mesh_renderer`` at ``8f85195``, used without a row flip):
pixel ``(row iy, col ix)`` samples NDC ``(px, py) = ((ix + 0.5) / (W / 2) - 1,
(iy + 0.5) / (H / 2) - 1)``, so row 0 is NDC y = -1, which under Infinite Nature's projection
matrix is the *top* of the image (texture v = 0).

The helpers take a triangle's clip coordinates as tuples ``(v0, v1, v2)`` of same-shaped
tensors (structure of arrays: contiguous and cheap to broadcast) and evaluate each formula in
the kernel's operation order, so float32 results match the original bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Corners = tuple[Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class Fragments:
    """Which triangle each pixel sees and where on it.

    Attributes:
        face_ids: ``[B, H, W]`` int64 index into the face list, ``-1`` where no triangle covers
            the pixel (background).
        barycentrics: ``[B, H, W, 3]`` perspective-correct barycentric weights of the face's three
            vertices (0 on background). Differentiable with respect to the clip-space x, y, w of
            the vertices when the rasterizer was given tensors that require grad.
        ndc_z: ``[B, H, W]`` the winning NDC depth (1 on background); not differentiable.
        covered_pixels: optional ``[M]`` int64 flat indices (into ``B * H * W``) of the covered
            pixels, in increasing order; shading reuses it when present.
        corner_rows: optional ``[3, M]`` int64 rows of each covered pixel's triangle corners in
            the batch-flattened ``[B * V]`` vertex arrays.
    """

    face_ids: Tensor
    barycentrics: Tensor
    ndc_z: Tensor
    covered_pixels: Tensor | None = None
    corner_rows: Tensor | None = None

    @property
    def coverage(self) -> Tensor:
        """``[B, H, W]`` bool, True where a triangle covers the pixel."""
        return self.face_ids >= 0


def pixel_center_ndc(size: int, device=None) -> Tensor:
    """NDC coordinate of each pixel centre along one axis, ``[size]`` float32.

    Computed in float64 and rounded once, exactly as the original kernel does.
    """
    centres = (torch.arange(size, dtype=torch.float64, device=device) + 0.5) / (0.5 * size) - 1.0
    return centres.to(torch.float32)


def edge_functions(px: Tensor, py: Tensor, x: Corners, y: Corners, w: Corners) -> tuple[Corners, Tensor]:
    """Homogeneous edge functions of a triangle at NDC points, and the triangle's determinant.

    Row ``i`` of the unnormalised inverse of ``[[x0 x1 x2], [y0 y1 y2], [w0 w1 w2]]`` gives
    ``e_i = a_i px + b_i py + c_i``, proportional to the barycentric ``b_i / w`` (Olano and
    Greer). The kernel flips all signs when ``det < 0``; that flip changes neither the
    barycentrics nor (see :func:`inside_triangle`) the inside test, so it is left to the caller.

    Returns:
        ``((e0, e1, e2), det)``, broadcast over all inputs.
    """
    (x0, x1, x2), (y0, y1, y2), (w0, w1, w2) = x, y, w
    a0, b0, c0 = y1 * w2 - w1 * y2, x2 * w1 - w2 * x1, x1 * y2 - y1 * x2
    a1, b1, c1 = y2 * w0 - w2 * y0, x0 * w2 - w0 * x2, x2 * y0 - y2 * x0
    a2, b2, c2 = y0 * w1 - w0 * y1, x1 * w0 - w1 * x0, x0 * y1 - y0 * x1
    determinant = x0 * a0 + x1 * a1 + x2 * a2
    edges = (a0 * px + b0 * py + c0, a1 * px + b1 * py + c1, a2 * px + b2 * py + c2)
    return edges, determinant


def inside_triangle(edges: Corners, determinant: Tensor) -> Tensor:
    """Inside test on sign-corrected edges: all >= 0 and one > 0 (edges inclusive, any winding).

    With ``det < 0`` the kernel negates the edges (exactly), i.e. tests all <= 0 and one < 0.
    """
    low = torch.minimum(torch.minimum(edges[0], edges[1]), edges[2])
    high = torch.maximum(torch.maximum(edges[0], edges[1]), edges[2])
    flipped = determinant < 0
    # Boolean algebra rather than torch.where, which is many times slower on CPU.
    return ((low >= 0) & (high > 0) & ~flipped) | ((high <= 0) & (low < 0) & flipped)


def barycentrics_from_edges(edges: Corners) -> Corners:
    """Perspective-correct barycentrics ``e_i / ((e_0 + e_1) + e_2)`` (sign-invariant, exactly)."""
    one_over_w = edges[0] + edges[1] + edges[2]
    return edges[0] / one_over_w, edges[1] / one_over_w, edges[2] / one_over_w


def interpolated_ndc_z(barycentrics: Corners, z: Corners, w: Corners) -> Tensor:
    """NDC depth ``(sum b_i z_i) / (sum b_i w_i)`` at the barycentrics, in the kernel's order."""
    b0, b1, b2 = barycentrics
    clip_z = b0 * z[0] + b1 * z[1] + b2 * z[2]
    clip_w = b0 * w[0] + b1 * w[1] + b2 * w[2]
    return clip_z / clip_w
