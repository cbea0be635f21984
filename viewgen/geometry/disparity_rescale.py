"""Rescale the refiner's disparity to the geometry that was warped in (Infinite Nature's post-step).

The refinement network predicts disparity up to an unknown global scale. The original
``rescale_refined_disparity`` fixes that scale so the refined disparity agrees, in log space
and on average over the pixels the warp filled, with the warped (rendered) disparity:

    log_scale = sum(m * (log clip(d_warped) - log clip(d_refined))) / (sum(m) + 1e-4)
    d_out     = clip(exp(log_scale) * d_refined, 0, 1)

with ``clip`` to [0.01, 1] and ``m`` the soft warp mask. Only a scale is applied, no shift.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.geometry.disparity import DISPARITY_RANGE

__all__ = ["rescale_refined_disparity"]

DISPARITY_CLIP = DISPARITY_RANGE  # the renderer's disparity range (depth in [1, 100])
MASK_SUM_EPS = 1e-4


def rescale_refined_disparity(warped_disparity: Tensor, mask: Tensor, refined_disparity: Tensor) -> Tensor:
    """Scale each image's refined disparity to match its warped disparity over the mask.

    Args:
        warped_disparity: ``[B, 1, H, W]`` disparity out of the warp (already multiplied by
            the mask; holes are 0 and are clipped to 0.01 before the log, as in the original).
        mask: ``[B, 1, H, W]`` soft validity mask of the warp (``m * m`` from ``warp_rgbd``).
        refined_disparity: ``[B, 1, H, W]`` the refiner's disparity in (0, 1).

    Returns:
        ``[B, 1, H, W]`` rescaled disparity in [0, 1]. The scale is solved **per image**; the
        original sums over the whole batch, which is the same thing at its batch size of 1.
        An image with an empty mask keeps the refined disparity unchanged (scale 1).
    """
    low, high = DISPARITY_CLIP
    log_ratio = torch.log(warped_disparity.clamp(low, high)) - torch.log(refined_disparity.clamp(low, high))
    weighted_sum = (mask * log_ratio).sum(dim=(1, 2, 3), keepdim=True)
    log_scale = weighted_sum / (mask.sum(dim=(1, 2, 3), keepdim=True) + MASK_SUM_EPS)
    return (torch.exp(log_scale) * refined_disparity).clamp(0.0, 1.0)
