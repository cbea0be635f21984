"""viewgen.checks: the one shape check and its message format."""

import numpy as np
import pytest
import torch

from viewgen.checks import check_hw, check_min_size, check_shape, format_shape


def test_named_sizes_are_returned_and_bound_consistently():
    assert check_shape(torch.zeros(2, 4, 5, 6), ("B", 4, "H", "W"), "rgbd") == {"B": 2, "H": 5, "W": 6}
    with pytest.raises(ValueError, match=r"^mask must be a \[B, 1, H, H\] tensor, got shape \[1, 1, 2, 3\]$"):
        check_shape(torch.zeros(1, 1, 2, 3), ("B", 1, "H", "H"), "mask")


def test_alternatives_ellipsis_fixed_sizes_and_numpy():
    pose = ("...", (3, 4), 4)
    assert check_shape(torch.zeros(5, 2, 4, 4), pose, "pose") == {}
    assert check_shape(np.zeros((3, 4)), [("H", "W"), (1, 1, "H", "W")], "d", what="array") == {"H": 3, "W": 4}
    assert check_shape(torch.zeros(1, 6), ("B", 6), "style", sizes={"B": (1, 3)}) == {"B": 1}
    with pytest.raises(ValueError, match=r"^style must be a \[B, 6\] tensor with B = 1\|3, got shape \[2, 6\]$"):
        check_shape(torch.zeros(2, 6), ("B", 6), "style", sizes={"B": (1, 3)})
    with pytest.raises(TypeError, match=r"^x must be a \[3\] tensor \(a note\), got list$"):
        check_shape([1, 2, 3], (3,), "x", hint=" (a note)", error=TypeError)
    assert format_shape(("...", (3, 4), 4)) == "[..., 3|4, 4]"
    with pytest.raises(ValueError, match=r"^d must be an \[H, W\] array, got shape \[2\]$"):
        check_shape(np.zeros(2), ("H", "W"), "d", what="array")


def test_min_size():
    assert check_min_size(torch.zeros(1, 4, 2, 3), 2, "rgbd") == (2, 3)
    assert check_min_size((8, 9), (8, 8), "frame") == (8, 9)
    with pytest.raises(ValueError, match=r"^rgbd must be at least 2x2 pixels \(H, W >= 2\), got 1x5$"):
        check_min_size(torch.zeros(1, 4, 1, 5), 2, "rgbd")
    with pytest.raises(ValueError, match=r"got 0x5 \(empty\)$"):
        check_min_size(torch.zeros(0, 5), 1, "frame")


def test_hw():
    assert check_hw([3, 4.0]) == (3, 4)
    with pytest.raises(ValueError, match=r"^size must be \(height, width\), got 5$"):
        check_hw(5)
    with pytest.raises(KeyError, match="positive"):
        check_hw((0, 4), error=KeyError)
