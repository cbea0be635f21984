"""Ground-truth clips from the synthetic world, and flying a pipeline along their poses."""

import pytest
import torch

from viewgen.control.replay import ReplayPath
from viewgen.evaluation.ground_truth import GroundTruthClip, ground_truth_clip
from viewgen.pipelines.fly_through import FlyThroughConfig, FlyThroughPipeline

H, W = 32, 48


@pytest.fixture(scope="module")
def clip() -> GroundTruthClip:
    return ground_truth_clip("hills", seed=1, height=H, width=W, num_frames=4)


def test_clip_shapes_and_units(clip):
    assert clip.rgbd.shape == (4, 4, H, W) and clip.rgbd.dtype == torch.float32
    assert clip.cam_from_world.shape == (4, 3, 4) and clip.world_cam_from_world.shape == (4, 3, 4)
    assert clip.intrinsics.shape == (4,) and clip.num_frames == 4
    assert (clip.preset, clip.seed, clip.world_seed) == ("hills", 1, 5)
    assert torch.equal(clip.cam_from_world[0], torch.eye(4)[:3])
    assert 0.0 <= float(clip.rgbd.min()) and float(clip.rgbd.max()) <= 1.0
    assert float(clip.rgbd[0, 3].max()) == 1.0 and clip.disparity_scale > 0  # the nearest point of frame 0
    assert float(clip.cam_from_world[-1, 2, 3]) < 0  # the camera moves forward (+z): world points move back


def test_clip_is_deterministic_and_prefix_stable(clip):
    again = ground_truth_clip("hills", seed=1, height=H, width=W, num_frames=4)
    assert torch.equal(clip.rgbd, again.rgbd) and torch.equal(clip.cam_from_world, again.cam_from_world)
    shorter = ground_truth_clip("hills", seed=1, height=H, width=W, num_frames=2)
    assert torch.equal(shorter.rgbd, clip.rgbd[:2])
    other = ground_truth_clip("hills", seed=1, height=H, width=W, num_frames=2, world_seed=6)
    assert not torch.equal(other.rgbd, clip.rgbd[:2])


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "desert"}, "unknown scene preset"),
    ({"preset": 3}, "preset must be"),
    ({"num_frames": 0}, "num_frames"),
    ({"height": 4}, "height"),
    ({"seed": -1}, "seed"),
    ({"world_seed": 1.5}, "world_seed"),
])
def test_clip_bad_input(kwargs, message):
    arguments = {"preset": "coast", "height": H, "width": W, "num_frames": 2, **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        ground_truth_clip(**arguments)
    assert "\n" not in str(error.value)


def test_weight_free_flight_along_replayed_path_has_the_clip_poses(clip):
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(H, W)))
    flight = pipe(clip.rgbd[:1], num_frames=3, intrinsics=clip.intrinsics, cam_from_world=clip.cam_from_world[0],
                  controller=ReplayPath(clip.cam_from_world))
    assert flight.rgbd.shape == (3, 4, H, W)
    assert torch.equal(flight.poses.to(torch.float32), clip.cam_from_world[1:])
