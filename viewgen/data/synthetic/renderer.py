"""Render a synthetic world: exact depth (see :mod:`viewgen.data.synthetic.raymarch`) and color.

``render(world, cam_from_world, intrinsics, height, width) -> (rgb, depth)``: every pixel's ray is
marched to its first surface hit (depth along the optical axis, ``inf`` for sky), then hits are
shaded (materials, sun and sky light, water, aerial perspective) and the sky is drawn (gradient,
sun, clouds).

World frame: x east, **y down**, z north (see :mod:`viewgen.data.synthetic.terrain`); poses are
OpenCV-style world-to-camera ``cam_from_world`` (camera +x right, +y down, +z forward), intrinsics
normalized ``[fx, fy, cx, cy]`` with the image spanning (0, 0)-(1, 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.data.synthetic.raymarch import RenderConfig, block_start, image_rays, repair_silhouettes, resolve
from viewgen.data.synthetic.shading import shade_land, shade_water
from viewgen.data.synthetic.sky import apply_fog, sky_color
from viewgen.data.synthetic.world import World
from viewgen.geometry.validation import check_pose

__all__ = ["RenderConfig", "camera_rays", "render", "render_depth", "surface_points", "water_mask"]

_MAX_SIDE = 8192


def _batched(cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
    """Poses ``[B, 3, 4]`` float32 and intrinsics ``[B, 4]`` float32 from batched or single inputs."""
    pose = torch.as_tensor(cam_from_world, dtype=torch.float32)
    check_pose(pose, "cam_from_world", "optional batch")
    pose = pose.unsqueeze(0) if pose.dim() == 2 else pose
    intr = torch.as_tensor(intrinsics, dtype=torch.float32)
    check_shape(intr, [(4,), ("B", 4)], "intrinsics")
    intr = intr.unsqueeze(0) if intr.dim() == 1 else intr
    if not bool(torch.isfinite(pose).all()) or not bool((intr[:, :2] > 0).all()):
        raise ValueError("cam_from_world must be finite and intrinsics must have positive focal lengths")
    batch = max(pose.shape[0], intr.shape[0])
    if pose.shape[0] not in (1, batch) or intr.shape[0] not in (1, batch):
        raise ValueError(f"batch sizes of cam_from_world ({pose.shape[0]}) and intrinsics ({intr.shape[0]}) differ")
    return pose[:, :3].expand(batch, 3, 4).contiguous(), intr.expand(batch, 4).contiguous()


def _pixel_coords(size: int) -> Tensor:
    """Texture coordinates of pixel centres along one axis, ``(i + 0.5) / size``, float32."""
    return ((torch.arange(size, dtype=torch.float64) + 0.5) / size).float()


def camera_rays(cam_from_world: Tensor, intrinsics: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """World rays through every pixel centre: ``(origins [B, H*W, 3], dirs [B, H*W, 3])``.

    ``dirs`` are the camera rays with camera z = 1 rotated to the world (not unit length), so the
    ray parameter is the depth along the optical axis. Pixels are row-major.
    """
    pose, intr = _batched(cam_from_world, intrinsics)
    rays = image_rays(pose, intr, _pixel_coords(width), _pixel_coords(height))
    batch = pose.shape[0]
    return rays[:3].T.reshape(batch, -1, 3), rays[3:].T.reshape(batch, -1, 3)


def _check_size(height: int, width: int) -> None:
    sides_ok = isinstance(height, int) and isinstance(width, int) and min(height, width) > 0
    if not sides_ok or max(height, width) > _MAX_SIDE:
        raise ValueError(f"image size must be positive ints up to {_MAX_SIDE}, got {height}x{width}")


def _trace(world: World, cam_from_world: Tensor, intrinsics: Tensor, height: int, width: int,
           config: RenderConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(rays [6, N], depth [N], pose [B, 3, 4], intrinsics [B, 4])`` for all ``N = B H W`` pixels."""
    _check_size(height, width)
    pose, intr = _batched(cam_from_world, intrinsics)
    rays = image_rays(pose, intr, _pixel_coords(width), _pixel_coords(height))
    if config.block > 1:
        start = block_start(world, pose, intr, height, width, config)
    else:
        start = torch.zeros(rays.shape[1])
    depth = resolve(world, rays, start, config)
    if config.silhouette_passes:
        depth = repair_silhouettes(world, rays, depth, (pose.shape[0], height, width), config)
    return rays, depth, pose, intr


@torch.no_grad()
def render_depth(world: World, cam_from_world: Tensor, intrinsics: Tensor, height: int, width: int,
                 config: RenderConfig | None = None) -> Tensor:
    """Depth only, ``[B, 1, H, W]`` float32 along the optical axis (``inf`` = sky); see :func:`render`."""
    _, depth, pose, _ = _trace(world, cam_from_world, intrinsics, height, width, config or RenderConfig())
    return depth.view(pose.shape[0], 1, height, width)


