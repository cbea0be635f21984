"""ENR's rotations from azimuth / elevation: proper rotations, Apple's matrices, source-to-target composition."""

import pytest
import torch

from viewgen.geometry.rotations import rotation_y, rotation_z, scene_rotation, source_to_target_rotation


def test_axis_rotations_are_proper_and_follow_their_formulas():
    angles = torch.tensor([0.0, 30.0, -90.0, 180.0])
    for rotation in (rotation_y(angles), rotation_z(angles)):
        assert rotation.shape == (4, 3, 3)
        torch.testing.assert_close(rotation @ rotation.transpose(1, 2), torch.eye(3).expand(4, 3, 3), atol=1e-6,
                                   rtol=0)
        torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(4), atol=1e-6, rtol=0)
    torch.testing.assert_close(rotation_y(90.0)[0], torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]), atol=1e-6,
                               rtol=0)
    torch.testing.assert_close(rotation_z(90.0)[0], torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), atol=1e-6,
                               rtol=0)


def test_the_scene_rotation_is_the_transposed_camera_rotation():
    azimuth, elevation = torch.tensor([42.5, -120.0]), torch.tensor([23.0, 5.0])
    camera = rotation_y(-azimuth) @ rotation_z(-elevation)
    torch.testing.assert_close(scene_rotation(azimuth, elevation), camera.transpose(1, 2))


def test_source_to_target_composes_and_is_identity_for_the_same_view():
    az, el = torch.tensor([10.0, 200.0]), torch.tensor([-15.0, 40.0])
    torch.testing.assert_close(source_to_target_rotation(az, el, az, el), torch.eye(3).expand(2, 3, 3), atol=1e-6,
                               rtol=0)
    mid_az, mid_el, end_az, end_el = az + 30, el - 10, az + 75, el + 20
    two_steps = (source_to_target_rotation(mid_az, mid_el, end_az, end_el)
                 @ source_to_target_rotation(az, el, mid_az, mid_el))
    torch.testing.assert_close(two_steps, source_to_target_rotation(az, el, end_az, end_el), atol=1e-6, rtol=0)


def test_numbers_give_a_batch_of_one_and_doubles_stay_doubles():
    assert scene_rotation(10, 20).shape == (1, 3, 3) and scene_rotation(10, 20).dtype == torch.float32
    assert scene_rotation(torch.tensor([10.0], dtype=torch.float64), 20.0).dtype == torch.float64
    with pytest.raises(ValueError, match="a number or a \\[B\\] tensor"):
        rotation_y(torch.zeros(2, 2))
    doubles = scene_rotation(torch.tensor([10.0], dtype=torch.float64), 23.039995)  # the number follows the tensor
    exact = scene_rotation(torch.tensor([10.0], dtype=torch.float64), torch.tensor([23.039995], dtype=torch.float64))
    assert torch.equal(doubles, exact)
    assert source_to_target_rotation(torch.tensor([0.0, 10.0]), 5.0, 30.0, torch.tensor([1.0])).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="batch sizes disagree"):
        scene_rotation(torch.zeros(2), torch.zeros(3))
