"""Float64 gradchecks of the differentiable geometry: projection, poses, intrinsics, disparity.

Poses are built from 6 parameters (axis-angle rotation, translation) so that every perturbation
gradcheck makes is still a rigid pose (the pose checks refuse anything else).
"""

import pytest
import torch
from torch.autograd import gradcheck

from viewgen.geometry import (
    camera_center,
    compose_poses,
    crop_intrinsics,
    intrinsics_to_pixel_matrix,
    invert_pose,
    pixel_matrix_to_intrinsics,
    project,
    relative_pose,
    transform_points,
    unproject,
    uv_to_rays,
)
from viewgen.geometry.disparity import depth_from_disparity
from viewgen.geometry.poses import look_direction_pose, to_homogeneous_pose

F64 = torch.float64


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _params(batch: int = 2, seed: int = 0) -> torch.Tensor:
    """``[batch, 6]``: small rotations (axis-angle) and translations, float64, requiring grad."""
    return (0.3 * torch.randn(batch, 6, dtype=F64, generator=_generator(seed))).requires_grad_(True)


def _pose(params: torch.Tensor) -> torch.Tensor:
    """``[..., 6]`` -> rigid ``[..., 3, 4]`` (the rotation by the matrix exponential of the skew matrix)."""
    wx, wy, wz = params[..., 0], params[..., 1], params[..., 2]
    zero = torch.zeros_like(wx)
    skew = torch.stack([torch.stack([zero, -wz, wy], -1), torch.stack([wz, zero, -wx], -1),
                        torch.stack([-wy, wx, zero], -1)], -2)
    return torch.cat([torch.linalg.matrix_exp(skew), params[..., 3:].unsqueeze(-1)], dim=-1)


def _intrinsics(batch: int = 2) -> torch.Tensor:
    base = torch.tensor([0.8, 1.2, 0.5, 0.45], dtype=F64)
    return (base + 0.05 * torch.rand(batch, 4, dtype=F64, generator=_generator(1))).requires_grad_(True)


def _uv(batch: int = 2, points: int = 5) -> torch.Tensor:
    return torch.rand(batch, points, 2, dtype=F64, generator=_generator(2)).requires_grad_(True)


def test_projection_and_unprojection():
    uv, intrinsics = _uv(), _intrinsics()
    depth = (1.0 + 5 * torch.rand(2, 5, dtype=F64, generator=_generator(3))).requires_grad_(True)
    points = (torch.randn(2, 5, 3, dtype=F64, generator=_generator(4)) + torch.tensor([0, 0, 4.0], dtype=F64))
    assert gradcheck(uv_to_rays, (uv, intrinsics))
    assert gradcheck(unproject, (uv, depth, intrinsics))
    assert gradcheck(lambda p, k: project(p, k), (points.requires_grad_(True), intrinsics))


def test_unproject_then_project_is_the_identity_with_its_gradient():
    uv, intrinsics = _uv(), _intrinsics()
    depth = torch.full((2, 5), 3.0, dtype=F64)
    assert torch.allclose(project(unproject(uv, depth, intrinsics), intrinsics)[0], uv)
    assert gradcheck(lambda x: project(unproject(x, depth, intrinsics), intrinsics)[0], (uv,))


@pytest.mark.parametrize("name, function, poses", [
    ("invert", lambda a: invert_pose(_pose(a)), 1),
    ("invert 4x4", lambda a: invert_pose(to_homogeneous_pose(_pose(a))), 1),
    ("compose", lambda a, b: compose_poses(_pose(a), _pose(b)), 2),
    ("relative", lambda a, b: relative_pose(_pose(a), _pose(b)), 2),
    ("camera centre", lambda a: camera_center(_pose(a)), 1),
])
def test_pose_functions(name, function, poses):
    assert gradcheck(function, tuple(_params(seed=seed) for seed in range(poses))), name


def test_transform_points_in_pose_and_points():
    points = torch.randn(2, 5, 3, dtype=F64, generator=_generator(5)).requires_grad_(True)
    assert gradcheck(lambda a, p: transform_points(_pose(a), p), (_params(), points))


def test_look_direction_pose():
    position = torch.randn(2, 3, dtype=F64, generator=_generator(6)).requires_grad_(True)
    look = (torch.tensor([0.1, 0.2, 1.0], dtype=F64) + 0.1 * torch.randn(2, 3, dtype=F64, generator=_generator(7)))
    down = torch.tensor([[0.0, 1.0, 0.0]], dtype=F64).expand(2, 3)
    assert gradcheck(lambda p, d: look_direction_pose(p, d, down), (position, look.requires_grad_(True)))


def test_intrinsics_scaling():
    intrinsics = _intrinsics()
    assert gradcheck(lambda k: intrinsics_to_pixel_matrix(k, 6, 8), (intrinsics,))
    assert gradcheck(lambda k: pixel_matrix_to_intrinsics(intrinsics_to_pixel_matrix(k, 6, 8), 6, 8), (intrinsics,))
    assert gradcheck(lambda k: crop_intrinsics(k, 6, 8, 1, 2, 4, 5), (intrinsics,))


def test_depth_from_disparity_inside_the_clip_range():
    disparity = (0.05 + 0.9 * torch.rand(2, 1, 3, 4, dtype=F64, generator=_generator(8))).requires_grad_(True)
    assert gradcheck(depth_from_disparity, (disparity,))


def test_round_trips_on_every_device_and_dtype(device, dtype):
    """The ``device`` and ``dtype`` fixtures (conftest): cuda rows run with ``-m gpu`` on a GPU."""
    params = _params().detach().to(device, dtype)
    pose = _pose(params)
    identity = compose_poses(pose, invert_pose(pose))
    assert identity.dtype == dtype and identity.device.type == device.type
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(identity[..., :3], torch.eye(3, dtype=dtype, device=device).expand(2, 3, 3), atol=tolerance)
    uv, depth = _uv().detach().to(device, dtype), torch.full((2, 5), 3.0, dtype=dtype, device=device)
    intrinsics = _intrinsics().detach().to(device, dtype)
    assert torch.allclose(project(unproject(uv, depth, intrinsics), intrinsics)[0], uv, atol=tolerance)