def _shade_hits(world: World, points: Tensor, unit_dirs: Tensor, distance: Tensor, footprint: Tensor) -> Tensor:
    """Color ``[m, 3]`` of surface hits at world ``points [m, 3]`` seen along unit ``unit_dirs [m, 3]``."""
    terrain, cfg = world.terrain, world.config
    water_level = terrain.config.water_level
    x, z = points[:, 0].contiguous(), points[:, 2].contiguous()
    eps = footprint.clamp(min=0.05)
    m = x.shape[0]
    # land hits lie on the terrain (to the march tolerance); only hits on the water plane need H
    elevation = -points[:, 1]
    on_water = ((elevation - water_level).abs() < 0.01).nonzero().squeeze(1)
    if on_water.numel():
        elevation = elevation.clone()
        elevation[on_water] = terrain.height(x[on_water], z[on_water])
    shifted = terrain.height(torch.cat([x + eps, x]), torch.cat([z, z + eps]))
    normals = torch.stack([shifted[:m] - elevation, -eps, shifted[m:] - elevation], dim=-1)
    normals = torch.nn.functional.normalize(normals, dim=-1)
    noise = world.material_noise(x, z, footprint)
    sun_color = torch.tensor(cfg.sky.sun_color)
    ambient = torch.lerp(torch.tensor(cfg.sky.horizon_color), torch.tensor(cfg.sky.zenith_color), 0.5)
    light = (world.sun, sun_color, ambient)
    color = shade_land(cfg.materials, light, elevation, normals, noise, water_level)
    wet = (elevation < water_level).nonzero().squeeze(1)
    if wet.numel():
        def reflect_sky(dirs: Tensor) -> Tensor:
            return sky_color(cfg.sky, world.sun, dirs, points[wet], world.clouds)

        color[wet] = shade_water(cfg.materials, light, unit_dirs[wet], water_level - elevation[wet], noise[wet],
                                 reflect_sky)
    return apply_fog(cfg.sky, world.sun, color, unit_dirs, distance)


@torch.no_grad()
def render(world: World, cam_from_world: Tensor, intrinsics: Tensor, height: int, width: int,
           config: RenderConfig | None = None, sky_origin: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Render ``(rgb [B, 3, H, W] in [0, 1], depth [B, 1, H, W])``, both float32.

    ``cam_from_world`` is ``[3, 4]``/``[4, 4]`` or batched ``[B, 3|4, 4]`` (OpenCV world-to-camera,
    world y down); ``intrinsics`` is ``[4]`` or ``[B, 4]`` normalized ``[fx, fy, cx, cy]``. Depth is
    along the optical axis, ``inf`` where the sky is seen; the surface point at that depth lies on
    the terrain (or water) to ``config.tolerance`` world units. ``sky_origin`` (a world point
    ``[3]``): the sky and its clouds are seen from there instead of from the camera, so they stay
    at infinity however far or high the camera goes (default: from the camera, as the world is).
    """
    rays, depth, pose, intr = _trace(world, cam_from_world, intrinsics, height, width, config or RenderConfig())
    batch = pose.shape[0]
    dirs = rays[3:].T
    length = dirs.square().sum(dim=1).sqrt_()
    unit_dirs = dirs / length.unsqueeze(1)
    rgb = torch.empty(rays.shape[1], 3)
    hit = depth.isfinite()
    sky = hit.logical_not().nonzero().squeeze(1)
    if sky.numel():
        origins = rays[:3, sky].T if sky_origin is None else sky_origin.to(rays).view(1, 3).expand(sky.numel(), 3)
        rgb[sky] = sky_color(world.config.sky, world.sun, unit_dirs[sky], origins, world.clouds)
    ground = hit.nonzero().squeeze(1)
    if ground.numel():
        t = depth[ground]
        # lateral size of a pixel at depth t (radians per pixel at the image centre times depth)
        pixel_angle = (1.0 / (intr[:, 0] * width)).repeat_interleave(height * width)
        footprint = t * pixel_angle[ground]
        points = rays[:3, ground].T + t.unsqueeze(1) * dirs[ground]
        rgb[ground] = _shade_hits(world, points, unit_dirs[ground], t * length[ground], footprint)
    rgb = rgb.clamp_(0.0, 1.0).view(batch, height, width, 3).permute(0, 3, 1, 2).contiguous()
    return rgb, depth.view(batch, 1, height, width)


def surface_points(cam_from_world: Tensor, intrinsics: Tensor, depth: Tensor) -> Tensor:
    """The world points a render shows: ``depth [B, 1, H, W]`` of :func:`render` seen from ``cam_from_world``
    with ``intrinsics`` (its arguments) -> ``[B, H, W, 3]`` (world frame, y down; the camera's centre where
    the sky is seen)."""
    batch, _, height, width = depth.shape
    origins, dirs = camera_rays(cam_from_world, intrinsics, height, width)  # [B, H*W, 3]
    along = depth.reshape(batch, -1, 1)
    points = origins + dirs * torch.where(along.isfinite(), along, torch.zeros_like(along))
    return points.view(batch, height, width, 3)


def water_mask(world: World, cam_from_world: Tensor, intrinsics: Tensor, depth: Tensor) -> Tensor:
    """Where a render shows water: ``depth [B, 1, H, W]`` of :func:`render` seen from ``cam_from_world`` with
    ``intrinsics`` (its arguments) -> bool ``[B, 1, H, W]`` (the sky is not water)."""
    points = surface_points(cam_from_world, intrinsics, depth)
    return depth.isfinite() & world.is_water(points[..., 0], points[..., 2]).unsqueeze(1)
