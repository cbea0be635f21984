"""WorldPrior: frame 0 exact where it resolves the view, a procedural world (in frame 0's colours) elsewhere."""

import math

import pytest
import torch

from viewgen.data.synthetic.presets import start_pose
from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.memory import WorldPrior, WorldPriorConfig
from viewgen.memory.prior_fit import ColorMap, fit_ground, sea_horizon_fraction, terrain_preset

IDENTITY = torch.eye(4)[:3]


def ground_plane_rgbd(height: int, width: int, camera_height: float, pitch_deg: float = 0.0) -> torch.Tensor:
    """A flat ground ``camera_height`` below a camera pitched down ``pitch_deg``, sky above: ``[1, 4, H, W]``."""
    intrinsics = default_intrinsics(height, width)
    v = (torch.arange(height) + 0.5) / height
    ray_y = (v - intrinsics[3]) / intrinsics[1]  # camera ray (x, ray_y, 1)
    pitch = math.radians(pitch_deg)
    down = ray_y * math.cos(pitch) + math.sin(pitch)  # world-down part of the ray
    depth = torch.where(down > 1e-3, camera_height / down.clamp_min(1e-3), torch.full_like(down, math.inf))
    disparity = (1.0 / depth).clamp(0.0, 1.0).view(height, 1).expand(height, width)
    rgb = torch.stack([torch.full((height, width), c) for c in (0.3, 0.5, 0.2)])
    rgb[:, disparity < 0.05] = torch.tensor([0.5, 0.7, 0.95]).view(3, 1)
    return torch.cat([rgb, disparity[None]])[None]


@pytest.mark.parametrize("pitch_deg", [0.0, 8.0])
def test_fit_ground_recovers_height_and_pitch(pitch_deg):
    rgbd = ground_plane_rgbd(64, 96, 0.4, pitch_deg)
    fit = fit_ground(rgbd[0, 3], default_intrinsics(64, 96))
    assert fit.fitted
    assert fit.height == pytest.approx(0.4, rel=0.02)
    assert fit.pitch_deg == pytest.approx(pitch_deg, abs=0.5)


def test_fit_ground_falls_back_without_ground():
    fit = fit_ground(torch.zeros(32, 48), default_intrinsics(32, 48), fallback_height=0.7)
    assert not fit.fitted and fit.height == 0.7 and fit.pitch_deg == 0.0


def test_colour_transfer_matches_mean_and_spread_per_region():
    generator = torch.Generator().manual_seed(0)
    sky = torch.zeros(20, 25, dtype=torch.bool)
    sky[:5] = True
    world = torch.rand(3, 20, 25, generator=generator)
    target = torch.rand(3, 20, 25, generator=generator) * 0.5 + 0.25
    target[:, :5] = torch.tensor([0.3, 0.4, 0.5]).view(3, 1, 1) + 0.3 * torch.rand(3, 5, 25, generator=generator)
    mapped = ColorMap(world, sky, target, sky).apply(world, sky)
    for region in (sky, ~sky):
        torch.testing.assert_close(mapped[:, region].mean(dim=1), target[:, region].mean(dim=1), atol=0.02, rtol=0)
        torch.testing.assert_close(mapped[:, region].std(dim=1), target[:, region].std(dim=1), atol=0.02, rtol=0)
    no_sky = torch.zeros_like(sky)
    assert torch.equal(ColorMap(world, sky, target, no_sky).apply(world, sky)[:, sky], world[:, sky])


def test_the_worlds_water_keeps_its_colours_and_stays_out_of_the_land_fit():
    generator = torch.Generator().manual_seed(1)
    sky = torch.zeros(20, 25, dtype=torch.bool)
    sky[:5] = True
    water = torch.zeros_like(sky)
    water[5:10] = True
    world = torch.rand(3, 20, 25, generator=generator)
    world[:, water] = torch.tensor([0.1, 0.3, 0.8]).view(3, 1)  # a blue the land fit must not see
    target = torch.rand(3, 20, 25, generator=generator) * 0.5 + 0.25
    mapped = ColorMap(world, sky, target, sky, water).apply(world, sky, water)
    assert torch.equal(mapped[:, water], world[:, water])
    land = ~sky & ~water
    torch.testing.assert_close(mapped[:, land].mean(dim=1), target[:, ~sky].mean(dim=1), atol=0.02, rtol=0)
    fitted_with_water = ColorMap(world, sky, target, sky).apply(world, sky)
    assert not torch.allclose(fitted_with_water[:, land], mapped[:, land], atol=0.02)


