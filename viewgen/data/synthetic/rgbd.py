"""One call from a synthetic world to a pipeline-ready RGBD with monocular-style disparity.

A monocular depth estimate is only known up to scale and is min-max normalized; the synthetic
RGBD mimics that with an exact depth: ``disparity = clip(s / depth, 0, 1)`` with the per-frame
scale ``s`` = the nearest visible depth, so the nearest point has disparity 1 and the sky
(depth ``inf``) exactly 0. ``s`` is returned, so metric depth is ``s / disparity`` wherever
``disparity > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.data.synthetic.presets import preset_world, start_pose
from viewgen.data.synthetic.renderer import RenderConfig, render
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics

__all__ = ["SyntheticRGBD", "depth_to_unit_disparity", "preset_rgbd", "render_rgbd"]


@dataclass(frozen=True, eq=False)
class SyntheticRGBD:
    """A rendered RGBD batch.

    rgbd: ``[B, 4, H, W]`` float32, RGB in [0, 1] plus normalized disparity in [0, 1].
    depth: ``[B, 1, H, W]`` float32 metric depth along the optical axis (``inf`` = sky).
    disparity_scale: ``[B]`` float32 ``s``: ``depth = s / disparity`` where disparity > 0.
    intrinsics: ``[B, 4]`` normalized ``[fx, fy, cx, cy]``; cam_from_world: ``[B, 3, 4]``.
    """

    rgbd: Tensor
    depth: Tensor
    disparity_scale: Tensor
    intrinsics: Tensor
    cam_from_world: Tensor


def depth_to_unit_disparity(depth: Tensor) -> tuple[Tensor, Tensor]:
    """``depth [B, 1, H, W]`` (``inf`` = sky) -> ``(disparity [B, 1, H, W] in [0, 1], scale [B])``.

    ``scale`` is each frame's smallest finite depth (1 when a frame is all sky), and
    ``disparity = clip(scale / depth, 0, 1)``, so the nearest point maps to 1 and sky to 0.
    """
    check_shape(depth, ("B", 1, "H", "W"), "depth")
    finite = torch.where(depth.isfinite() & (depth > 0), depth, torch.full_like(depth, float("inf")))
    scale = finite.flatten(1).amin(dim=1)
    scale = torch.where(scale.isfinite(), scale, torch.ones_like(scale))
    disparity = (scale.view(-1, 1, 1, 1) / depth).nan_to_num(0.0, posinf=1.0).clamp(0.0, 1.0)
    return disparity, scale


def render_rgbd(world: World, cam_from_world: Tensor, height: int, width: int, intrinsics: Tensor | None = None,
                config: RenderConfig | None = None) -> SyntheticRGBD:
    """Render an RGBD with normalized disparity (see the module doc).

    ``cam_from_world`` is ``[3, 4]`` or ``[B, 3, 4]`` (world y down); ``intrinsics`` defaults to
    ``[0.8, 0.8 W / H, 0.5, 0.5]``.
    """
    if intrinsics is None:
        intrinsics = default_intrinsics(height, width)
    pose = torch.as_tensor(cam_from_world, dtype=torch.float32)
    pose = pose.unsqueeze(0) if pose.dim() == 2 else pose
    rgb, depth = render(world, pose, intrinsics, height, width, config)
    disparity, scale = depth_to_unit_disparity(depth)
    intr = torch.as_tensor(intrinsics, dtype=torch.float32).reshape(-1, 4).expand(rgb.shape[0], 4).clone()
    return SyntheticRGBD(rgbd=torch.cat([rgb, disparity], dim=1), depth=depth, disparity_scale=scale,
                         intrinsics=intr, cam_from_world=pose[:, :3].expand(rgb.shape[0], 3, 4).clone())


def preset_rgbd(name: str, height: int = 160, width: int = 256) -> SyntheticRGBD:
    """The start view of scene preset ``name`` (``coast``, ``hills``, ``mountains``) as an RGBD."""
    world = preset_world(name)
    return render_rgbd(world, start_pose(name, world), height, width)
