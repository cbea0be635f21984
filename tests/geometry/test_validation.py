"""Camera input checks: one sync, one-line messages naming the argument."""

import math

import numpy as np
import pytest
import torch

from viewgen.geometry.validation import intrinsics_problem, pose_problem, read_cameras, require_tensor


def rotation_pose(angle_deg: float = 25.0) -> list[float]:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return [c, -s, 0.0, 1.0, s, c, 0.0, 2.0, 0.0, 0.0, 1.0, 3.0]


def test_rigid_poses_pass_and_broken_ones_are_named():
    assert pose_problem(rotation_pose()) is None
    assert pose_problem(rotation_pose() + [0.0, 0.0, 0.0, 1.0]) is None
    assert "NaN" in pose_problem([float("nan")] + rotation_pose()[1:])
    assert "not orthonormal" in pose_problem([0.0] * 12)
    assert "not orthonormal" in pose_problem([2 * v for v in rotation_pose()])
    mirrored = rotation_pose()
    mirrored[10] = -1.0
    assert "reflection" in pose_problem(mirrored)
    assert "last row" in pose_problem(rotation_pose() + [0.0, 0.0, 0.5, 1.0])
    assert "not orthonormal" in pose_problem([1e200] * 12)  # overflow to inf or NaN is still refused


def test_intrinsics():
    assert intrinsics_problem([0.8, 1.2, 0.5, 0.5]) is None
    assert "positive" in intrinsics_problem([0.0, 1.2, 0.5, 0.5])
    assert "NaN" in intrinsics_problem([0.8, 1.2, float("inf"), 0.5])


def test_read_cameras_checks_every_batch_entry_and_returns_extra():
    poses = torch.tensor([rotation_pose(), rotation_pose(40)]).view(2, 3, 4)
    extra = torch.tensor([0.25, 4.0])
    assert read_cameras({"a": poses}, {"k": torch.tensor([0.8, 1.2, 0.5, 0.5])}, extra=extra) == [0.25, 4.0]
    poses[1, 0, 0] = 5.0
    with pytest.raises(ValueError, match=r"^a has a rotation part R that is not orthonormal"):
        read_cameras({"a": poses}, {})
    with pytest.raises(ValueError, match=r"^k must have positive focal lengths"):
        read_cameras({"a": poses[:1]}, {"k": torch.tensor([[0.8, 1.2, 0.5, 0.5], [0.8, -1.2, 0.5, 0.5]])})


def test_require_tensor_names_the_argument():
    with pytest.raises(TypeError, match="^pose must be a torch.Tensor, got numpy.ndarray"):
        require_tensor(np.eye(4), "pose")
