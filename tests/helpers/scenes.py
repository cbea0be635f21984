"""Small scenes for renderer tests: RGBD images with depth edges, random poses, clip meshes."""

from __future__ import annotations

import math

import torch

from viewgen.geometry.poses import relative_pose, to_homogeneous_pose
from viewgen.rendering.mesh import grid_vertices
from viewgen.rendering.warp import perspective_from_intrinsics


def scene_rgbd(height: int, width: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """``[1, 4, H, W]``: smooth colors, a far sky band, a ground ramp and a near blob (depth edges)."""
    gen = torch.Generator().manual_seed(seed)
    rows = torch.linspace(0, 1, height, dtype=torch.float64).view(-1, 1)
    cols = torch.linspace(0, 1, width, dtype=torch.float64).view(1, -1)
    ground = 0.08 + 0.7 * rows.clamp(min=0.35).sub(0.35).div(0.65) * torch.ones_like(cols)
    disparity = torch.where(rows < 0.35, torch.full_like(ground, 0.02), ground)
    blob = ((rows - 0.7) ** 2 / 0.02 + (cols - 0.6) ** 2 / 0.03) < 1
    disparity = torch.where(blob, torch.full_like(disparity, 0.93), disparity)
    rgb = torch.rand(3, height, width, generator=gen, dtype=torch.float64) * 0.2
    rgb = rgb + torch.stack([rows * torch.ones_like(cols), cols * torch.ones_like(rows), disparity]) * 0.8
    return torch.cat([rgb.clamp(0, 1), disparity.unsqueeze(0)]).unsqueeze(0).to(dtype)


def pose_from_euler(yaw_deg: float, pitch_deg: float, roll_deg: float, translation, dtype=torch.float32):
    """World-to-camera ``[3, 4]`` from rotation angles (degrees) about y, x, z and a translation."""
    def rot(axis: int, angle: float) -> torch.Tensor:
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        i, j = [(1, 2), (2, 0), (0, 1)][axis]
        m = torch.eye(3, dtype=torch.float64)
        m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
        return m
    rotation = rot(1, yaw_deg) @ rot(0, pitch_deg) @ rot(2, roll_deg)
    t = torch.tensor(translation, dtype=torch.float64).view(3, 1)
    return torch.cat([rotation, t], dim=1).to(dtype)


def grid_clip_vertices(rgbd: torch.Tensor, intrinsics: torch.Tensor, tgt_cam_from_world: torch.Tensor) -> torch.Tensor:
    """Clip coordinates ``[B, V, 4]`` of the grid mesh of ``rgbd`` seen from a target camera (source = identity)."""
    batch = rgbd.shape[0]
    vertices = grid_vertices(rgbd[:, 3:], intrinsics.expand(batch, 4))
    src = torch.eye(4, dtype=rgbd.dtype)[:3].expand(batch, 3, 4)
    tgt_from_src = relative_pose(tgt_cam_from_world.expand(batch, 3, 4), src)
    projection = perspective_from_intrinsics(intrinsics.expand(batch, 4)) @ to_homogeneous_pose(tgt_from_src)
    homogeneous = torch.cat([vertices, torch.ones_like(vertices[..., :1])], dim=-1)
    return homogeneous @ projection.transpose(-1, -2)
