"""A tiny procedural landscape RGBD: sky, a wavy ridge, a ground ramp and a near rock.

It has the depth structure the renderer must handle (far sky, smooth ground, a sharp
near-far edge) and needs no files. ``viewgen warp`` uses it when no input is given and the
renderer benchmark uses it as its scene. The full procedural world (terrain, materials,
flights) lives in ``viewgen.data.synthetic``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def toy_landscape_rgbd(height: int = 160, width: int = 256, seed: int = 0) -> Tensor:
    """``[1, 4, H, W]`` float32: RGB in [0, 1], disparity 0.02 (sky) to 0.93 (rock)."""
    rows = torch.linspace(0, 1, height).view(-1, 1)
    cols = torch.linspace(0, 1, width).view(1, -1)
    horizon = 0.35 + 0.05 * torch.sin(cols * 12)
    ground_fraction = ((rows - horizon) / (1 - horizon)).clamp(0, 1)
    disparity = torch.where(rows < horizon, torch.full_like(ground_fraction, 0.02), 0.08 + 0.72 * ground_fraction)
    rock = ((rows - 0.75) ** 2 / 0.01 + (cols - 0.3) ** 2 / 0.008) < 1
    disparity = torch.where(rock, torch.full_like(disparity, 0.93), disparity)
    gen = torch.Generator().manual_seed(seed)
    texture = torch.rand(1, height, width, generator=gen) * 0.15
    sky = torch.stack([0.55 + 0.3 * rows, 0.7 + 0.2 * rows, torch.full_like(rows, 0.95)]).expand(3, height, width)
    grass = torch.stack([0.25 + 0.2 * ground_fraction, 0.45 + 0.15 * ground_fraction, 0.2 * ground_fraction])
    stone = torch.full((3, 1, 1), 0.45)
    rgb = torch.where(rows < horizon, sky, torch.where(rock, stone, grass) + texture)
    return torch.cat([rgb.clamp(0, 1), disparity.unsqueeze(0)]).unsqueeze(0)
