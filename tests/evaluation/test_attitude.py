import math

import pytest
import torch

from viewgen.data.synthetic.flights import camera_pose
from viewgen.evaluation.attitude import camera_attitude


def _pose(pitch_deg=0.0, roll_deg=0.0, yaw_deg=0.0, position=(0.0, -5.0, 0.0)):
    radians = [torch.tensor([math.radians(value)]) for value in (yaw_deg, pitch_deg, roll_deg)]
    return camera_pose(torch.tensor(position), *radians)


def test_the_identity_is_level():
    attitude = camera_attitude(torch.eye(4)[:3].unsqueeze(0))
    assert attitude.pitch_deg.item() == 0 and attitude.roll_deg.item() == 0 and attitude.heading_deg.item() == 0
    assert not attitude.upside_down.item()


def test_known_poses():
    poses = torch.cat([_pose(pitch_deg=30.0), _pose(roll_deg=20.0, yaw_deg=45.0), _pose(pitch_deg=-10.0)])
    attitude = camera_attitude(poses)
    assert torch.allclose(attitude.pitch_deg, torch.tensor([30.0, 0.0, -10.0]), atol=1e-4)
    assert torch.allclose(attitude.roll_deg, torch.tensor([0.0, 20.0, 0.0]), atol=1e-4)
    assert attitude.heading_deg[1].item() == pytest.approx(45.0, abs=1e-4)
    assert torch.allclose(attitude.height, torch.full((3,), 5.0), atol=1e-5)  # y down: y = -5 is 5 up
    assert not attitude.upside_down.any()


def test_an_upside_down_pose_is_flagged():
    flipped = torch.cat([_pose(roll_deg=180.0), _pose(pitch_deg=120.0)])  # rolled over; pitched past the nadir
    attitude = camera_attitude(flipped)
    assert attitude.upside_down.all()
    assert abs(attitude.roll_deg[0].item()) == pytest.approx(180.0, abs=1e-3)


def test_a_4x4_pose_and_another_world_down():
    pose = torch.eye(4).unsqueeze(0)
    assert camera_attitude(pose).pitch_deg.item() == 0
    # with world down = +z the identity camera looks straight down
    assert camera_attitude(pose, world_down=(0.0, 0.0, 1.0)).pitch_deg.item() == pytest.approx(90.0)


@pytest.mark.parametrize("call, message", [
    (lambda: camera_attitude(torch.eye(3)), "cam_from_world must be"),
    (lambda: camera_attitude(torch.eye(4)[None], world_down=(0.0, 0.0, 0.0)), "world_down must be a nonzero"),
])
def test_bad_input_is_one_line_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)