def _preset_clearance(memory: WorldPrior) -> float:
    """Metres between the prior preset's start camera and the ground below it."""
    pose = start_pose(memory.preset, memory.world).double()
    center = -pose[:, :3].T @ pose[:, 3]
    return -float(center[1]) - float(memory.world.ground_height(center[0:1].float(), center[2:3].float()))


def test_the_scale_follows_the_presets_framing_or_a_given_clearance():
    rgbd, intrinsics = ground_plane_rgbd(48, 64, 0.3), default_intrinsics(48, 64)
    framed = WorldPrior()
    framed.reset(rgbd, IDENTITY, intrinsics)
    assert WorldPriorConfig().clearance is None and 40.0 < _preset_clearance(framed) < 60.0  # hills: ~45-52 m
    assert framed.scale == pytest.approx(_preset_clearance(framed) / 0.3, rel=0.05)
    fixed = WorldPrior(WorldPriorConfig(clearance=30.0))
    fixed.reset(rgbd, IDENTITY, intrinsics)
    assert fixed.scale == pytest.approx(30.0 / 0.3, rel=0.05)
    with pytest.raises(ValueError, match="clearance > 0"):
        WorldPriorConfig(clearance=0.0)


def test_the_world_prior_reads_its_land_palette_along_the_way_unless_told_not_to():
    rgbd, intrinsics = ground_plane_rgbd(48, 64, 0.3), default_intrinsics(48, 64)
    start_only = WorldPrior(WorldPriorConfig(candidates=1, palette_reach=0.0))
    start_only.reset(rgbd, IDENTITY, intrinsics)
    along = WorldPrior(WorldPriorConfig(candidates=1))
    along.reset(rgbd, IDENTITY, intrinsics)
    kept, moved = start_only._anchor.colors.maps, along._anchor.colors.maps
    assert kept[True] is not None and torch.equal(kept[True][0], moved[True][0])  # the sky's transfer: the start's
    torch.testing.assert_close(moved[False][2], kept[False][2])  # onto the same frame 0 ground
    assert not torch.allclose(moved[False][0], kept[False][0])  # from another palette of the world's land


def test_a_flight_under_the_invented_ground_sees_it_from_above():
    rgbd, intrinsics = ground_plane_rgbd(48, 64, 0.3), default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    sunk = IDENTITY.clone()
    sunk[1, 3] = -20.0  # 20 flight units (kilometres) below frame 0's camera: deep under the prior world's ground
    world = memory._render_world(sunk, intrinsics, (48, 64))
    assert float(world[0, :3].std(dim=(1, 2)).mean()) > 0.02  # terrain and sky, not one flat colour
    assert bool((world[0, 3, -4:] > 0).all())  # the ground below the lifted camera is seen


def test_frame_zero_is_rendered_back_exactly_where_it_is_known():
    rgbd = ground_plane_rgbd(48, 64, 0.3)
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    assert memory.ground.fitted and memory.scale == pytest.approx(_preset_clearance(memory) / 0.3, rel=0.05)
    frame, mask = memory.render(IDENTITY, intrinsics)
    assert frame.shape == rgbd.shape and mask.shape == (1, 1, 48, 64)
    shown = (rgbd[0, 3] > 0.1) & (mask[0, 0] == 1)  # the warp's edge mask leaves steep rows to the refiner
    assert int(shown.sum()) > 100
    torch.testing.assert_close(frame[0, :3, shown], rgbd[0, :3, shown], atol=2e-3, rtol=0)
    assert bool((mask >= 0).all() and (mask <= 1).all())


