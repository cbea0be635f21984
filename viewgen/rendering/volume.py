"""Rotating feature volumes (Equivariant Neural Rendering's scenes) by resampling on a rotated grid.

``rotate_volume(volume [B, C, D, H, W], rotation [B, 3, 3])``: the content at index offset ``p =
(dD, dH, dW)`` from the volume's centre moves to ``rotation @ p`` (the axes ``(D, H, W)`` are ENR's
``(x, y, z)``; :mod:`viewgen.geometry.rotations` makes the matrices). Each output voxel samples the
input at ``rotation^T`` of its own offset, trilinearly (``mode="bilinear"``, PyTorch's name for it
in 3D) or at the nearest voxel, with zeros outside, voxel centres at ``(i + 0.5) / n`` of the extent
(``align_corners=False``). That is Apple's arithmetic: ``rotation^T`` with both axes reversed
(``grid_sample`` orders grid coordinates ``(W, H, D)``), as a 3x4 affine ``affine_grid`` theta
without translation.

Hand-written: a rotation of a sampled volume is ``affine_grid`` + ``grid_sample``; no library
offers it with ENR's axis convention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_shape

__all__ = ["rotate_volume"]

_XYZ_TO_GRID = [2, 1, 0]  # (D, H, W) = (x, y, z) -> grid_sample's (W, H, D)


def rotate_volume(volume: Tensor, rotation: Tensor, mode: str = "bilinear") -> Tensor:
    """``volume [B, C, D, H, W]`` turned by ``rotation [B, 3, 3]`` (or ``[3, 3]`` for all): same shape.

    mode: ``"bilinear"`` (trilinear) or ``"nearest"``. The rotation is moved to the volume's device and
    dtype. Differentiable in both arguments.
    """
    sizes = check_shape(volume, ("B", "C", "D", "H", "W"), "volume", hint=" (a feature volume)")
    check_shape(rotation, [(3, 3), ("B", 3, 3)], "rotation", sizes={"B": sizes["B"]},
                hint=" (one rotation for all, or one per volume)")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be bilinear or nearest, got {mode!r}")
    rotation = rotation.to(volume.device, volume.dtype).expand(sizes["B"], 3, 3)
    inverse = rotation.transpose(1, 2)[:, _XYZ_TO_GRID][:, :, _XYZ_TO_GRID]
    theta = torch.cat([inverse, torch.zeros_like(inverse[:, :, :1])], dim=2)
    grid = F.affine_grid(theta, list(volume.shape), align_corners=False)
    return F.grid_sample(volume, grid, mode=mode, padding_mode="zeros", align_corners=False)
