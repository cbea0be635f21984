"""False-color previews of disparity (near = warm, far = cool), for humans only."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["colorize_disparity"]

# Polynomial fit of Google's Turbo colormap (Mikhail, 2019; fit by Ruofei Du), x in [0, 1].
_TURBO = torch.tensor([
    [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
    [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
    [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
], dtype=torch.float64)


def colorize_disparity(disparity: Tensor) -> Tensor:
    """Disparity ``[B, 1, H, W]`` (or ``[H, W]``, ``[1, H, W]``) in [0, 1] -> RGB ``[B, 3, H, W]`` in [0, 1].

    Turbo colors: far (0) dark blue, near (1) dark red. NaN is drawn as 0.
    """
    d = torch.nan_to_num(disparity.detach().double(), nan=0.0).clamp(0, 1)
    while d.dim() < 4:
        d = d.unsqueeze(0)
    powers = torch.stack([d[:, 0] ** k for k in range(6)], dim=-1)  # [B, H, W, 6]
    rgb = powers @ _TURBO.to(d.device).T  # [B, H, W, 3]
    return rgb.clamp(0, 1).permute(0, 3, 1, 2).float()
