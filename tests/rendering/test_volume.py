"""rotate_volume: ENR's axis convention (content at offset p moves to R p), identity, nearest mode, bad input, and
gradients checked in float64."""

import pytest
import torch

from viewgen.geometry.rotations import rotation_y, rotation_z
from viewgen.rendering.volume import rotate_volume


def _dot(size: int, offset: tuple[int, int, int]) -> torch.Tensor:
    volume = torch.zeros(1, 1, size, size, size)
    centre = size // 2
    volume[0, 0, centre + offset[0], centre + offset[1], centre + offset[2]] = 1.0
    return volume


def _where(volume: torch.Tensor) -> tuple[int, int, int]:
    index = int(volume.flatten().argmax())
    size = volume.shape[-1]
    return index // (size * size) - size // 2, index // size % size - size // 2, index % size - size // 2


@pytest.mark.parametrize("rotation, start, end", [
    (rotation_y(90.0), (6, 0, 0), (0, 0, -6)),  # a quarter turn about y takes x to -z
    (rotation_z(90.0), (6, 0, 0), (0, 6, 0)),  # and about z takes x to y
    (rotation_y(-90.0) @ rotation_z(90.0), (0, 0, 5), (-5, 0, 0)),  # z is the axis of R_z: only R_y moves it
])
def test_content_at_offset_p_moves_to_rotation_times_p(rotation, start, end):
    size = 17  # odd: the centre is a voxel, so quarter turns land on voxels
    for mode in ("bilinear", "nearest"):
        assert _where(rotate_volume(_dot(size, start), rotation, mode=mode)) == end


def test_the_identity_keeps_a_volume_and_a_shared_rotation_applies_to_the_batch():
    volume = torch.rand(2, 3, 8, 8, 8)
    torch.testing.assert_close(rotate_volume(volume, torch.eye(3)), volume, atol=1e-6, rtol=0)
    turned = rotate_volume(volume, rotation_z(90.0)[0])
    torch.testing.assert_close(turned, rotate_volume(volume, rotation_z(torch.tensor([90.0, 90.0]))))


def test_gradients_match_finite_differences_in_float64():
    torch.manual_seed(0)
    volume = torch.rand(1, 2, 5, 5, 5, dtype=torch.float64, requires_grad=True)
    angles = torch.tensor([33.0], dtype=torch.float64, requires_grad=True)

    def turned(volume, angles):
        return rotate_volume(volume, rotation_y(angles) @ rotation_z(0.5 * angles))

    assert torch.autograd.gradcheck(turned, (volume, angles), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("volume, rotation, needle", [
    (torch.zeros(1, 2, 4, 4), torch.eye(3), "volume"),
    (torch.zeros(2, 1, 4, 4, 4), torch.eye(3).expand(3, 3, 3), "rotation"),
    (torch.zeros(1, 1, 4, 4, 4), torch.eye(4)[None], "rotation"),
])
def test_bad_shapes_are_one_line(volume, rotation, needle):
    with pytest.raises(ValueError, match=needle):
        rotate_volume(volume, rotation)
    with pytest.raises(ValueError, match="mode must be"):
        rotate_volume(torch.zeros(1, 1, 4, 4, 4), torch.eye(3), mode="bicubic")
