"""The one home of the disparity range (``docs/conventions.md``).

Disparity is 1 / depth along the optical axis. The renderer clips it to
``[MIN_DISPARITY, MAX_DISPARITY] = [0.01, 1]``, so depth lies in ``[MIN_DEPTH, MAX_DEPTH] = [1, 100]``
(the original Infinite Nature renderer's range). Everything that clamps disparity or depth to
that range reads it from here.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["DISPARITY_RANGE", "MAX_DEPTH", "MAX_DISPARITY", "MIN_DEPTH", "MIN_DISPARITY", "depth_from_disparity"]

MIN_DISPARITY = 0.01
MAX_DISPARITY = 1.0
DISPARITY_RANGE = (MIN_DISPARITY, MAX_DISPARITY)
MIN_DEPTH = 1.0  # 1 / MAX_DISPARITY
MAX_DEPTH = 100.0  # 1 / MIN_DISPARITY


def depth_from_disparity(disparity: Tensor) -> Tensor:
    """``1 / clip(disparity, 0.01, 1)``: depth in ``[1, 100]``, any shape."""
    return 1.0 / disparity.clamp(MIN_DISPARITY, MAX_DISPARITY)
