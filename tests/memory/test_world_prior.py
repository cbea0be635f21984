"""WorldPrior: frame 0 exact where it resolves the view, a procedural world (in frame 0's colours) elsewhere."""

import math

import pytest
import torch

from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.memory import WorldPrior, WorldPriorConfig
from viewgen.memory.prior_fit import ColorMap, fit_ground, quantile_map

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


def test_colour_maps_match_distributions():
    generator = torch.Generator().manual_seed(0)
    source, reference = torch.rand(500, 3, generator=generator), 0.2 + 0.5 * torch.rand(500, 3, generator=generator)
    source_q, reference_q = quantile_map(source, reference, 32)
    assert source_q.shape == reference_q.shape == (3, 32)
    sky = torch.zeros(20, 25, dtype=torch.bool)
    sky[:5] = True
    world = torch.rand(3, 20, 25, generator=generator)
    target = torch.rand(3, 20, 25, generator=generator) * 0.2 + 0.4
    mapped = ColorMap(world, sky, target, sky).apply(world, sky)
    ground = ~sky
    assert abs(float(mapped[:, ground].mean()) - float(target[:, ground].mean())) < 0.02
    assert float(mapped[:, ground].max()) <= float(target[:, ground].max()) + 1e-4


def test_frame_zero_is_rendered_back_exactly_where_it_is_known():
    rgbd = ground_plane_rgbd(48, 64, 0.3)
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    assert memory.ground.fitted and memory.scale == pytest.approx(WorldPriorConfig().clearance / 0.3, rel=0.05)
    frame, mask = memory.render(IDENTITY, intrinsics)
    assert frame.shape == rgbd.shape and mask.shape == (1, 1, 48, 64)
    ground = rgbd[0, 3] > 0.1
    torch.testing.assert_close(frame[0, :3, ground], rgbd[0, :3, ground], atol=2e-3, rtol=0)
    assert bool((mask >= 0).all() and (mask <= 1).all())


def test_far_flights_see_the_prior_world_and_come_back_to_the_same_place():
    rgbd = ground_plane_rgbd(48, 64, 0.3)
    intrinsics = default_intrinsics(48, 64)
    memory = WorldPrior()
    memory.reset(rgbd, IDENTITY, intrinsics)
    far = IDENTITY.clone()
    far[2, 3] = -40.0  # 40 units forward: frame 0's ground is far behind
    first, mask = memory.render(far, intrinsics)
    lower = slice(32, None)  # frame 0's sky stays where it was; its ground is far behind
    assert bool((mask[..., lower, :] == 1).all())  # nothing left to the refiner there: prior world
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
