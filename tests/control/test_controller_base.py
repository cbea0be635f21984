"""What every camera controller shares (the base class): pose dtype/device, frame counter, reset, speed."""

import pytest
import torch

from viewgen.control import FlyDynamic, make_controller
from viewgen.control.base import check_steering

K = torch.tensor([0.8, 1.28, 0.5, 0.5])
START = torch.eye(4)[:3]
FLAT = torch.cat([torch.rand(1, 3, 16, 24), torch.full((1, 1, 16, 24), 0.3)], dim=1)


@pytest.mark.parametrize("name", ["autopilot", "straight", "circle"])
def test_shared_state_and_reset(name):
    controller = make_controller(name, K, START.double())
    assert controller.frame_index == 0 and torch.equal(controller.cam_from_world, START.double())
    pose = controller.next(FLAT)
    assert controller.frame_index == 1 and pose.dtype == torch.float64
    assert torch.equal(controller.cam_from_world, pose)
    controller.reset(START)
    assert controller.frame_index == 0 and controller.cam_from_world.dtype == torch.float32


def test_autopilot_speed_can_change_mid_flight():
    slow, fast = FlyDynamic(K, START, speed=0.2), FlyDynamic(K, START, speed=0.2)
    assert fast.speed == 0.2
    for _ in range(3):
        slow.next(FLAT), fast.next(FLAT)
    assert torch.equal(slow.position, fast.position)
    fast.set_speed(0.4)
    assert fast.speed == 0.4 and fast.config.speed == 0.4 and fast.frame_index == 3
    before = slow.position
    slow.next(FLAT), fast.next(FLAT)
    torch.testing.assert_close(fast.position - before, 2 * (slow.position - before))
    with pytest.raises(ValueError, match="finite"):
        fast.set_speed(float("nan"))


def test_speed_of_scripted_paths_is_fixed():
    straight = make_controller("straight", K, START, speed=0.5)
    assert straight.speed == 0.5
    with pytest.raises(ValueError, match="scripted path"):
        straight.set_speed(1.0)
    assert make_controller("zoom-in", K, START).speed is None


def test_check_steering():
    assert check_steering(None) == (0.0, 0.0)
    assert check_steering(torch.tensor([0.5, -1.0])) == (0.5, -1.0)
    with pytest.raises(TypeError, match="two numbers"):
        check_steering("ab")


@pytest.mark.parametrize("name", ["straight", "circle"])
def test_paths_without_a_horizon_check_gravity_and_ignore_it(name):
    plain, told = make_controller(name, K, START), make_controller(name, K, START)
    told.set_gravity(torch.tensor([0.0, 1.0, 0.3]))
    assert torch.equal(plain.next(FLAT), told.next(FLAT))
    with pytest.raises(ValueError, match="gravity"):
        told.set_gravity(torch.zeros(3))
