"""The record passed from a rasterizer to shading, and the screen-space helpers both share.

Screen convention (the original ``tf_mesh_renderer`` at ``8f85195``, used without a row flip):
pixel ``(row iy, col ix)`` samples NDC ``(px, py) = ((ix + 0.5) / (W / 2) - 1,
(iy + 0.5) / (H / 2) - 1)``, so row 0 is NDC y = -1, which under Infinite Nature's projection
matrix is the *top* of the image (texture v = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


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
    """

    face_ids: Tensor
    barycentrics: Tensor
    ndc_z: Tensor

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


def edge_matrix(x: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """Unnormalised inverse of ``[[x0 x1 x2], [y0 y1 y2], [w0 w1 w2]]``, sign of the determinant moved in.

    ``x, y, w``: ``[..., 3]`` clip coordinates of a triangle's vertices. Returns ``[..., 3, 3]``
    whose row ``i`` holds ``(a, b, c)`` of the edge function ``e_i = a px + b py + c``, which is
    the homogeneous barycentric ``b_i / w`` up to one positive factor (Olano and Greer). Because
    the determinant's sign is transferred, a point is inside whatever the winding. Each entry is
    a 2x2 minor computed in the kernel's order, so float32 results match it bit for bit.
    """
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    w0, w1, w2 = w.unbind(-1)
    rows = [
        torch.stack([y1 * w2 - w1 * y2, x2 * w1 - w2 * x1, x1 * y2 - y1 * x2], dim=-1),
        torch.stack([y2 * w0 - w2 * y0, x0 * w2 - w0 * x2, x2 * y0 - y2 * x0], dim=-1),
        torch.stack([y0 * w1 - w0 * y1, x1 * w0 - w1 * x0, x0 * y1 - y0 * x1], dim=-1),
    ]
    minors = torch.stack(rows, dim=-2)
    determinant = x0 * minors[..., 0, 0] + x1 * minors[..., 1, 0] + x2 * minors[..., 2, 0]
    sign = torch.where(determinant < 0, -1.0, 1.0).to(minors.dtype)
    return minors * sign[..., None, None]


def edge_values(matrix: Tensor, px: Tensor, py: Tensor) -> Tensor:
    """Edge functions ``e_i = a_i px + b_i py + c_i``: ``[..., 3, 3]`` and ``[...]`` -> ``[..., 3]``."""
    return matrix[..., 0] * px.unsqueeze(-1) + matrix[..., 1] * py.unsqueeze(-1) + matrix[..., 2]


def barycentrics_from_edges(edges: Tensor) -> Tensor:
    """Perspective-correct barycentrics ``e_i / (e_0 + e_1 + e_2)``: ``[..., 3]`` -> ``[..., 3]``."""
    one_over_w = edges[..., 0] + edges[..., 1] + edges[..., 2]
    return edges / one_over_w.unsqueeze(-1)


def inside_triangle(edges: Tensor) -> Tensor:
    """All edge values >= 0 and at least one > 0 (edges count as inside; degenerate never). ``[...]``."""
    return (edges >= 0).all(dim=-1) & (edges > 0).any(dim=-1)


def interpolated_ndc_z(barycentrics: Tensor, z: Tensor, w: Tensor) -> Tensor:
    """``(sum b_i z_i) / (sum b_i w_i)`` in the kernel's order. ``[..., 3]`` inputs -> ``[...]``."""
    clip_z = barycentrics[..., 0] * z[..., 0] + barycentrics[..., 1] * z[..., 1] + barycentrics[..., 2] * z[..., 2]
    clip_w = barycentrics[..., 0] * w[..., 0] + barycentrics[..., 1] * w[..., 1] + barycentrics[..., 2] * w[..., 2]
    return clip_z / clip_w
