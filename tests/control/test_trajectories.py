import math

import pytest
import torch

from viewgen.control.base import CameraController
from viewgen.control.fly_dynamic import FlyDynamic
from viewgen.control.registry import CONTROLLER_NAMES, make_controller
from viewgen.control.scripted import (
    CircleTrajectory,
    DollyTrajectory,
    ScriptedTrajectory,
    SwingTrajectory,
    ThereAndBackConfig,
    ThereAndBackTrajectory,
    ZoomInConfig,
    ZoomInTrajectory,
)
from viewgen.geometry.poses import camera_center, compose_poses, invert_pose

INTRINSICS = torch.tensor([0.8, 1.28, 0.5, 0.5])
SCRIPTED = [name for name in CONTROLLER_NAMES if name != "autopilot"]


def tilted_start() -> torch.Tensor:
    """A float64 start pose with a non-trivial rotation and translation, [3, 4]."""
    angles = torch.tensor([0.3, -0.7, 0.2], dtype=torch.float64)
    rotation = torch.linalg.matrix_exp(torch.tensor(
        [[0, -angles[2], angles[1]], [angles[2], 0, -angles[0]], [-angles[1], angles[0], 0]], dtype=torch.float64))
    return torch.cat([rotation, torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)], dim=1)


def local_motion(pose: torch.Tensor, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(camera centre in the start camera's frame [3], rotation cam_from_start [3, 3])."""
    start_from_cam = compose_poses(start, invert_pose(pose))
    return start_from_cam[:, 3], start_from_cam[:, :3].T


def yaw_of(rotation: torch.Tensor) -> float:
    """Yaw (positive = right) of a cam_from_start rotation: the camera's +z in start coordinates."""
    z_axis = rotation[2]
    return math.atan2(float(z_axis[0]), float(z_axis[2]))


def run(name: str, steps: int, start: torch.Tensor, **options) -> list[torch.Tensor]:
    controller = make_controller(name, INTRINSICS.to(start.dtype), start, **options)
    rgbd = torch.rand(1, 4, 16, 32, generator=torch.Generator().manual_seed(0), dtype=start.dtype) * 0.5 + 0.1
    return [controller.next(rgbd) for _ in range(steps)]


@pytest.mark.parametrize("name", CONTROLLER_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_controller_returns_rotations(name, dtype):
    start = tilted_start().to(dtype)
    poses = run(name, 30, start)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    for pose in poses:
        assert pose.shape == (3, 4) and pose.dtype == dtype
        rotation = pose[:, :3].double()
        assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=tolerance)
        assert abs(float(torch.linalg.det(rotation)) - 1.0) < tolerance


@pytest.mark.parametrize("name", CONTROLLER_NAMES)
def test_factory_builds_camera_controllers_that_reset(name):
    start = tilted_start()
    controller = make_controller(name, INTRINSICS.double(), start)
    assert isinstance(controller, CameraController)
    assert torch.allclose(controller.cam_from_world, start, atol=1e-12)
    rgbd = torch.full((1, 4, 8, 16), 0.3, dtype=torch.float64)
    first = [controller.next(rgbd) for _ in range(3)]
    controller.reset(start)
    assert all(torch.equal(pose, controller.next(rgbd)) for pose in first)


def test_straight_moves_along_the_start_look_direction():
    start = tilted_start()
    for k, pose in enumerate(run("straight", 5, start, speed=0.3), start=1):
        centre, rotation = local_motion(pose, start)
        assert torch.allclose(centre, torch.tensor([0.0, 0.0, 0.3 * k], dtype=torch.float64), atol=1e-12)
        assert torch.allclose(rotation, torch.eye(3, dtype=torch.float64), atol=1e-12)
    world_look = invert_pose(start)[:, 2]
    assert torch.allclose(camera_center(pose) - camera_center(start), 1.5 * world_look, atol=1e-12)


def test_zoom_in_eases_out_and_stops():
    start = tilted_start()
    config = ZoomInConfig(distance=4.0, num_frames=20)
    forward = [float(local_motion(p, start)[0][2]) for p in run("zoom-in", 25, start, distance=4.0, num_frames=20)]
    steps = [b - a for a, b in zip([0.0] + forward, forward)]
    assert all(s1 > s2 for s1, s2 in zip(steps[:20], steps[1:20]))  # strictly slowing down
    assert steps[0] == pytest.approx(2 * config.distance / config.num_frames, rel=0.06)
    assert forward[19:] == pytest.approx([4.0] * 6, abs=1e-12)  # holds still at the end


def test_dolly_trucks_sideways_right_first():
    start = tilted_start()
    period = 40
    poses = run("dolly", period, start, amplitude=0.5, period=period)
    centres = torch.stack([local_motion(p, start)[0] for p in poses])
    assert centres[: period // 2 - 1, 0].min() > 0 and centres[period // 2: -1, 0].max() < 0
    assert float(centres[:, 0].max()) == pytest.approx(0.5) and centres[:, 1:].abs().max() < 1e-12
    assert torch.allclose(poses[-1], start, atol=1e-12)  # a full cycle returns
    assert all(torch.allclose(local_motion(p, start)[1], torch.eye(3, dtype=torch.float64), atol=1e-12) for p in poses)


def test_swing_yaws_right_first_while_moving_forward():
    start = tilted_start()
    poses = run("swing", 40, start, speed=0.1, yaw_amplitude_deg=10.0, lateral_amplitude=0.2, period=40)
    motions = [local_motion(p, start) for p in poses]
    yaws = [math.degrees(yaw_of(rotation)) for _, rotation in motions]
    assert yaws[9] == pytest.approx(10.0) and yaws[29] == pytest.approx(-10.0)  # quarter periods
    assert float(motions[9][0][0]) == pytest.approx(0.2) and float(motions[9][0][2]) == pytest.approx(1.0)
    assert abs(yaws[19]) < 1e-9  # back to straight at half a period


def test_circle_orbits_through_the_start_looking_ahead():
    start = tilted_start()
    radius, period = 0.5, 24
    poses = run("circle", period, start, radius=radius, period=period)
    centre_of_circle = torch.tensor([radius, 0.0, 0.0], dtype=torch.float64)
    for pose in poses:
        position, rotation = local_motion(pose, start)
        assert float((position - centre_of_circle).norm()) == pytest.approx(radius)
        assert abs(float(position[1])) < 1e-12
        assert torch.allclose(rotation, torch.eye(3, dtype=torch.float64), atol=1e-12)
    first, _ = local_motion(poses[0], start)
    assert first[2] > 0 and first[0] > 0  # forward, curving right
    assert torch.allclose(poses[-1], start, atol=1e-12)


def test_there_and_back_reverses_home_along_the_look_direction():
    start = tilted_start()
    distance, period = 1.5, 24
    poses = run("there-and-back", 2 * period, start, distance=distance, period=period)
    motions = [local_motion(pose, start) for pose in poses]
    forward = [float(position[2]) for position, _ in motions]
    assert all(position[:2].abs().max() < 1e-12 for position, _ in motions)  # on the start camera's axis
    assert all(torch.allclose(rotation, torch.eye(3, dtype=torch.float64), atol=1e-12) for _, rotation in motions)
    assert forward[period // 2 - 1] == pytest.approx(distance, abs=1e-12) and max(forward) == forward[period // 2 - 1]
    assert all(a < b for a, b in zip(forward[: period // 2 - 1], forward[1: period // 2]))  # out ...
    assert all(a > b for a, b in zip(forward[period // 2 - 1: period - 1], forward[period // 2: period]))  # ... back
    assert forward[0] == pytest.approx(distance * (1 - math.cos(2 * math.pi / period)) / 2)  # a smooth start
    assert torch.equal(poses[period - 1], start.to(poses[0].dtype))  # home exactly, after one period
    assert torch.equal(poses[2 * period - 1], start) and forward[period + 5] == pytest.approx(forward[5])


def test_there_and_back_config_checks_its_numbers():
    assert ThereAndBackConfig() == ThereAndBackConfig(distance=1.0, period=120)
    with pytest.raises(ValueError, match="period must be positive"):
        ThereAndBackTrajectory(torch.eye(4)[:3], ThereAndBackConfig(period=-2))
    assert ThereAndBackTrajectory(torch.eye(4)[:3]).pose_at(60)[2, 3] == pytest.approx(-1.0)


@pytest.mark.parametrize("name", SCRIPTED)
def test_scripted_paths_ignore_rgbd_and_offset(name):
    start = tilted_start()
    a = make_controller(name, INTRINSICS, start)
    b = make_controller(name, INTRINSICS, start)
    assert isinstance(a, ScriptedTrajectory)
    for _ in range(3):
        assert torch.equal(a.next(None), b.next(torch.rand(1, 4, 8, 8), offset=(1.0, -1.0)))
    assert torch.equal(a.pose_at(0), start) and a.frame_index == 3


def test_autopilot_factory_passes_options():
    controller = make_controller("autopilot", INTRINSICS, torch.eye(4)[:3], speed=-0.1, horizon=0.4)
    assert isinstance(controller, FlyDynamic)
    assert controller.config.speed == -0.1 and controller.config.horizon == 0.4


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="autopilot, straight, zoom-in, dolly, swing, circle"):
        make_controller("spiral", INTRINSICS, torch.eye(4)[:3])


@pytest.mark.parametrize("name, options, message", [
    ("dolly", {"radius": 1.0}, "valid options: amplitude, period, forward_speed"),
    ("autopilot", {"turn_function": None}, "valid options: speed"),
    ("circle", {"period": 0}, "period must be positive"),
    ("zoom-in", {"distance": float("inf")}, "finite"),
])
def test_bad_options_raise(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_controller(name, INTRINSICS, torch.eye(4)[:3], **options)


def test_wrong_config_class_and_bad_start_pose_raise():
    with pytest.raises(ValueError, match="needs a CircleConfig"):
        CircleTrajectory(torch.eye(4)[:3], ZoomInConfig())
    with pytest.raises(ValueError, match="rotation"):
        DollyTrajectory(2 * torch.eye(4)[:3])
    with pytest.raises(ValueError, match="offset"):
        SwingTrajectory(torch.eye(4)[:3]).next(None, offset=(0.0, float("nan")))
    assert isinstance(ZoomInTrajectory(torch.eye(4)).cam_from_world, torch.Tensor)
