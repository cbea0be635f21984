"""The two image encoders of Infinite Nature Zero's co-modulated generator, and its mapping network.

Both encoders share one trunk (``E``): a 1x1 ``FromRGB`` at full resolution, then one block per
resolution from ``R x R`` down to ``8 x 8`` (``Conv0``: 3x3 conv; ``Conv1_down``: blur + 3x3
stride-2 conv), then a 3x3 ``Conv`` at ``4 x 4``. Block names are the original's
(``"128x128_0"``, ``"128x128"``, ..., ``"4x4"``) so checkpoint keys load as they are.

* :class:`GlobalStyleEncoder` ends with a dense layer and dropout: RGBD -> the global code.
* :class:`FeatureEncoder` returns the ``Conv0`` output of every block (the U-Net skips the
  synthesis network adds after its upsampling convs) and the final ``4 x 4`` features.

Inputs are in the networks' range [-1, 1]; :class:`~viewgen.networks.stylegan2.CoModGenerator`
maps [0, 1] images there. Channel widths follow ``channels_at(stage) = clip(base / 2**stage, 1, max)``
with ``stage = log2(resolution) - 1`` for a block at that resolution.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from viewgen.checks import check_shape
from viewgen.networks.stylegan2.layers import ConvLayer, EqualLinear, PixelNorm

__all__ = ["FeatureEncoder", "GlobalStyleEncoder", "MappingNetwork", "channels_at", "encoder_levels"]


def channels_at(stage: int, channel_base: int, channel_max: int) -> int:
    """Feature width of a ``stage`` (``log2(resolution) - 1``): ``clip(int(base / 2**stage), 1, channel_max)``."""
    return int(min(max(int(channel_base / (2.0**stage)), 1), channel_max))


def encoder_levels(resolution: int) -> range:
    """The log2 resolutions of the encoder blocks that downsample, finest first (7, 6, ..., 3 for 128)."""
    return range(int(math.log2(resolution)), 2, -1)


def _name(level: int) -> str:
    return f"{2**level}x{2**level}"


def _build_trunk(in_channels: int, resolution: int, channel_base: int, channel_max: int) -> nn.ModuleDict:
    """The shared encoder layers, keyed like the original's ``E`` (the final dense layer is added by the caller)."""
    def width(stage: int) -> int:
        return channels_at(stage, channel_base, channel_max)

    levels = encoder_levels(resolution)
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    blocks[f"{_name(levels[0])}_0"] = nn.ModuleDict({"FromRGB": ConvLayer(in_channels, width(levels[0] - 1), 1)})
    for level in levels:
        blocks[_name(level)] = nn.ModuleDict({
            "Conv0": ConvLayer(width(level - 1), width(level - 1), 3),
            "Conv1_down": ConvLayer(width(level - 1), width(level - 2), 3, downsample=True),
        })
    # The original declares this conv's input as width(2); what arrives is the last block's width(1). They are
    # equal whenever the original runs (channel_max caps both), and width(1) keeps narrow test models working.
    blocks["4x4"] = nn.ModuleDict({"Conv": ConvLayer(width(1), width(1), 3)})
    return nn.ModuleDict(blocks)


