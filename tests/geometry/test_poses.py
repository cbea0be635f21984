import math

import pytest
import torch

from viewgen.geometry import (
    camera_center,
    compose_poses,
    invert_pose,
    look_direction_pose,
    relative_pose,
    relative_to_first,
    to_homogeneous_pose,
    transform_points,
)


def random_pose(generator: torch.Generator, batch: tuple[int, ...] = ()) -> torch.Tensor:
    """Random rigid world-to-camera ``[..., 3, 4]`` in float64."""
    q, _ = torch.linalg.qr(torch.randn(*batch, 3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.linalg.det(q).sign().unsqueeze(-1).unsqueeze(-1)
    t = torch.randn(*batch, 3, 1, generator=generator, dtype=torch.float64)
    return torch.cat([q, t], dim=-1)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_inverse_round_trip_3x4_and_4x4(gen):
    pose = random_pose(gen, (5,))
    assert torch.allclose(invert_pose(invert_pose(pose)), pose, atol=1e-12)
    identity = compose_poses(pose, invert_pose(pose))
    assert torch.allclose(identity, torch.eye(4, dtype=torch.float64)[:3].expand(5, 3, 4), atol=1e-12)
    pose4 = to_homogeneous_pose(pose)
    assert invert_pose(pose4).shape == (5, 4, 4)
    assert torch.allclose(invert_pose(pose4), torch.linalg.inv(pose4), atol=1e-12)


def test_compose_matches_matrix_product(gen):
    a, b = random_pose(gen, (3,)), random_pose(gen, (3,))
    expected = to_homogeneous_pose(a) @ to_homogeneous_pose(b)
    assert torch.allclose(to_homogeneous_pose(compose_poses(a, b)), expected, atol=1e-12)
    assert compose_poses(a, b).shape == (3, 3, 4)
    assert compose_poses(to_homogeneous_pose(a), b).shape == (3, 4, 4)


def test_compose_is_associative(gen):
    a, b, c = (random_pose(gen) for _ in range(3))
    assert torch.allclose(compose_poses(compose_poses(a, b), c), compose_poses(a, compose_poses(b, c)), atol=1e-12)


def test_relative_pose_maps_source_camera_points_to_target(gen):
    src_from_world, tgt_from_world = random_pose(gen), random_pose(gen)
    world_points = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    src_points = transform_points(src_from_world, world_points)
    tgt_points = transform_points(tgt_from_world, world_points)
    tgt_from_src = relative_pose(tgt_from_world, src_from_world)
    assert torch.allclose(transform_points(tgt_from_src, src_points), tgt_points, atol=1e-12)


def test_transform_points_known_values():
    # A camera translated by +1 along world x sees the world origin at x = -1.
    cam_from_world = torch.tensor([[1.0, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=torch.float64)
    origin = torch.zeros(1, 3, dtype=torch.float64)
    assert torch.allclose(transform_points(cam_from_world, origin), torch.tensor([[-1.0, 0, 0]], dtype=torch.float64))
    assert torch.allclose(camera_center(cam_from_world), torch.tensor([1.0, 0, 0], dtype=torch.float64))


def test_look_direction_pose_axes():
    position = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    look = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # looking along world +x
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    cam_from_world = look_direction_pose(position, look, down)
    world_from_cam = invert_pose(cam_from_world)
    assert torch.allclose(world_from_cam[:, 2], look, atol=1e-12)  # camera +z is the look direction
    assert torch.allclose(world_from_cam[:, 1], down, atol=1e-12)  # camera +y is down
    assert torch.allclose(world_from_cam[:, 0], torch.tensor([0.0, 0, -1], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(world_from_cam[:, 3], position, atol=1e-12)
    assert math.isclose(torch.linalg.det(cam_from_world[:, :3]).item(), 1.0, abs_tol=1e-12)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="3, 4"):
        invert_pose(torch.eye(3))
    with pytest.raises(ValueError, match="N, 3"):
        transform_points(torch.eye(4)[:3], torch.zeros(4, 2))


def test_a_path_relative_to_its_first_camera():
    path = random_pose(torch.Generator().manual_seed(3), (4,)).float()
    relative = relative_to_first(path)
    assert relative.dtype == torch.float64 and relative.shape == (4, 3, 4)
    assert torch.equal(relative[0], torch.eye(4, dtype=torch.float64)[:3])
    assert torch.allclose(compose_poses(relative, path[0].double()), path.double(), atol=1e-6)
