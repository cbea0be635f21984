"""The LPIPS distance network (Zhang et al. 2018, "linear" version) over an AlexNet backbone.

``LPIPS(x, y) = sum_k mean_hw( w_k . (f_k(x)/|f_k(x)| - f_k(y)/|f_k(y)|)^2 )``: each of the five
AlexNet ReLU taps is unit-normalised over channels at every pixel, the squared difference is
weighted per channel by a non-negative linear head ``w_k`` (a 1x1 convolution without bias),
averaged over space and summed over layers.

The heads use the key names of the official release (``lin{k}.model.1.weight``, shape
``[1, C_k, 1, 1]``), which torchmetrics bundles as ``lpips_models/alex.pth``. Networks know
nothing of files: the caller hands state dicts in.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from viewgen.networks.perceptual.alexnet import ALEXNET_TAP_CHANNELS, AlexNetFeatures
from viewgen.networks.pretrained import check_state_dict

__all__ = ["LPIPS_SCALE", "LPIPS_SHIFT", "Lpips", "lpips_head_keys"]

# LPIPS's own input scaling, applied to images in [-1, 1]: (x - shift) / scale.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10  # the official normalize_tensor's eps: x / (sqrt(sum x^2) + eps)


def lpips_head_keys(channels: tuple[int, ...] = ALEXNET_TAP_CHANNELS) -> dict[str, tuple[int, ...]]:
    """The release's head names and shapes: ``{"lin{k}.model.1.weight": (1, C_k, 1, 1)}``."""
    return {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate(channels)}


def _unit_normalize(features: Tensor) -> Tensor:
    """``[B, C, H, W]`` divided by its L2 norm over C at every pixel."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)


class Lpips(nn.Module):
    """LPIPS with an :class:`AlexNetFeatures` backbone and five linear heads ``[1, C_k, 1, 1]``."""

    def __init__(self, backbone: AlexNetFeatures, heads: Mapping[str, Tensor], source: str = "the LPIPS heads") -> None:
        super().__init__()
        channels = backbone.config.channels
        expected = lpips_head_keys(channels)
        check_state_dict(expected, heads, source)
        self.backbone = backbone.eval().requires_grad_(False)
        for k, key in enumerate(expected):
            self.register_buffer(f"head{k}", heads[key].detach().float().reshape(-1).clone())
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)

    def heads(self) -> list[Tensor]:
        """The five head weight vectors ``[C_k]``."""
        return [getattr(self, f"head{k}") for k in range(len(self.backbone.config.channels))]

    def forward(self, image: Tensor, target: Tensor) -> Tensor:
        """``[B, 3, H, W]`` x 2, RGB in [0, 1] -> ``[B]`` distances (0 for identical images)."""
        scaled = [((2.0 * x - 1.0) - self.shift) / self.scale for x in (image, target)]
        taps = self.backbone(torch.cat(scaled))
        batch = image.shape[0]
        total = image.new_zeros(batch)
        for features, weight in zip(taps, self.heads(), strict=True):
            normed = _unit_normalize(features)
            diff = (normed[:batch] - normed[batch:]).pow(2)
            total = total + torch.einsum("bchw,c->bhw", diff, weight).mean(dim=(1, 2))
        return total
