"""How much a warp of frame 0 enlarges it at each pixel of a view, and the streaks to close in that map.

:class:`~viewgen.memory.world_prior.WorldPrior` shows frame 0 where it resolves the view and its
prior world where frame 0 is enlarged far beyond what it resolves; these measure the enlargement.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["BACK_WINDOW", "STREAK_WINDOW", "close_lines", "enlargement", "seen_from_behind", "thin_parts"]

STREAK_WINDOW = 5  # pixels: lines of low enlargement narrower than this inside enlarged regions are closed
BACK_WINDOW = 3  # pixels: parts narrower than this are slivers (thin_parts) or folds (seen_from_behind)


def _jacobian(source_px: Tensor, known: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(a, c, b, d, measured)``: frame 0's pixel coordinates ``source_px [1, 2, H, W]`` differentiated
    over the view's, ``[[a, b], [c, d]]`` ``[1, H, W]`` each (forward differences between ``known [1, 1, H, W]``
    pixels; a pair with an unknown pixel counts as unit steps), and ``measured [1, 1, H, W]`` bool: where
    both differences were."""
    unit_x = torch.tensor([1.0, 0.0], dtype=source_px.dtype, device=source_px.device).view(1, 2, 1, 1)
    pair_x = known[..., :, 1:] & known[..., :, :-1]
    pair_y = known[..., 1:, :] & known[..., :-1, :]
    along_x = torch.where(pair_x, source_px[..., :, 1:] - source_px[..., :, :-1], unit_x)
    along_y = torch.where(pair_y, source_px[..., 1:, :] - source_px[..., :-1, :], unit_x.flip(1))
    along_x = F.pad(along_x, (0, 1, 0, 0), mode="replicate")
    along_y = F.pad(along_y, (0, 0, 0, 1), mode="replicate")
    measured = F.pad(pair_x, (0, 1, 0, 0)) & F.pad(pair_y, (0, 0, 0, 1))
    return along_x[:, 0], along_x[:, 1], along_y[:, 0], along_y[:, 1], measured


def enlargement(source_px: Tensor, known: Tensor) -> Tensor:
    """``[1, 1, H, W]``: how many times frame 0 is enlarged at each pixel of the view.

    The enlargement is ``1 / sigma_min`` of the Jacobian of frame 0's pixel coordinates
    ``source_px [1, 2, H, W]`` over the view's (:func:`_jacobian`): a stretch along any one direction
    counts, as on a slope seen ever more from above.
    """
    a, c, b, d, _ = _jacobian(source_px, known)
    total = a * a + b * b + c * c + d * d
    determinant = a * d - b * c
    sigma_min_sq = 0.5 * (total - (total * total - 4.0 * determinant * determinant).clamp_min(0.0).sqrt())
    return sigma_min_sq.clamp_min(1e-12).rsqrt().unsqueeze(1)


def seen_from_behind(source_px: Tensor, known: Tensor) -> Tensor:
    """``[1, 1, H, W]`` bool: the view's regions, at least :data:`BACK_WINDOW` pixels wide, that show frame 0's
    surface from behind (``source_px``, ``known`` as in :func:`enlargement`; the Jacobian is mirrored).

    Every triangle of frame 0's mesh faces frame 0's camera; a view that sees one mirrored is behind that
    surface (under frame 0's ground, past a hill frame 0 saw from the front, where the mesh shows its inside
    as fans of colour hanging in the sky), or sees one of the sheets the mesh stretches across an occlusion
    edge from its far side. Thinner lines of mirrored pixels (folds where neighbouring pixels come from
    different triangles) are left alone by a morphological opening.
    """
    a, c, b, d, measured = _jacobian(source_px, known)
    flipped = ((a * d - b * c) < 0).unsqueeze(1) & measured  # a unit step beside a real one proves nothing
    return flipped & ~thin_parts(flipped)


def thin_parts(shown: Tensor) -> Tensor:
    """``[1, 1, H, W]`` bool: the pixels of ``shown [1, 1, H, W]`` (bool) in parts thinner than
    :data:`BACK_WINDOW` pixels (those a morphological opening removes).

    A sliver of frame 0 stretched across the prior world (an edge of its mesh seen end-on, far from where
    frame 0 saw it) resolves nothing. Lying across the sky, it fenced off parts of it as holes that the
    refiner filled with the sliver's colour; lying across the world's land, it stood there as lines at
    frame 0's near depth, which read as ground just above the camera (mountains, flight seed 1, frame 162:
    the lowest shown clearance of the flight, -0.19).
    """
    pad = BACK_WINDOW // 2
    mask = shown.to(torch.float32)
    opened = F.max_pool2d(-F.max_pool2d(-mask, BACK_WINDOW, stride=1, padding=pad), BACK_WINDOW, stride=1,
                          padding=pad)
    return shown & (opened < 0.5)


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
