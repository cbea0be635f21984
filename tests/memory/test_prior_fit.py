"""prior_fit: the prior world's land palette read along the way a flight goes, and the colour transfer built on it."""

import math
from dataclasses import replace

import pytest
import torch

from viewgen.data.synthetic.flights import camera_pose
from viewgen.data.synthetic.presets import scene_preset
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.geometry.poses import camera_center
from viewgen.memory import prior_fit
from viewgen.memory.prior_fit import _TO_YCBCR, PALETTE_VIEWS, ColorMap, palette_cameras, palette_land


def _world_and_start(seed: int = 0) -> tuple[World, torch.Tensor]:
    world = World(replace(scene_preset("hills").world, seed=seed))
    position = torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64)
    position[1] = -(float(world.ground_height(position[0:1].float(), position[2:3].float())) + 50.0)
    return world, camera_pose(position, torch.tensor(0.3), torch.tensor(math.radians(5.0)))


def test_palette_land_reads_land_pixels_of_every_view_deterministically():
    world, start = _world_and_start()
    land = palette_land(world, start, 50.0, default_intrinsics(40, 64), 8000.0)
    assert land.ndim == 2 and land.shape[0] == 3
    assert 0 < land.shape[1] <= PALETTE_VIEWS * 40 * 64
    assert float(land.min()) >= 0.0 and float(land.max()) <= 1.0
    assert torch.equal(land, palette_land(world, start, 50.0, default_intrinsics(40, 64), 8000.0))


def test_palette_cameras_follow_the_way_ahead_over_the_reach():
    world, start = _world_and_start()
    cams = palette_cameras(world, start, 50.0, 8000.0).double()
    assert cams.shape == (1 + PALETTE_VIEWS, 3, 4)
    torch.testing.assert_close(cams[0], start.float().double())  # the start view first
    centres = camera_center(cams)
    steps = (centres[2:, [0, 2]] - centres[1:-1, [0, 2]]).norm(dim=1)
    path_m = 8000.0 * (1 - 1 / 1000)  # the views span the path's first and last steps
    assert float(steps.sum()) == pytest.approx(path_m, rel=0.02)  # evenly spread along a gently turning way
    assert float(steps.max()) < 1.5 * float(steps.min())
    ground = world.ground_height(centres[:, 0].float(), centres[:, 2].float()).double()
    assert bool((-centres[1:, 1] - ground[1:] >= 15.0 - 1e-3).all())  # above the ground, at least the least clearance
    looks_down = torch.rad2deg(torch.asin(cams[1:, 2, 1]))
    torch.testing.assert_close(looks_down, torch.full_like(looks_down, 5.0), atol=1e-3, rtol=0)  # start's pitch
    near = palette_cameras(world, start, 50.0, 0.0)
    assert float((camera_center(near.double())[1:, [0, 2]] - centres[0, [0, 2]]).norm(dim=1).max()) < 2.0


def test_palette_land_counts_only_land_within_the_start_views_heights(monkeypatch):
    world, start = _world_and_start()
    intrinsics = default_intrinsics(40, 64)
    banded = palette_land(world, start, 50.0, intrinsics, 8000.0)
    monkeypatch.setattr(prior_fit, "PALETTE_HEIGHT_QUANTILES", (0.0, 1.0))
    wider = palette_land(world, start, 50.0, intrinsics, 8000.0)
    monkeypatch.setattr(prior_fit, "PALETTE_HEIGHT_QUANTILES", (0.5, 0.5))
    one_height = palette_land(world, start, 50.0, intrinsics, 8000.0)
    assert one_height.shape[1] < banded.shape[1] < wider.shape[1]


def test_with_land_palette_maps_the_given_land_onto_frame0s_ground():
    generator = torch.Generator().manual_seed(2)
    sky = torch.zeros(20, 25, dtype=torch.bool)
    sky[:5] = True
    world = torch.rand(3, 20, 25, generator=generator) * 0.3  # a dark start view
    target = torch.rand(3, 20, 25, generator=generator) * 0.5 + 0.25
    start_view_map = ColorMap(world, sky, target, sky)
    palette = torch.rand(3, 400, generator=generator) * 0.3 + 0.4  # the land the flight will see: brighter
    mapped = start_view_map.with_land_palette(palette)
    moved = mapped.apply(palette.view(3, 20, 20), torch.zeros(20, 20, dtype=torch.bool))
    torch.testing.assert_close(moved.flatten(1).mean(dim=1), target[:, ~sky].mean(dim=1), atol=0.02, rtol=0)
    # the start-view map would have brightened the palette far beyond frame 0's ground
    too_bright = start_view_map.apply(palette.view(3, 20, 20), torch.zeros(20, 20, dtype=torch.bool))
    assert float((_TO_YCBCR[0].float() @ too_bright.flatten(1)).mean()) > float(
        (_TO_YCBCR[0].float() @ target[:, ~sky]).mean()) + 0.1
    assert mapped.maps[True] is start_view_map.maps[True]  # the sky's transfer is the start view's
    for too_few in (torch.zeros(3, 0), torch.rand(3, 1)):  # no spread to read: the start view's transfer stays
        assert start_view_map.with_land_palette(too_few).maps == start_view_map.maps


def test_with_land_palette_keeps_the_worlds_colours_where_the_start_view_fitted_none():
    sky = torch.ones(20, 25, dtype=torch.bool)  # frame 0 all sky: no land transfer
    world = torch.rand(3, 20, 25, generator=torch.Generator().manual_seed(3))
    colors = ColorMap(world, torch.zeros_like(sky), world, sky).with_land_palette(torch.rand(3, 50))
    assert colors.maps[False] is None
