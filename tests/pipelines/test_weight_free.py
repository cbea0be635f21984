"""The weight-free refiner: keyframes, surface-fixed texture, and a flight that neither holes nor mushes."""

import math

import pytest
import torch

from viewgen.data.samples import load_sample
from viewgen.memory import Keyframes
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.refiners.classical.surface_detail import SurfaceDetail, fine_energy
from viewgen.refiners.classical.weight_free import WeightFreeConfig, WeightFreeRefiner

INTRINSICS = torch.tensor([0.8, 0.8 * 96 / 64, 0.5, 0.5])
IDENTITY = torch.eye(4)[:3]


def plane_rgbd(disparity: float, height: int = 64, width: int = 96) -> torch.Tensor:
    """A smooth grey-green wall at one depth."""
    rgb = torch.tensor([0.3, 0.5, 0.25]).view(1, 3, 1, 1).expand(1, 3, height, width)
    return torch.cat([rgb, torch.full((1, 1, height, width), disparity)], dim=1).clone()


def fitted_detail(seed: int = 0) -> SurfaceDetail:
    textured = plane_rgbd(0.5)
    textured[:, :3] += 0.05 * torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    return SurfaceDetail(seed=seed).fit(textured.clamp(0, 1))


def test_surface_texture_is_fixed_to_the_surface():
    detail = fitted_detail()
    wall = plane_rgbd(0.25)  # depth 4
    footprint = 4.0 / (INTRINSICS[0] * 96)  # world width of one pixel at depth 4
    moved = IDENTITY.clone()
    moved[0, 3] = -float(footprint)  # camera one pixel to the right
    first = detail.apply(wall, IDENTITY, INTRINSICS)[:, :3]
    second = detail.apply(wall, moved, INTRINSICS)[:, :3]
    assert (first - wall[:, :3]).abs().max() > 0.01  # texture was added to the smooth wall
    torch.testing.assert_close(second[..., 4:-4], first[..., 5:-3], atol=2e-4, rtol=0)


def test_surface_texture_leaves_sky_alone_and_is_deterministic():
    sky = plane_rgbd(0.01)
    assert torch.equal(fitted_detail().apply(sky, IDENTITY, INTRINSICS), sky)
    wall = plane_rgbd(0.5)
    one, two = (fitted_detail(seed=3).apply(wall, IDENTITY, INTRINSICS) for _ in range(2))
    assert torch.equal(one, two)
    assert not torch.equal(one, fitted_detail(seed=4).apply(wall, IDENTITY, INTRINSICS))


def test_keyframes_every_interval_or_when_holes_grow():
    refiner = WeightFreeRefiner(WeightFreeConfig(keyframe_interval=3, max_hole_fraction=0.1))
    memory = Keyframes(config=refiner.keyframes)  # the rule lives in the flight's memory
    full, holey = torch.ones(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    holey[..., :2, :] = 0  # 25% holes
    assert [memory.is_keyframe(full) for _ in range(6)] == [False, False, True, False, False, True]
    assert memory.is_keyframe(holey)
    with pytest.raises(ValueError):
        WeightFreeConfig(keyframe_interval=0)


def test_a_long_flight_keeps_detail_and_has_no_holes():
    start = load_sample(3)
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(80, 128)))
    first = pipe.reset(start.rgbd, intrinsics=start.intrinsics)
    frames = [first, *(pipe.step() for _ in range(60))]
    energy = [float(fine_energy(frame.rgb)[frame.disparity >= 0.05].mean()) for frame in frames]
    for frame in frames:
        assert torch.isfinite(frame.rgbd).all() and frame.rgbd.min() >= 0 and frame.rgbd.max() <= 1
        assert float((frame.rgb.amax(dim=1) < 0.03).float().mean()) < 0.002  # no black holes
    assert all(0.3 * energy[0] < value < 3 * energy[0] for value in energy), energy
    assert math.isclose(float(frames[-1].disparity.amax()), 1.0, abs_tol=0.5)


def test_the_classical_image_space_detail_is_switched_off():
    assert WeightFreeRefiner().filling.config.detail_layer is False
