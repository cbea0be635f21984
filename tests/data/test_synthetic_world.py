import math
from dataclasses import replace

import pytest
import torch

from viewgen.data.synthetic import (
    PRESET_NAMES,
    RenderConfig,
    TerrainConfig,
    World,
    WorldConfig,
    camera_pose,
    camera_rays,
    cast_rays,
    depth_to_unit_disparity,
    preset_rgbd,
    preset_world,
    render,
    render_depth,
    start_pose,
    water_mask,
)
from viewgen.geometry import default_intrinsics, transform_points

H, W = 24, 40


@pytest.fixture(scope="module")
def hills():
    return preset_world("hills")


@pytest.fixture(scope="module")
def hills_pose(hills):
    return start_pose("hills", hills)


def test_world_is_deterministic_by_seed():
    config = WorldConfig(seed=3, terrain=TerrainConfig(octaves=6))
    x, z = torch.linspace(-3000, 3000, 257), torch.linspace(500, -800, 257)
    first, second = World(config), World(config)
    assert torch.equal(first.terrain.height(x, z), second.terrain.height(x, z))
    other = World(replace(config, seed=4))
    assert not torch.allclose(first.terrain.height(x, z), other.terrain.height(x, z))
    pose = camera_pose(torch.tensor([0.0, -300.0, 0.0]), torch.tensor(0.3), torch.tensor(0.1)).float()
    intrinsics = default_intrinsics(H, W)
    rgb_a, depth_a = render(first, pose, intrinsics, H, W)
    rgb_b, depth_b = render(second, pose, intrinsics, H, W)
    assert torch.equal(rgb_a, rgb_b) and torch.equal(depth_a, depth_b)


def test_terrain_is_bounded_and_continuous(hills):
    x = torch.linspace(-20000, 20000, 40001)
    z = torch.full_like(x, 1234.5)
    height = hills.terrain.height(x, z)
    assert bool(torch.isfinite(height).all())
    assert float(hills.ground_height(x, z).max()) <= hills.terrain.max_elevation
    assert float(height.diff().abs().max()) < 5.0  # 1 m apart: no jumps (smooth interpolation)


def test_render_shapes_ranges_and_batch(hills, hills_pose):
    moved = camera_pose(torch.tensor([100.0, -200.0, 300.0]), torch.tensor(-0.4), torch.tensor(0.05)).float()
    poses = torch.stack([hills_pose, moved])
    rgb, depth = render(hills, poses, default_intrinsics(H, W), H, W)
    assert rgb.shape == (2, 3, H, W) and depth.shape == (2, 1, H, W)
    assert rgb.dtype == torch.float32 and depth.dtype == torch.float32
    assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
    finite = depth.isfinite()
    assert bool(finite.any()) and bool((~finite).any())  # ground and sky
    assert float(depth[finite].min()) > 0
    _, single_depth = render(hills, moved, default_intrinsics(H, W), H, W)
    assert torch.allclose(single_depth[finite[1:]], depth[1:][finite[1:]], rtol=1e-4)


def test_start_view_has_sky_on_top_and_ground_below(hills, hills_pose):
    depth = render_depth(hills, hills_pose, default_intrinsics(H, W), H, W)[0, 0]
    assert bool(depth[0].isinf().all())  # top row: sky
    assert bool(depth[-1].isfinite().all())  # bottom row: ground
    rows_finite = depth.isfinite().float().mean(dim=1)
    assert bool((rows_finite.diff() >= -0.2).all())  # ground fills in going down


def test_depth_is_exact_along_the_optical_axis(hills, hills_pose):
    """The point at the returned depth along each pixel ray lies on the surface (terrain or water)."""
    config = RenderConfig()
    intrinsics = default_intrinsics(H, W)
    depth = render_depth(hills, hills_pose, intrinsics, H, W, config).reshape(-1)
    origins, dirs = camera_rays(hills_pose, intrinsics, H, W)
    hit = depth.isfinite()
    points = origins[0][hit] + depth[hit].unsqueeze(1) * dirs[0][hit]
    surface = hills.ground_height(points[:, 0], points[:, 2])
    allowed = config.tolerance + config.relative_tolerance * depth[hit]
    error = (-points[:, 1] - surface).abs()
    assert float((error <= allowed).float().mean()) > 0.99
    assert bool((error <= 4 * allowed + 1e-3).all())
    # depth is along the optical axis: camera-space z of the hit point
    camera_points = transform_points(hills_pose, points)
    assert torch.allclose(camera_points[:, 2], depth[hit], rtol=1e-4)


