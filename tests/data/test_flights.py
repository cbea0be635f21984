import math

import pytest
import torch

from viewgen.data.synthetic import (
    FlightConfig,
    camera_pose,
    generate_flight,
    ground_clearance,
    preset_world,
    scene_preset,
    start_pose,
)
from viewgen.geometry import camera_center


@pytest.fixture(scope="module", params=["coast", "mountains"])
def flight(request):
    world = preset_world(request.param)
    config = scene_preset(request.param).flight
    poses = generate_flight(world, 120, seed=7, start=start_pose(request.param, world), config=config)
    return world, config, poses


def test_flight_poses_are_rigid(flight):
    _, _, poses = flight
    assert poses.shape == (120, 3, 4) and poses.dtype == torch.float32
    rotation = poses[:, :, :3].double()
    identity = torch.eye(3, dtype=torch.float64).expand_as(rotation)
    assert torch.allclose(rotation @ rotation.transpose(1, 2), identity, atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(120, dtype=torch.float64), atol=1e-5)


def test_flight_keeps_clear_of_the_ground(flight):
    world, config, poses = flight
    clearance = ground_clearance(world, poses, substeps=8)
    assert float(clearance.min()) >= 0.8 * config.min_clearance


def test_flight_is_smooth_and_heads_forward(flight):
    _, config, poses = flight
    centres = camera_center(poses.double())
    steps = centres.diff(dim=0)
    horizontal = steps[:, [0, 2]].norm(dim=1)
    assert torch.allclose(horizontal, torch.full_like(horizontal, config.speed), rtol=1e-3)
    assert float(steps[:, 1].abs().max()) < config.speed  # climbs and descents gentler than 45 degrees
    assert float(steps.diff(dim=0).norm(dim=1).max()) < 0.25 * config.speed  # no kinks
    forward = poses[:, 2, :3].double()  # camera +z in world coordinates
    turn = torch.rad2deg(torch.arccos((forward[1:] * forward[:-1]).sum(1).clamp(-1, 1)))
    assert float(turn.max()) < 2 * config.max_turn_deg
    assert float(forward[:, 1].min()) > 0  # always looking somewhat down (y down)
    assert float((forward[:, 1] - math.sin(math.radians(config.pitch_deg))).abs().max()) < 1e-3


def test_flight_is_deterministic_and_starts_at_start():
    world = preset_world("hills")
    start = start_pose("hills", world)
    first = generate_flight(world, 20, seed=3, start=start)
    assert torch.equal(first, generate_flight(world, 20, seed=3, start=start))
    assert not torch.equal(first, generate_flight(world, 20, seed=4, start=start))
    assert torch.allclose(camera_center(first[0])[[0, 2]], camera_center(start)[[0, 2]], atol=1e-3)
    default = generate_flight(world, 5, seed=0)
    assert default.shape == (5, 3, 4)


def test_camera_pose_angles():
    pose = camera_pose(torch.zeros(3), torch.tensor(0.0), torch.tensor(0.0))
    assert torch.allclose(pose, torch.eye(4, dtype=torch.float64)[:3], atol=1e-12)
    east = camera_pose(torch.zeros(3), torch.tensor(math.pi / 2, dtype=torch.float64), torch.tensor(0.0))
    assert torch.allclose(east[2, :3], torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)


def test_bad_flight_arguments():
    world = preset_world("hills")
    with pytest.raises(ValueError, match="num_frames"):
        generate_flight(world, 0)
    with pytest.raises(ValueError, match="min_clearance"):
        FlightConfig(altitude=10.0, min_clearance=20.0)
