"""ReplayPath: a controller that returns a recorded pose list."""

import math

import pytest
import torch

from viewgen.control.replay import ReplayPath, ReplayPathConfig
from viewgen.control.scripted import StraightTrajectory


def _poses(count: int = 4) -> torch.Tensor:
    path = StraightTrajectory(torch.eye(4)[:3])
    return torch.stack([path.pose_at(k) for k in range(count)])


def test_returns_the_poses_in_order():
    poses = _poses()
    replay = ReplayPath(poses)
    assert len(replay) == 4 and torch.equal(replay.cam_from_world, poses[0])
    assert all(torch.equal(replay.next(), poses[k]) for k in range(1, 4))
    with pytest.raises(ValueError, match="4 poses: no frame 4"):
        replay.next()
    replay.reset(poses[0])
    assert replay.frame_index == 0 and torch.equal(replay.next(), poses[1])


def test_replays_the_motion_from_another_start():
    poses = _poses()
    replay = ReplayPath(poses)
    angle = math.radians(30)
    start = torch.tensor([[math.cos(angle), 0.0, math.sin(angle), 1.0], [0.0, 1.0, 0.0, 2.0],
                          [-math.sin(angle), 0.0, math.cos(angle), 3.0]])
    replay.reset(start)
    moved = replay.next()
    expected_relative = poses[1] @ torch.cat([poses[0], torch.tensor([[0.0, 0.0, 0.0, 1.0]])]).inverse()
    relative = moved @ torch.cat([start, torch.tensor([[0.0, 0.0, 0.0, 1.0]])]).inverse()
    torch.testing.assert_close(relative, expected_relative, atol=1e-5, rtol=0)


@pytest.mark.parametrize("poses, message", [
    (torch.eye(4)[:3], r"\[T, 3, 4\]"),
    (torch.zeros(0, 3, 4), r"\[T, 3, 4\]"),
    ([[1.0]], "tensor"),
    (torch.stack([torch.eye(4)[:3], 2 * torch.eye(4)[:3]]), r"poses\[1\]"),
])
def test_refuses_bad_pose_lists_in_one_line(poses, message):
    with pytest.raises(ValueError, match=message) as error:
        ReplayPath(poses)
    assert "\n" not in str(error.value)


def test_refuses_speed_and_bad_config():
    replay = ReplayPath(_poses())
    with pytest.raises(ValueError, match="speed"):
        replay.set_speed(0.4)
    with pytest.raises(ValueError, match="same_start_tolerance"):
        ReplayPathConfig(same_start_tolerance=-1.0)
