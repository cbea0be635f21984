import pytest
import torch

from viewgen.evaluation.distribution import (
    patch_distance,
    patch_distance_noise_floor,
    sample_patches,
    sliced_wasserstein,
)

SMALL = {"num_patches": 512, "num_projections": 64}


def _images(count=4, seed=0, size=(20, 24)):
    return torch.rand(count, 3, *size, generator=torch.Generator().manual_seed(seed))


def test_identical_sets_are_at_distance_zero():
    images = _images()
    assert patch_distance(images, images.clone(), **SMALL) == 0.0


def test_different_sets_are_apart_and_symmetric():
    images, darker = _images(), _images(seed=1) * 0.6
    forward = patch_distance(images, darker, **SMALL)
    assert forward > 0.05
    assert patch_distance(darker, images, **SMALL) == pytest.approx(forward, rel=1e-12)


def test_deterministic_per_seed():
    images, other = _images(), _images(seed=1)
    assert patch_distance(images, other, seed=3, **SMALL) == patch_distance(images, other, seed=3, **SMALL)
    assert patch_distance(images, other, seed=3, **SMALL) != patch_distance(images, other, seed=4, **SMALL)


def test_the_noise_floor_of_one_distribution_is_below_a_shifted_one():
    reference = _images(8)
    assert 0 < patch_distance_noise_floor(reference, **SMALL) < patch_distance(reference, reference * 0.6, **SMALL)


def test_patches_and_projections():
    patches = sample_patches(_images(), num_patches=10, patch_size=7)
    assert patches.shape == (10, 147)
    points = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    shifted = sliced_wasserstein(points, points + torch.tensor([1.0, 0.0]), num_projections=2000)
    # a shift by a unit vector projects to |cos| of a uniform angle: rms sqrt(1/2)
    assert shifted.item() == pytest.approx(0.5**0.5, abs=0.02)


@pytest.mark.parametrize("call, message", [
    (lambda: patch_distance(torch.rand(2, 1, 8, 8), torch.rand(2, 3, 8, 8)), "images must be"),
    (lambda: patch_distance(torch.rand(2, 3, 4, 8), torch.rand(2, 3, 8, 8)), "at least 7x7 pixels"),
    (lambda: sliced_wasserstein(torch.rand(5, 3), torch.rand(4, 3)), "b must be"),
    (lambda: patch_distance_noise_floor(torch.rand(1, 3, 8, 8)), "at least 2 frames"),
])
def test_bad_input_is_one_line_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)