def test_thin_parts_of_frame_zero_give_way_to_the_world_once_away_from_it():
    """A one-pixel line of frame 0's ground (the only part the warp shows) stays at frame 0's position and gives
    way to the prior world once the camera has left it (``sky_travel``)."""
    rgbd, intrinsics = ground_plane_rgbd(48, 64, 0.3), default_intrinsics(48, 64)
    row = 40  # frame 0's ground

    def one_row_warp(source, *cameras):
        coverage = torch.zeros_like(source[:, :1])
        coverage[..., row, :] = 1.0
        return source * coverage, coverage * coverage  # premultiplied, and coverage squared, as warp_rgbd

    memory = WorldPrior(warp=one_row_warp)
    memory.reset(rgbd, IDENTITY, intrinsics)
    near, _ = memory.render(IDENTITY, intrinsics)
    torch.testing.assert_close(near[0, :3, row], rgbd[0, :3, row], atol=2e-3, rtol=0)  # frame 0's: kept
    far_pose = IDENTITY.clone()
    far_pose[2, 3] = -(memory.config.sky_travel[1] + 1.0)  # past where frame 0's sky is gone too
    far, _ = memory.render(far_pose, intrinsics)
    world = memory._render_world(far_pose, intrinsics, (48, 64))
    torch.testing.assert_close(far[0, :, row], world[0, :, row])  # a sliver: the world's


def test_far_flights_see_the_prior_world_and_come_back_to_the_same_place():
    rgbd = ground_plane_rgbd(48, 64, 0.3)
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    far = IDENTITY.clone()
    far[2, 3] = -40.0  # 40 units forward: frame 0's ground is far behind
    first, mask = memory.render(far, intrinsics)
    lower = slice(40, None)  # frame 0's sky stays where it was; its ground is far behind
    assert float((mask[..., lower, :] == 1).float().mean()) > 0.9  # little left to the refiner there: prior world
    assert float(first[0, :3, lower].std()) > 0.01  # terrain and sky, not a flat colour
    memory.add(first, far, intrinsics)
    again, _ = memory.render(far, intrinsics)
    assert torch.equal(first, again)  # the world is a function of position


def test_config_and_state_errors():
    with pytest.raises(ValueError, match="preset"):
        WorldPriorConfig(preset="moon")
    with pytest.raises(ValueError, match="magnification"):
        WorldPriorConfig(magnification=(3.0, 2.0))
    with pytest.raises(ViewgenRuntimeError, match="reset"):
        WorldPrior().render(IDENTITY, default_intrinsics(8, 8))


def test_gravity_follows_the_fitted_pitch_and_the_level_autopilot_takes_it():
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    rgbd = ground_plane_rgbd(48, 64, 0.3, pitch_deg=8.0)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, default_intrinsics(48, 64))
    pitch = math.radians(memory.ground.pitch_deg)
    torch.testing.assert_close(memory.gravity, torch.tensor([0.0, math.cos(pitch), math.sin(pitch)],
                                                            dtype=torch.float64))
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(48, 64)))
    pipe.reset(rgbd)
    torch.testing.assert_close(pipe.controller.gravity, pipe.memory.gravity)


def test_after_travel_the_sky_is_frame_zeros_sky_at_infinity():
    rgbd = ground_plane_rgbd(48, 64, 0.3)
    sky = rgbd[0, 3] < 0.05
    stripes = torch.rand(3, 1, 64, generator=torch.Generator().manual_seed(3)).expand(3, 48, 64)
    rgbd[0, :3] = torch.where(sky, stripes, rgbd[0, :3])  # a sky that differs column by column
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    far = IDENTITY.clone()
    far[2, 3] = -1.1 * WorldPriorConfig().sky_travel[1]  # past the travel where the warped sky is gone
    far[1, 3] = 4.0  # and 4 units up (y is down), above the prior world's hills
    frame, _ = memory.render(far, intrinsics)
    _, dome_weight = memory._anchor.sky.look(far, intrinsics, (48, 64))
    inside = dome_weight[0, 0] > 0.999  # frame 0's sky away from its skyline and edges (the dome gives way there)
    open_sky = (frame[0, 3] == 0) & sky & inside  # the world shows sky where frame 0 did: the dome, unmoved
    assert int(open_sky.sum()) > 50
    torch.testing.assert_close(frame[0, :3, open_sky], rgbd[0, :3, open_sky], atol=1e-4, rtol=0)