def test_first_hit_has_no_earlier_crossing(hills, hills_pose):
    intrinsics = default_intrinsics(12, 20)
    depth = render_depth(hills, hills_pose, intrinsics, 12, 20).reshape(-1)
    origins, dirs = camera_rays(hills_pose, intrinsics, 12, 20)
    hit = depth.isfinite()
    fractions = torch.linspace(0.0, 0.97, 200)
    t = depth[hit].unsqueeze(1) * fractions  # [n, 200]
    points = origins[0][hit].unsqueeze(1) + t.unsqueeze(-1) * dirs[0][hit].unsqueeze(1)
    gap = -points[..., 1] - hills.ground_height(points[..., 0], points[..., 2])
    assert float(gap.min()) > 0


def test_cast_rays_matches_render_and_unit_directions_give_distance(hills, hills_pose):
    intrinsics = default_intrinsics(H, W)
    depth = render_depth(hills, hills_pose, intrinsics, H, W, RenderConfig(block=1)).reshape(-1)
    origins, dirs = camera_rays(hills_pose, intrinsics, H, W)
    length = dirs[0].norm(dim=-1)
    distance = cast_rays(hills, origins[0], dirs[0] / length.unsqueeze(1), RenderConfig())
    hit = depth.isfinite() & distance.isfinite()
    assert hit.float().mean() > 0.5
    close = (distance[hit] - depth[hit] * length[hit]).abs() <= 1e-3 * distance[hit] + 0.05
    assert close.float().mean() > 0.97


def test_cone_prepass_agrees_with_plain_march(hills, hills_pose):
    intrinsics = default_intrinsics(32, 48)
    plain = render_depth(hills, hills_pose, intrinsics, 32, 48, RenderConfig(block=1)).reshape(-1)
    blocks = render_depth(hills, hills_pose, intrinsics, 32, 48, RenderConfig(block=4)).reshape(-1)
    same_kind = plain.isfinite() == blocks.isfinite()
    assert same_kind.float().mean() > 0.98
    both = plain.isfinite() & blocks.isfinite()
    assert ((plain[both] - blocks[both]).abs() <= 1e-3 * plain[both]).float().mean() > 0.98


def test_normalized_disparity_and_scale():
    depth = torch.tensor([[[[2.0, 4.0], [float("inf"), 8.0]]], [[[float("inf")] * 2] * 2]])
    disparity, scale = depth_to_unit_disparity(depth)
    assert scale.tolist() == [2.0, 1.0]
    assert disparity[0, 0].tolist() == [[1.0, 0.5], [0.0, 0.25]]
    assert bool((disparity[1] == 0).all())


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_presets_give_open_views(name):
    sample = preset_rgbd(name, 20, 32)
    assert sample.rgbd.shape == (1, 4, 20, 32)
    disparity = sample.rgbd[0, 3]
    assert float(disparity.max()) == 1.0 and float(disparity.min()) == 0.0
    sky = (disparity == 0).float().mean()
    assert 0.08 < float(sky) < 0.6
    assert bool((disparity[-1] > 0).all())
    metric = sample.disparity_scale / disparity[disparity > 0]
    assert torch.allclose(metric, sample.depth[0, 0][disparity > 0], rtol=1e-5)


def test_bad_render_arguments(hills, hills_pose):
    with pytest.raises(ValueError, match="image size"):
        render(hills, hills_pose, default_intrinsics(H, W), 0, W)
    with pytest.raises(ValueError, match="cam_from_world"):
        render(hills, torch.eye(3), default_intrinsics(H, W), H, W)
    with pytest.raises(ValueError, match="intrinsics"):
        render(hills, hills_pose, torch.zeros(3), H, W)
    with pytest.raises(ValueError, match="unknown scene preset"):
        preset_world("desert")


