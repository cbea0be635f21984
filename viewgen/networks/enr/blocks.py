"""The building blocks of Equivariant Neural Rendering's networks, in 2D and 3D.

Apple's arithmetic exactly (Dupont et al., ICML 2020; ml-equivariant-neural-rendering), with
its module layout, so its checkpoints load key for key: every network keeps its layers in one
``nn.Sequential`` called ``forward_layers`` whose positions count activations too.

* :func:`group_count`: GroupNorm groups for a channel count (1, 2, 4, 8, 16 or 32);
* :class:`ResidualBlock`: pre-activation bottleneck, ``x + f(x)`` with
  ``f = GN, LReLU, 1x1 conv, GN, LReLU, 3x3 conv, GN, LReLU, 1x1 conv`` (convs without bias);
* :class:`StageNet`: a 1x1 stem, then stages ``res<C>`` (a residual block of bottleneck width C), ``down<C>``
  (conv k4 s2 p1 to C channels, GN, LReLU) and ``up<C>`` (its transpose), then an optional 1x1 head;
* :class:`FoldedConvs`: 1x1 convs with GN and LReLU between them (none after the last).

Stages are named by strings (``"res64"``, ``"down128"``, ``"up32"``) so a config reads as the
network it builds and saves as plain JSON; :func:`parse_stage` checks them.
"""

from __future__ import annotations

import re

from torch import Tensor, nn

__all__ = ["LEAKY_SLOPE", "STAGE_KINDS", "FoldedConvs", "ResidualBlock", "StageNet", "group_count", "parse_stage"]

LEAKY_SLOPE = 0.2
STAGE_KINDS = ("res", "down", "up")
_STAGE = re.compile(r"(res|down|up)([1-9][0-9]*)")
_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def group_count(channels: int) -> int:
    """GroupNorm groups for ``channels``: 1 below 8, 2 below 32, 4 below 64, 8 below 128, 16 below 256, else 32."""
    for bound, groups in ((8, 1), (32, 2), (64, 4), (128, 8), (256, 16)):
        if channels < bound:
            return groups
    return 32


def parse_stage(stage: str) -> tuple[str, int]:
    """``"down128"`` -> ``("down", 128)``; ``ValueError`` (one line) for anything else."""
    match = _STAGE.fullmatch(stage) if isinstance(stage, str) else None
    if match is None:
        raise ValueError(f"a stage is res<C>, down<C> or up<C> with C a whole number > 0, got {stage!r}")
    return match.group(1), int(match.group(2))


def _norm_act(channels: int) -> list[nn.Module]:
    return [nn.GroupNorm(group_count(channels), channels), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]


class _Bottleneck(nn.Module):
    """``f`` of :class:`ResidualBlock` (its own ``forward_layers``, as in Apple's key names)."""

    def __init__(self, dims: int, channels: int, width: int) -> None:
        super().__init__()
        conv = _CONV[dims]
        self.forward_layers = nn.Sequential(
            *_norm_act(channels), conv(channels, width, 1, bias=False),
            *_norm_act(width), conv(width, width, 3, padding=1, bias=False),
            *_norm_act(width), conv(width, channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_layers(x)


class ResidualBlock(nn.Module):
    """``x + f(x)``, ``f`` a pre-activation bottleneck of ``width`` channels; ``[B, C, *spatial]`` in and out."""

    def __init__(self, dims: int, channels: int, width: int) -> None:
        super().__init__()
        self.residual_layers = _Bottleneck(dims, channels, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual_layers(x)


class StageNet(nn.Module):
    """A 1x1 stem to the first stage's channels, the ``stages``, then a 1x1 head to ``head_channels`` (0: none).

    ``[B, in_channels, *spatial]`` -> ``[B, C or head_channels, *spatial']`` (``C``: the last ``down`` /
    ``up`` stage's channels, else the first stage's): each ``down`` halves every spatial side, each
    ``up`` doubles it. A ``res<C>`` stage keeps its input's channels and is a bottleneck of width
    ``C`` (Apple's configs use the input's width).
    """

    def __init__(self, dims: int, in_channels: int, stages: tuple[str, ...], head_channels: int = 0) -> None:
        super().__init__()
        if dims not in _CONV:
            raise ValueError(f"dims must be 2 or 3, got {dims}")
        parsed = [parse_stage(stage) for stage in stages]
        if not parsed:
            raise ValueError("a StageNet needs at least one stage")
        channels = parsed[0][1]
        layers: list[nn.Module] = [_CONV[dims](in_channels, channels, 1)]
        for kind, width in parsed:
            if kind == "res":
                layers.append(ResidualBlock(dims, channels, width))
                continue
            layer = _CONV[dims] if kind == "down" else _CONV_T[dims]
            layers += [layer(channels, width, 4, stride=2, padding=1), *_norm_act(width)]
            channels = width
        if head_channels:
            layers.append(_CONV[dims](channels, head_channels, 1))
        self.out_channels = head_channels or channels
        self.forward_layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_layers(x)


class FoldedConvs(nn.Module):
    """1x1 convs ``in_channels -> widths[0] -> ... -> widths[-1]`` with GN and LReLU between them, none after
    the last: ``[B, in_channels, H, W]`` -> ``[B, widths[-1], H, W]``."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be one or more whole numbers > 0, got {widths!r}")
        layers: list[nn.Module] = []
        for index, width in enumerate(widths):
            layers.append(nn.Conv2d(in_channels, width, 1))
            if index < len(widths) - 1:
                layers += _norm_act(width)
            in_channels = width
        self.forward_layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_layers(x)
