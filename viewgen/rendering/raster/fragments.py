"""The record passed from a rasterizer to shading, and the per-pixel arithmetic both rasterizers share.

Screen convention (the original ``tf_mesh_renderer`` at ``8f85195``, used without a row flip):
pixel ``(row iy, col ix)`` samples NDC ``(px, py) = ((ix + 0.5) / (W / 2) - 1,
(iy + 0.5) / (H / 2) - 1)``, so row 0 is NDC y = -1, which under Infinite Nature's projection
matrix is the *top* of the image (texture v = 0).

The helpers take a triangle's clip coordinates as corner triples ``(v0, v1, v2)`` of
same-shaped tensors (structure of arrays: cheap to broadcast; strided views work too) and
evaluate each formula in the kernel's operation order, so float32 results match the original
bit for bit.
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
        weights: optional ``[3, M]`` the same barycentrics, channel-first, for the pixels
            ``covered_pixels`` (differentiable like ``barycentrics``); shading uses them.
        covered_pixels: optional ``[M]`` int64 increasing flat indices (into ``B * H * W``) of
            the covered pixels; None with ``weights`` given means every pixel (``M = B * H * W``,
            weights 0 on background).
        corner_rows: optional ``[3, M]`` int64 rows of those pixels' triangle corners in the
            batch-flattened ``[B * V]`` vertex arrays (shading reuses them when present).
    """

    face_ids: Tensor
    barycentrics: Tensor
    ndc_z: Tensor
    weights: Tensor | None = None
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


def edge_coefficients(x: Corners, y: Corners, w: Corners) -> tuple[Corners, Corners, Corners, Tensor]:
    """Coefficients of a triangle's homogeneous edge functions, and the triangle's determinant.

    Row ``i`` of the unnormalized inverse of ``[[x0 x1 x2], [y0 y1 y2], [w0 w1 w2]]`` gives
    ``e_i = a_i px + b_i py + c_i``, proportional to the barycentric ``b_i / w`` (Olano and
    Greer). The kernel flips all signs when ``det < 0``; that flip changes neither the
    barycentrics nor (see :func:`triangle_hits`) the inside test, so it is left implicit.

    Args:
        x, y, w: clip coordinates of the corners ``(v0, v1, v2)``, same-shaped tensors (or a
            ``[3, ...]`` tensor).

    Returns:
        ``((a0, a1, a2), (b0, b1, b2), (c0, c1, c2), det)`` with ``det = x0 a0 + x1 a1 + x2 a2``.
    """
    (x0, x1, x2), (y0, y1, y2), (w0, w1, w2) = x, y, w
    a = (y1 * w2 - w1 * y2, y2 * w0 - w2 * y0, y0 * w1 - w0 * y1)
    b = (x2 * w1 - w2 * x1, x0 * w2 - w0 * x2, x1 * w0 - w1 * x0)
    c = (x1 * y2 - y1 * x2, x2 * y0 - y2 * x0, x0 * y1 - y0 * x1)
    return a, b, c, x0 * a[0] + x1 * a[1] + x2 * a[2]


def edge_values(a: Corners, b: Corners, c: Corners, px: Tensor, py: Tensor) -> Corners:
    """The three edge functions ``a_i px + b_i py + c_i`` at NDC points (shapes broadcast)."""
    return tuple(a[i] * px + b[i] * py + c[i] for i in range(3))


def edge_functions(px: Tensor, py: Tensor, x: Corners, y: Corners, w: Corners) -> tuple[Corners, Tensor]:
    """Edge functions of triangles at NDC points and the determinants: ``((e0, e1, e2), det)``."""
    a, b, c, determinant = edge_coefficients(x, y, w)
    return edge_values(a, b, c, px, py), determinant


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


def triangle_hits(edges: Corners, determinant: Tensor, ndc_z: Tensor) -> Tensor:
    """Whether pixel centres lie in triangles with depth in the clip range; bool, broadcast shape.

    Inside means: the sign-corrected edges are all >= 0 and one is > 0 (edges inclusive, any
    winding); the kernel negates the edges when ``det < 0``, i.e. then tests all <= 0 and one
    < 0. The depth test is ``-1 <= z <= 1``. A NaN in any edge makes ``ndc_z`` NaN, which
    fails the depth test, so the inside test needs no NaN care of its own.
    """
    low = torch.minimum(torch.minimum(edges[0], edges[1]), edges[2])
    high = torch.maximum(torch.maximum(edges[0], edges[1]), edges[2])
    flipped = determinant < 0
    # xor with ``flipped`` instead of torch.where, which is several times slower on CPU.
    inside = ((low >= 0) ^ flipped) & ((high > 0) ^ flipped)
    return inside & (ndc_z.abs() <= 1.0)


def face_corner_rows(faces: Tensor, face_ids: Tensor, images: Tensor | None, num_vertices: int) -> Tensor:
    """``[M, 3]`` rows in the batch-flattened ``[B * V]`` vertex arrays of the corners of faces
    ``face_ids [M]`` of images ``images [M]`` (None: all of image 0)."""
    rows = faces.index_select(0, face_ids)
    return rows if images is None else rows + (images * num_vertices).unsqueeze(1)


def pixel_barycentrics(clip_vertices: Tensor, pixels: Tensor, corner_rows: Tensor, height: int,
                       width: int) -> Tensor:
    """Barycentrics of triangles at pixel centres, ``[3, M]`` (differentiable w.r.t. clip x, y, w).

    Args:
        clip_vertices: ``[B, V, 4]`` clip coordinates.
        pixels: ``[M]`` flat pixel indices into ``B * H * W``.
        corner_rows: ``[3, M]`` rows of each pixel's triangle corners in the ``[B * V]`` vertices.
    """
    corners = clip_vertices.reshape(-1, 4).index_select(0, corner_rows.reshape(-1)).view(3, -1, 4)
    x, y, w = (tuple(corners[k, :, axis] for k in range(3)) for axis in (0, 1, 3))
    device, dtype = clip_vertices.device, clip_vertices.dtype
    columns = torch.remainder(pixels, width)
    rows = torch.remainder(torch.div(pixels, width, rounding_mode="floor"), height)
    px = pixel_center_ndc(width, device).to(dtype).index_select(0, columns)
    py = pixel_center_ndc(height, device).to(dtype).index_select(0, rows)
    edges, _ = edge_functions(px, py, x, y, w)
    return torch.stack(barycentrics_from_edges(edges))
