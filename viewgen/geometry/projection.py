"""Projection between camera space and normalized texture coordinates.

Camera axes are +x right, +y down, +z forward. Texture coordinates ``uv`` put (0, 0) at the
image's top-left corner and (1, 1) at its bottom-right; the centre of pixel ``(row j, col i)``
is ``((i + 0.5) / W, (j + 0.5) / H)``. Intrinsics are ``[..., 4]`` ``[fx, fy, cx, cy]``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def pixel_centers_uv(height: int, width: int, dtype=torch.float32, device=None) -> Tensor:
    """Texture coordinates of all pixel centres, ``[H, W, 2]`` with ``[..., 0] = u``."""
    u = (torch.arange(width, dtype=torch.float64, device=device) + 0.5) / width
    v = (torch.arange(height, dtype=torch.float64, device=device) + 0.5) / height
    grid_v, grid_u = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([grid_u, grid_v], dim=-1).to(dtype)


def uv_to_rays(uv: Tensor, intrinsics: Tensor) -> Tensor:
    """Camera-space points at ``z = 1`` through ``uv``: ``[..., N, 2]`` -> ``[..., N, 3]``.

    ``intrinsics`` is ``[..., 4]`` and broadcasts over ``N``.
    """
    fx, fy, cx, cy = (c.unsqueeze(-1) for c in intrinsics.unbind(-1))
    x = (uv[..., 0] - cx) / fx
    y = (uv[..., 1] - cy) / fy
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def unproject(uv: Tensor, depth: Tensor, intrinsics: Tensor) -> Tensor:
    """Lift ``uv [..., N, 2]`` with z-depth ``[..., N]`` to camera-space points ``[..., N, 3]``.

    Computes ``X = (u - cx) * (Z / fx)`` in that order, as the original mesh builder does, so
    float32 results agree with it bit for bit.
    """
    fx, fy, cx, cy = (c.unsqueeze(-1) for c in intrinsics.unbind(-1))
    x = (uv[..., 0] - cx) * (depth / fx)
    y = (uv[..., 1] - cy) * (depth / fy)
    return torch.stack([x, y, depth], dim=-1)


def project(points: Tensor, intrinsics: Tensor, eps: float = 1e-12) -> tuple[Tensor, Tensor]:
    """Camera-space points ``[..., N, 3]`` -> (``uv [..., N, 2]``, z-depth ``[..., N]``).

    Points with ``|z| < eps`` are divided by ``eps`` (keeping the sign) instead of zero.
    """
    fx, fy, cx, cy = (c.unsqueeze(-1) for c in intrinsics.unbind(-1))
    z = points[..., 2]
    safe_z = torch.where(z.abs() < eps, torch.full_like(z, eps).copysign(z), z)
    u = fx * points[..., 0] / safe_z + cx
    v = fy * points[..., 1] / safe_z + cy
    return torch.stack([u, v], dim=-1), z