def _run_trunk(trunk: nn.ModuleDict, x: torch.Tensor, resolution: int,
               skips: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
    """``x [B, C, R, R]`` through ``FromRGB``, every block and the final ``4x4`` conv -> ``[B, c, 4, 4]``.

    Each block's ``Conv0`` output is stored in ``skips[level]`` when ``skips`` is given.
    """
    levels = encoder_levels(resolution)
    x = trunk[f"{_name(levels[0])}_0"]["FromRGB"](x)
    for level in levels:
        block = trunk[_name(level)]
        x = block["Conv0"](x)
        if skips is not None:
            skips[level] = x
        x = block["Conv1_down"](x)
    return trunk["4x4"]["Conv"](x)


def _check_input(x: torch.Tensor, channels: int, resolution: int, name: str, hint: str) -> None:
    check_shape(x, ("B", channels, resolution, resolution), name, hint=hint)


class GlobalStyleEncoder(nn.Module):
    """RGBD image -> the global code: ``[B, C, R, R]`` in [-1, 1] -> ``[B, channels_at(1)]`` (512 by default).

    The last layer is ``Dropout(dropout)`` as in the original. It is applied (see :meth:`forward`)
    with an explicit keep mask, with a mask drawn from a ``torch.Generator``, or, in training mode
    without either, exactly as ``nn.Dropout`` would (torch's global RNG).
    """

    def __init__(self, resolution: int = 128, in_channels: int = 4, channel_base: int = 4096, channel_max: int = 512,
                 dropout: float = 0.5):
        super().__init__()
        self.resolution, self.in_channels, self.dropout = resolution, in_channels, dropout
        self.E = _build_trunk(in_channels, resolution, channel_base, channel_max)
        width = channels_at(1, channel_base, channel_max)
        self.E["4x4"]["Dense0"] = EqualLinear(width * 4 * 4, width, activation=True)
        self.code_dim = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, C, R, R]`` in [-1, 1] -> the code before dropout ``[B, code_dim]``."""
        _check_input(x, self.in_channels, self.resolution, "style encoder input", " (RGBD in [-1, 1])")
        x = _run_trunk(self.E, x, self.resolution)
        return self.E["4x4"]["Dense0"](x.view(x.shape[0], -1))

    def forward(self, x: torch.Tensor, keep_mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``x [B, C, R, R]`` in [-1, 1] -> the global code ``[B, code_dim]``.

        Dropout: ``keep_mask [B or 1, code_dim]`` (bool or 0/1), if given, is applied in any mode
        (``code * keep / (1 - p)``); otherwise in training mode a mask is drawn, from ``generator``
        if given, else as ``nn.Dropout`` draws it; in eval mode no dropout.
        """
        code = self.features(x)
        if keep_mask is not None:
            check_shape(keep_mask, [("B", self.code_dim), (1, self.code_dim)], "keep_mask",
                        sizes={"B": code.shape[0]}, hint=" (dropout keep mask)")
            return code * keep_mask.to(code.dtype).div(1 - self.dropout)
        if not self.training or self.dropout == 0:
            return code
        if generator is None:
            return F.dropout(code, self.dropout, training=True)
        keep = torch.empty(code.shape, dtype=code.dtype, device=generator.device)
        keep = keep.bernoulli_(1 - self.dropout, generator=generator).to(code.device)
        return code * keep.div_(1 - self.dropout)


class FeatureEncoder(nn.Module):
    """The conditioning image -> multi-scale features: ``[B, C, R, R]`` in [-1, 1] -> ``{level: [B, c, 2^level, ...]}``.

    Levels ``log2(R) .. 3`` hold each block's ``Conv0`` output (``channels_at(level - 1)`` channels
    at ``2^level``); level 2 holds the final ``4 x 4`` features (``channels_at(1)`` channels), the
    synthesis network's input. The original defines an unused dropout here; it has no weights and
    is left out.
    """

    def __init__(self, resolution: int = 128, in_channels: int = 5, channel_base: int = 8192, channel_max: int = 512):
        super().__init__()
        self.resolution, self.in_channels = resolution, in_channels
        self.E = _build_trunk(in_channels, resolution, channel_base, channel_max)

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        _check_input(x, self.in_channels, self.resolution, "feature encoder input",
                     " (2 * [rgb * mask, disparity * mask, mask] - 1)")
        features: dict[int, torch.Tensor] = {}
        features[2] = _run_trunk(self.E, x, self.resolution, features)
        return features


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then ``num_layers`` equalized dense layers with leaky ReLU: ``[B, D] -> [B, D]``.

    Weights use ``lr_mul`` (0.01 in the original). Keys: ``G_mapping.Dense{i}.weight`` / ``.bias``.
    """

    def __init__(self, latent_dim: int = 512, num_layers: int = 8, lr_mul: float = 0.01):
        super().__init__()
        self.latent_dim = latent_dim
        layers: OrderedDict[str, nn.Module] = OrderedDict(Normalize=PixelNorm())
        for index in range(num_layers):
            layers[f"Dense{index}"] = EqualLinear(latent_dim, latent_dim, lr_mul=lr_mul, activation=True)
        self.G_mapping = nn.Sequential(layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_shape(z, ("B", self.latent_dim), "latent z")
        return self.G_mapping(z)
