"""Hole fills: the four-sides fill of the weight-free refiner (the nearest fill is tested with the baselines)."""

import numpy as np
import pytest
import torch

from viewgen.rendering.holes import fill_four_sides, hole_half_width


def test_a_band_between_two_banks_blends_both_by_inverse_distance():
    image = torch.zeros(1, 1, 1, 5)
    image[..., 0], image[..., 4] = 1.0, 5.0
    known = image > 0  # one row: the three middle pixels are a hole, no pixel above or below
    filled = fill_four_sides(image, known, power=1.0)[0, 0, 0]
    # pixel 1: 1 at distance 1, 5 at distance 3 -> (1/1 + 5/3) / (1/1 + 1/3) = 2
    assert filled.tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])


def test_all_four_sides_count_and_known_pixels_are_kept():
    image = torch.rand(2, 3, 7, 9, generator=torch.Generator().manual_seed(1))
    known = torch.ones(2, 1, 7, 9, dtype=torch.bool)
    known[:, :, 3, 4] = False  # one isolated hole: its four neighbours, each at distance 1
    filled = fill_four_sides(image, known)
    neighbours = image[..., [2, 4, 3, 3], [4, 4, 3, 5]].mean(dim=-1)
    assert torch.allclose(filled[..., 3, 4], neighbours)
    assert torch.equal(filled[known.expand_as(image)], image[known.expand_as(image)])


def test_nearer_sides_weigh_more_and_a_frame_with_nothing_known_is_unchanged():
    image = torch.zeros(1, 1, 1, 8)
    image[..., 0], image[..., 7] = 1.0, 0.5
    known = image > 0
    filled = fill_four_sides(image, known, power=2.0)[0, 0, 0]
    assert float(filled[1]) > float(filled[6]) and bool((filled[1:7] > 0.5).all() & (filled[1:7] < 1.0).all())
    nothing = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    assert torch.equal(fill_four_sides(image[..., :4].expand(1, 1, 4, 4), nothing), image[..., :4].expand(1, 1, 4, 4))


def test_a_known_mask_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="known"):
        fill_four_sides(torch.zeros(1, 3, 4, 4), torch.ones(1, 1, 4, 5, dtype=torch.bool))


def test_a_hole_is_as_wide_as_its_widest_point_nearby_even_at_its_rim():
    region = np.zeros((40, 60), dtype=bool)
    region[10, 5:55] = True  # a thin band, one pixel high
    region[20:40, 30:60] = True  # a wide hole in the corner
    half = hole_half_width(region, reach=15)
    assert float(half[10, 5:14].max()) <= 1.5  # the band is thin (away from the wide hole)
    assert float(half[20, 30]) >= 10.0  # the rim of the wide hole knows how deep it is
    assert float(half[39, 59]) == float(half.max()) and half.dtype == np.float32