def test_identity_camera_looks_north_level():
    world = World(WorldConfig(seed=1, terrain=TerrainConfig(octaves=3, shape="open", hills_amplitude=1.0,
                                                            elevation_offset=0.0, water_level=-100.0)))
    pose = torch.eye(4)[:3].clone()
    pose[1, 3] = 50.0  # t = -R c with the centre c = (0, -50, 0): elevation 50 (y down)
    depth = render_depth(world, pose, default_intrinsics(H, W), H, W)[0, 0]
    assert bool(depth[: H // 2].isinf().all()) and bool(depth[H // 2:].isfinite().all())
    # ground about 50 below: pixel row v has depth ~ 50 * fy / (v - cy)
    v = (H - 0.5) / H
    assert float(depth[-1, W // 2]) == pytest.approx(50 * 0.8 * W / H / (v - 0.5), rel=0.05)
    assert math.isinf(float(depth[0, 0]))


def test_a_sky_seen_from_a_fixed_origin_stays_at_infinity(hills, hills_pose):
    intrinsics = default_intrinsics(H, W)
    origin = -hills_pose[:, :3].T @ hills_pose[:, 3]  # the start camera's centre
    climbed = camera_pose(origin + torch.tensor([400.0, -1500.0, 900.0]), torch.tensor(0.0), torch.tensor(0.0)).float()
    level = camera_pose(origin, torch.tensor(0.0), torch.tensor(0.0)).float()  # same attitude, at the start
    high_rgb, high_depth = render(hills, climbed, intrinsics, H, W, sky_origin=origin)
    low_rgb, low_depth = render(hills, level, intrinsics, H, W, sky_origin=origin)
    sky = high_depth.isinf() & low_depth.isinf()
    assert int(sky.sum()) > 50
    assert torch.equal(high_rgb[sky.expand_as(high_rgb)], low_rgb[sky.expand_as(low_rgb)])  # rotation only
    own, _ = render(hills, climbed, intrinsics, H, W)
    assert not torch.equal(own[sky.expand_as(own)], high_rgb[sky.expand_as(high_rgb)])  # the camera's own clouds
    ground = high_depth.isfinite().expand_as(own)
    assert torch.equal(own[ground], high_rgb[ground])  # the ground is the same


def test_surface_points_lie_on_what_the_render_shows(hills, hills_pose):
    from viewgen.data.synthetic.renderer import surface_points
    from viewgen.geometry.poses import camera_center

    intrinsics = default_intrinsics(H, W)
    _, depth = render(hills, hills_pose, intrinsics, H, W)
    points = surface_points(hills_pose, intrinsics, depth)
    assert points.shape == (1, H, W, 3)
    hit, sky = depth[:, 0].isfinite(), depth[:, 0].isinf()
    assert bool(hit.any()) and bool(sky.any())
    shown = points[hit]
    gap = (-shown[:, 1] - hills.terrain.surface(shown[:, 0], shown[:, 2])).abs()
    config = RenderConfig()  # render's: the refinement stops within tolerance + relative_tolerance * depth
    bound = config.tolerance + config.relative_tolerance * depth[:, 0][hit]
    assert bool((gap <= 1.01 * bound).all())  # on the ground (or water) it shows; 1% for the point's rounding
    centre = camera_center(hills_pose[None].float())[0]
    torch.testing.assert_close(points[sky], centre.expand(int(sky.sum()), 3))  # the sky: the camera's centre


def test_the_water_mask_marks_the_water_plane_and_nothing_else():
    world = preset_world("coast")
    intrinsics = default_intrinsics(H, W)
    pose = start_pose("coast", world)
    rgb, depth = render(world, pose, intrinsics, H, W)
    water = water_mask(world, pose, intrinsics, depth)
    assert water.shape == depth.shape and water.dtype == torch.bool
    assert 0 < int(water.sum()) and not bool((water & depth.isinf()).any())  # some water; the sky is not water
    origins, dirs = camera_rays(pose, intrinsics, H, W)
    points = (origins + dirs * depth.reshape(1, -1, 1))[0][water.reshape(-1)]
    level = world.terrain.config.water_level
    torch.testing.assert_close(-points[:, 1], torch.full_like(points[:, 1], level), atol=0.05, rtol=0)  # on the plane
    land = depth.isfinite() & ~water
    assert bool((world.terrain.height(*(origins + dirs * depth.reshape(1, -1, 1))[0][land.reshape(-1)][:, [0, 2]].T)
                 >= level).all())
