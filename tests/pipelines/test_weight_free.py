"""The weight-free flight: frame 0 set into a procedural world (WorldPrior), small holes filled from four sides."""

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from viewgen.data.samples import load_sample
from viewgen.evaluation.attitude import camera_attitude
from viewgen.evaluation.flight_stats import sharpness, sky_fraction
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.refiners.classical.weight_free import WeightFreeConfig, WeightFreeRefiner


def test_known_pixels_are_kept_and_a_hole_open_on_one_side_takes_that_side():
    warped = torch.rand(1, 4, 12, 16, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, 1, 12, 16)
    mask[..., :, :5] = 0.0  # the left five columns are holes
    refined = WeightFreeRefiner().refine(warped, mask, torch.zeros(1, 1))
    assert torch.equal(refined[..., 5:], warped[..., 5:])
    assert torch.allclose(refined[..., :5], warped[..., 5:6].expand(-1, -1, -1, 5))
    full = WeightFreeRefiner().refine(warped, torch.ones_like(mask), torch.zeros(1, 1))
    assert torch.equal(full, warped)


def test_bad_refiner_inputs_are_refused():
    with pytest.raises(ValueError, match="known"):
        WeightFreeConfig(known=0.0)
    with pytest.raises(ValueError, match="warped_rgbd"):
        WeightFreeRefiner().refine(torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8), torch.zeros(1, 1))


def test_the_weight_free_flight_is_deterministic_and_level():
    config = FlyThroughConfig(image_size=(32, 48))
    rgbd = scene_rgbd(32, 48, seed=2)
    one, two = (FlyThroughPipeline.weight_free(config)(rgbd, num_frames=4) for _ in range(2))
    assert torch.equal(one.rgbd, two.rgbd) and torch.equal(one.poses, two.poses)
    assert FlyThroughPipeline.weight_free(config).config.autopilot.level


def test_a_long_flight_stays_alive():
    """60 frames of sample 3 at 64x96: detailed, with sky, new content every frame, level, no holes."""
    start = load_sample(3)
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(64, 96)))
    flight = pipe(start.rgbd, num_frames=60, intrinsics=start.intrinsics)
    rgbd = flight.rgbd
    assert torch.isfinite(rgbd).all() and rgbd.min() >= 0 and rgbd.max() <= 1
    first = pipe.prepare_rgbd(start.rgbd)[0]
    relative = sharpness(rgbd[:, :3], first[:, :3].expand(rgbd.shape[0], -1, -1, -1))
    assert float(relative[-20:].mean()) > 0.25, relative  # not mush; viewgen eval measures it against truth
    assert float(sky_fraction(rgbd[-10:, 3:]).mean()) > 0.05
    change = (rgbd[1:, :3] - rgbd[:-1, :3]).abs().mean(dim=(1, 2, 3))
    assert float(change.min()) > 1e-3  # the picture never freezes
    attitude = camera_attitude(flight.poses, world_down=pipe.memory.gravity.tolist())  # level with its gravity
    assert float(attitude.roll_deg.abs().max()) < 1e-3 and not bool(attitude.upside_down.any())