def _skyline_disparity(skyline_rows: torch.Tensor, height: int, land: float = 0.2) -> torch.Tensor:
    """``[H, W]`` disparity: open sky (0) above ``skyline_rows [W]``, land at ``land`` from there down."""
    rows = torch.arange(height).view(height, 1)
    return torch.where(rows >= skyline_rows.view(1, -1), land, 0.0)


def test_the_terrain_preset_follows_the_skyline():
    height, width = 80, 64
    rolling = 20 + (torch.arange(width) % 22 - 11).abs()  # hills: the skyline rises and falls a little
    assert terrain_preset(_skyline_disparity(rolling, height)) == "hills"
    sea = rolling.clone()
    sea[: width // 2] = 34  # the left half meets the sky on one level line, below the hills: a sea horizon
    assert sea_horizon_fraction(_skyline_disparity(sea, height)) >= 0.5
    assert terrain_preset(_skyline_disparity(sea, height)) == "coast"
    peaks = 4 + 3 * (torch.arange(width) % 32 - 16).abs()  # a ridge line climbing and falling by 60% of the height
    assert terrain_preset(_skyline_disparity(peaks, height)) == "mountains"
    assert terrain_preset(torch.full((height, width), 0.3)) == "hills"  # no sky at all
    assert sea_horizon_fraction(torch.full((height, width), 0.3)) == 0.0


def test_far_ridges_do_not_count_as_open_sky_for_the_sea_horizon():
    height, width = 40, 64
    level = torch.full((width,), 18)
    disparity = _skyline_disparity(level, height)
    assert terrain_preset(disparity) == "coast"
    ridge_rows = (torch.arange(height).view(height, 1) >= 10) & (torch.arange(height).view(height, 1) < 18)
    ridged = torch.where(ridge_rows & (torch.arange(width) % 16 < 8).view(1, width), 0.03, disparity)
    # the far ridges (disparity 0.01-0.05) stand on the horizon: only the gaps between them meet the sky there
    assert sea_horizon_fraction(ridged) == pytest.approx(0.5)


def test_auto_preset_picks_the_world_at_reset_and_a_named_one_is_kept():
    rgbd = ground_plane_rgbd(48, 64, 0.3)  # a level plain or sea to the horizon
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    assert memory.config.preset == "auto"
    memory.reset(rgbd, IDENTITY, intrinsics)
    assert memory.preset == "coast"
    named = WorldPrior(WorldPriorConfig(preset="mountains"))
    named.reset(rgbd, IDENTITY, intrinsics)
    assert named.preset == "mountains" and named.world is named.world


def test_the_world_nearest_frame_0_is_chosen_among_the_candidates():
    rgbd = ground_plane_rgbd(48, 64, 0.3, pitch_deg=6.0)
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior(WorldPriorConfig(preset="hills", seed=1, candidates=3))
    memory.reset(rgbd, IDENTITY, intrinsics)
    distances = memory.candidate_distances
    assert sorted(distances) == [3, 4, 5] and all(d > 0 for d in distances.values())
    assert memory.world_seed == min(distances, key=distances.get) and memory.world.config.seed == memory.world_seed
    again = WorldPrior(WorldPriorConfig(preset="hills", seed=1, candidates=3))
    again.reset(rgbd, IDENTITY, intrinsics)
    assert again.candidate_distances == distances and again.world_seed == memory.world_seed  # deterministic
    single = WorldPrior(WorldPriorConfig(preset="hills", seed=4, candidates=1))
    single.reset(rgbd, IDENTITY, intrinsics)
    assert single.candidate_distances == {4: 0.0} and single.world_seed == 4  # one candidate: its seed, unscored


@pytest.mark.parametrize("candidates", [0, 1.5, True])
def test_candidates_must_be_a_whole_number(candidates):
    with pytest.raises(ValueError, match="candidates must be a whole number >= 1"):
        WorldPriorConfig(candidates=candidates)


@pytest.mark.parametrize("reach", [-1.0, float("nan"), float("inf")])
def test_world_prior_config_refuses_a_negative_palette_reach(reach):
    with pytest.raises(ValueError, match="palette_reach"):
        WorldPriorConfig(palette_reach=reach)
