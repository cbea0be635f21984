"""FlyThroughPipeline.set_controller: another camera path mid-flight (the web demo's "Fly back")."""

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.control.fly_dynamic import FlyDynamic
from viewgen.control.replay import ReplayPath
from viewgen.errors import ViewgenRuntimeError
from viewgen.memory import LastFrame

DOWN = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)


class KnowsDown(LastFrame):
    """The last frame, with a gravity estimate (as the weight-free flight's world prior has one)."""

    @property
    def gravity(self):
        return DOWN


class RecordsGravity(ReplayPath):
    def set_gravity(self, down):
        self.gravity = down


def test_a_replay_set_mid_flight_retraces_the_poses_back_to_frame_0():
    pipe = tiny_pipeline()
    first = pipe.reset(scene_rgbd(*TINY_SIZE, seed=2))
    style = pipe.style
    out = [pipe.step() for _ in range(3)]
    poses = torch.stack([first.cam_from_world] + [frame.cam_from_world for frame in out])
    replay = ReplayPath(poses.flip(0))
    pipe.set_controller(replay)
    assert pipe.controller is replay and replay.frame_index == 0
    assert torch.equal(replay.cam_from_world, out[-1].cam_from_world)  # reset to where the flight is
    back = [pipe.step((1.0, -1.0)) for _ in range(3)]  # steering means nothing to a replay
    assert [frame.index for frame in back] == [4, 5, 6]  # the flight goes on, it does not restart
    assert all(torch.equal(frame.cam_from_world, pose) for frame, pose in zip(back, poses.flip(0)[1:]))
    assert torch.equal(back[-1].cam_from_world, first.cam_from_world)  # exactly frame 0's camera
    assert torch.equal(pipe.style, style)
    pipe.reset(first.rgbd)
    assert isinstance(pipe.controller, FlyDynamic)  # a new flight flies the autopilot again


def test_set_controller_gives_the_memory_gravity_and_refuses_what_is_no_controller():
    pipe = tiny_pipeline()
    with pytest.raises(ViewgenRuntimeError, match="call reset"):
        pipe.set_controller(ReplayPath(torch.eye(4)[None, :3]))
    pipe.memory = KnowsDown()
    start = pipe.reset(scene_rgbd(*TINY_SIZE, seed=3))
    replay = RecordsGravity(start.cam_from_world[None])
    pipe.set_controller(replay)
    assert torch.equal(replay.gravity, DOWN)
    with pytest.raises(TypeError, match="CameraController"):
        pipe.set_controller("autopilot")
    assert pipe.controller is replay
