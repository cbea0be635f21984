"""Hole filling by the nearest known pixel: what the warp baseline does and the weight-free refiner starts from.

OpenCV's distance transform with labels finds, for every unknown pixel, its nearest known pixel
(exact L2); the rest is indexing. :func:`distance_to_known` gives the transform's distances.
Shapes: ``image [B, C, H, W]``, ``known [B, 1, H, W]`` bool.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from viewgen.checks import check_shape

__all__ = ["distance_to_known", "fill_nearest"]


def fill_nearest(image: Tensor, known: Tensor) -> Tensor:
    """Fill the unknown pixels of ``image [B, C, H, W]`` with their nearest known pixel (L2).

    ``known [B, 1, H, W]`` is boolean. A frame with no known pixel is returned unchanged.
    """
    check_shape(known, (image.shape[0], 1, *image.shape[-2:]), "known")
    filled = image.clone()
    for index in range(image.shape[0]):
        known_np = known[index, 0].cpu().numpy()
        if known_np.all() or not known_np.any():
            continue
        holes = (~known_np).astype(np.uint8)  # the transform measures distances to the zero (known) pixels
        _, labels = cv2.distanceTransformWithLabels(holes, cv2.DIST_L2, cv2.DIST_MASK_PRECISE,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        known_flat = np.flatnonzero(known_np)
        source_of_label = np.zeros(int(labels.max()) + 1, dtype=np.int64)
        source_of_label[labels.reshape(-1)[known_flat]] = known_flat  # every known pixel has its own label
        source = torch.from_numpy(source_of_label[labels.reshape(-1)]).to(image.device)
        filled[index] = image[index].flatten(1)[:, source].view_as(image[index])
    return filled


def distance_to_known(region: np.ndarray) -> np.ndarray:
    """Distance in pixels from each pixel of ``region [H, W]`` (bool) to the nearest pixel outside it (0 outside).

    OpenCV's 3x3 approximation of the Euclidean distance, float32 ``[H, W]``.
    """
    return cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
