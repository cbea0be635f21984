"""How much a warp of frame 0 enlarges it at each pixel of a view, and the streaks to close in that map.

:class:`~viewgen.memory.world_prior.WorldPrior` shows frame 0 where it resolves the view and its
prior world where frame 0 is enlarged far beyond what it resolves; these measure the enlargement.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["STREAK_WINDOW", "close_lines", "enlargement"]

STREAK_WINDOW = 5  # pixels: lines of low enlargement narrower than this inside enlarged regions are closed


def enlargement(source_px: Tensor, known: Tensor) -> Tensor:
    """``[1, 1, H, W]``: how many times frame 0 is enlarged at each pixel of the view.

    The enlargement is ``1 / sigma_min`` of the Jacobian of frame 0's pixel coordinates
    ``source_px [1, 2, H, W]`` over the view's (forward differences between ``known [1, 1, H, W]``
    pixels; a pair with an unknown pixel counts as unit steps): a stretch along any one direction
    counts, as on a slope seen ever more from above.
    """
    unit_x = torch.tensor([1.0, 0.0], dtype=source_px.dtype, device=source_px.device).view(1, 2, 1, 1)
    pair_x = known[..., :, 1:] & known[..., :, :-1]
    pair_y = known[..., 1:, :] & known[..., :-1, :]
    along_x = torch.where(pair_x, source_px[..., :, 1:] - source_px[..., :, :-1], unit_x)
    along_y = torch.where(pair_y, source_px[..., 1:, :] - source_px[..., :-1, :], unit_x.flip(1))
    along_x = F.pad(along_x, (0, 1, 0, 0), mode="replicate")
    along_y = F.pad(along_y, (0, 0, 0, 1), mode="replicate")
    a, c, b, d = along_x[:, 0], along_x[:, 1], along_y[:, 0], along_y[:, 1]
    total = a * a + b * b + c * c + d * d
    determinant = a * d - b * c
    sigma_min_sq = 0.5 * (total - (total * total - 4.0 * determinant * determinant).clamp_min(0.0).sqrt())
    return sigma_min_sq.clamp_min(1e-12).rsqrt().unsqueeze(1)


def close_lines(enlargement: Tensor) -> Tensor:
    """``[1, 1, H, W]``: the enlargement with thin low lines inside enlarged regions raised to their surroundings.

    Where frame 0's far triangles are stretched into a fan, the Jacobian reads low along their edges
    (neighbouring pixels come from different triangles), and those lines of frame 0 stood amid the
    world as streaks. A morphological closing (the largest value within :data:`STREAK_WINDOW` pixels,
    then the smallest) fills lines narrower than the window and leaves the regions' outlines where
    they were (a plain maximum grew them, and cost 0.06 dB at frame 50 of the short-range protocol).
    """
    pad = STREAK_WINDOW // 2
    grown = F.max_pool2d(enlargement, STREAK_WINDOW, stride=1, padding=pad)
    return -F.max_pool2d(-grown, STREAK_WINDOW, stride=1, padding=pad)
