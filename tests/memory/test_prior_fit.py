"""prior_fit: the prior world's land palette read along the way a flight goes, and the colour transfer built on it."""

import math
from dataclasses import replace

import pytest
import torch

from viewgen.data.synthetic.flights import camera_pose
from viewgen.data.synthetic.presets import scene_preset
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.memory.prior_fit import _TO_YCBCR, PALETTE_VIEWS, ColorMap, palette_land


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


def test_palette_land_goes_where_the_reach_says():
    world, start = _world_and_start()
    intrinsics = default_intrinsics(40, 64)
    here = palette_land(world, start, 50.0, intrinsics, 0.0)
    ahead = palette_land(world, start, 50.0, intrinsics, 8000.0)
    assert here.shape != ahead.shape or not torch.equal(here, ahead)  # other places, other land


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
    assert start_view_map.with_land_palette(torch.zeros(3, 0)).maps == start_view_map.maps


def test_with_land_palette_keeps_the_worlds_colours_where_the_start_view_fitted_none():
    sky = torch.ones(20, 25, dtype=torch.bool)  # frame 0 all sky: no land transfer
    world = torch.rand(3, 20, 25, generator=torch.Generator().manual_seed(3))
    colors = ColorMap(world, torch.zeros_like(sky), world, sky).with_land_palette(torch.rand(3, 50))
    assert colors.maps[False] is None


@pytest.mark.parametrize("reach", [-1.0, float("nan")])
def test_world_prior_config_refuses_a_negative_palette_reach(reach):
    from viewgen.memory import WorldPriorConfig

    with pytest.raises(ValueError, match="palette_reach"):
        WorldPriorConfig(palette_reach=reach)

