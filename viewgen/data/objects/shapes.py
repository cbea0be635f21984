"""Flat-shaded triangle meshes of the primitives objects are built from: boxes and cylinders.

A :class:`Mesh` keeps one vertex per face corner (``vertices [3F, 3]``, faces ``[F, 3]`` = ``0..3F-1``)
so every face has its own flat normal and colour. Coordinates are ENR's object frame (x, y down,
z; docs/conventions.md). Hand-written: a box and a cylinder are a dozen lines each, and a mesh
library would be a dependency for them alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Mesh", "box", "cylinder", "merge"]

# the 12 triangles of a unit cube's 6 faces, corners as (x, y, z) in {-1, 1}, counter-clockwise from outside
_CUBE = torch.tensor([
    [[1, -1, -1], [1, 1, -1], [1, 1, 1]], [[1, -1, -1], [1, 1, 1], [1, -1, 1]],
    [[-1, -1, -1], [-1, 1, 1], [-1, 1, -1]], [[-1, -1, -1], [-1, -1, 1], [-1, 1, 1]],
    [[-1, 1, -1], [1, 1, 1], [1, 1, -1]], [[-1, 1, -1], [-1, 1, 1], [1, 1, 1]],
    [[-1, -1, -1], [1, -1, -1], [1, -1, 1]], [[-1, -1, -1], [1, -1, 1], [-1, -1, 1]],
    [[-1, -1, 1], [1, -1, 1], [1, 1, 1]], [[-1, -1, 1], [1, 1, 1], [-1, 1, 1]],
    [[-1, -1, -1], [1, 1, -1], [1, -1, -1]], [[-1, -1, -1], [-1, 1, -1], [1, 1, -1]],
], dtype=torch.float32)


@dataclass(frozen=True, eq=False)
class Mesh:
    """Triangles with a colour each: ``corners [F, 3, 3]`` (face, corner, xyz) and ``colors [F, 3]`` RGB in [0, 1]."""

    corners: Tensor
    colors: Tensor

    @property
    def normals(self) -> Tensor:
        """``[F, 3]`` unit face normals (from the corner order; sign does not matter for two-sided shading)."""
        normal = torch.linalg.cross(self.corners[:, 1] - self.corners[:, 0], self.corners[:, 2] - self.corners[:, 0])
        return normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def transformed(self, rotation: Tensor, offset: Tensor, scale: float = 1.0) -> Mesh:
        """``rotation [3, 3] @ (scale * p) + offset [3]`` for every corner."""
        return Mesh(self.corners * scale @ rotation.T + offset, self.colors)


def box(size: tuple[float, float, float], centre: tuple[float, float, float], color: Tensor) -> Mesh:
    """An axis-aligned box of full extents ``size`` (x, y, z) around ``centre``, one ``color [3]``."""
    corners = _CUBE * (torch.tensor(size) / 2) + torch.tensor(centre)
    return Mesh(corners, color.expand(len(_CUBE), 3).clone())


def cylinder(radius: float, length: float, centre: tuple[float, float, float], axis: int, color: Tensor,
             segments: int = 16) -> Mesh:
    """A closed cylinder of ``radius`` and ``length`` along coordinate ``axis`` (0, 1 or 2) around ``centre``."""
    angles = torch.arange(segments + 1) * (2 * math.pi / segments)
    ring = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)  # [S + 1, 2]
    half = torch.full((segments + 1, 1), length / 2)
    top, bottom = torch.cat([ring, half], 1), torch.cat([ring, -half], 1)
    a, b, c, d = top[:-1], top[1:], bottom[:-1], bottom[1:]
    middle_top, middle_bottom = torch.zeros(segments, 3), torch.zeros(segments, 3)
    middle_top[:, 2], middle_bottom[:, 2] = length / 2, -length / 2
    triangles = torch.cat([torch.stack([a, c, b], 1), torch.stack([b, c, d], 1),
                           torch.stack([middle_top, a, b], 1), torch.stack([middle_bottom, d, c], 1)])
    order = {0: [2, 0, 1], 1: [0, 2, 1], 2: [0, 1, 2]}[axis]  # the local z becomes the axis
    corners = triangles[..., order] + torch.tensor(centre)
    return Mesh(corners, color.expand(len(corners), 3).clone())


def merge(*meshes: Mesh) -> Mesh:
    """One mesh of all the triangles of ``meshes``."""
    return Mesh(torch.cat([m.corners for m in meshes]), torch.cat([m.colors for m in meshes]))
