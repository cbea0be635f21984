"""The co-modulated synthesis network: encoder features + per-layer styles -> RGBD in [0, 1].

There is no constant input: the ``4 x 4`` block starts from the feature encoder's final map.
Every later block doubles the resolution (``Conv0_up``), adds the encoder skip of its resolution,
convolves again (``Conv1``) and adds its ``ToRGB`` output to the upsampled image so far (the
"skip" architecture). Each modulated layer's style is ``[w_i, global_code]`` (co-modulation):
the mapped latent of that layer followed by the global code of the style encoder.

Layer ``i`` of the ``2 * log2(R) - 2`` styles: block ``4x4`` uses 0 (``Conv``) and 1 (``ToRGB``);
block ``2^l`` uses ``2l - 5`` (``Conv0_up``), ``2l - 4`` (``Conv1``), ``2l - 3`` (``ToRGB``).
The ``ToRGB`` of one block and the ``Conv0_up`` of the next share an index, as in the original.

Spatial noise: one :class:`~viewgen.networks.stylegan2.layers.NoiseInjection` per ``StyledConv``,
named by :attr:`SynthesisNetwork.noise_names` (``"G_4x4.Conv"``, ``"G_8x8.Conv0_up"``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from viewgen.checks import check_shape
from viewgen.networks.stylegan2.encoders import channels_at
from viewgen.networks.stylegan2.layers import StyledConv, ToRGB

__all__ = ["SynthesisNetwork"]


class _FirstBlock(nn.Module):
    """``4 x 4``: styled conv on the encoder's final map, then ToRGB (no skip image yet)."""

    def __init__(self, channels: int, style_dim: int, image_channels: int):
        super().__init__()
        self.Conv = StyledConv(channels, channels, 3, style_dim)
        self.ToRGB = ToRGB(channels, style_dim, out_channels=image_channels, upsample=False)


class _UpBlock(nn.Module):
    """``2^l``: upsampling styled conv, + encoder skip, styled conv, ToRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, image_channels: int):
        super().__init__()
        self.Conv0_up = StyledConv(in_channels, out_channels, 3, style_dim, upsample=True)
        self.Conv1 = StyledConv(out_channels, out_channels, 3, style_dim)
        self.ToRGB = ToRGB(out_channels, style_dim, out_channels=image_channels)


def _co_style(dlatents: torch.Tensor, index: int, global_code: torch.Tensor) -> torch.Tensor:
    """``[w_index, global_code]``: ``[B, latent_dim + code_dim]``."""
    return torch.cat([dlatents[:, index], global_code], 1)


class SynthesisNetwork(nn.Module):
    """``dlatents [B, L, D]``, ``global_code [B, G]``, encoder features -> RGBD ``[B, C, R, R]`` in [0, 1].

    ``L = 2 * log2(R) - 2`` (12 for 128x128); channels of the block at ``2^l`` are
    ``channels_at(l - 1)``; the output is ``(tanh(y) + 1) / 2``. Submodules are named
    ``G_4x4``, ``G_8x8``, ... as in the original checkpoints.
    """

    def __init__(self, resolution: int = 128, latent_dim: int = 512, code_dim: int = 512, channel_base: int = 8192,
                 channel_max: int = 512, image_channels: int = 4):
        super().__init__()
        self.resolution, self.latent_dim, self.code_dim = resolution, latent_dim, code_dim
        self.log2_resolution = int(math.log2(resolution))
        self.num_layers = 2 * self.log2_resolution - 2
        self.channel_base, self.channel_max = channel_base, channel_max
        style_dim = latent_dim + code_dim
        self.G_4x4 = _FirstBlock(self.width(1), style_dim, image_channels)
        for level in self.levels:
            setattr(self, self._block_name(level),
                    _UpBlock(self.width(level - 2), self.width(level - 1), style_dim, image_channels))

    def width(self, stage: int) -> int:
        """Channels at ``stage``: :func:`~viewgen.networks.stylegan2.encoders.channels_at` with this network's base."""
        return channels_at(stage, self.channel_base, self.channel_max)

    @property
    def levels(self) -> range:
        """log2 resolutions of the upsampling blocks: ``3 .. log2(R)``."""
        return range(3, self.log2_resolution + 1)

    @staticmethod
    def _block_name(level: int) -> str:
        return f"G_{2**level}x{2**level}"

    @property
    def noise_names(self) -> tuple[str, ...]:
        """The noise injection points in order: ``("G_4x4.Conv", "G_8x8.Conv0_up", "G_8x8.Conv1", ...)``."""
        names = ["G_4x4.Conv"]
        for level in self.levels:
            names += [f"{self._block_name(level)}.Conv0_up", f"{self._block_name(level)}.Conv1"]
        return tuple(names)

    @property
    def noise_sizes(self) -> tuple[int, ...]:
        """Side length of each noise map, in :attr:`noise_names` order (4, 8, 8, 16, 16, ...)."""
        return (4, *(2**level for level in self.levels for _ in range(2)))

    def make_noise(self, batch: int = 1, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> list[torch.Tensor]:
        """Standard normal noise maps ``[batch, 1, s, s]``, one per injection point, drawn in order."""
        source = generator.device if generator is not None else device
        return [torch.randn(batch, 1, size, size, generator=generator, device=source).to(device or source)
                for size in self.noise_sizes]

    def _check_inputs(self, dlatents: torch.Tensor, global_code: torch.Tensor, features: dict[int, torch.Tensor],
                      noise: Sequence[torch.Tensor | None] | None) -> None:
        sizes = check_shape(dlatents, ("B", self.num_layers, self.latent_dim), "dlatents",
                            hint=" (one mapped latent per synthesis layer)")
        check_shape(global_code, ("B", self.code_dim), "global_code", sizes=sizes)
        levels = [2, *self.levels]
        if not isinstance(features, dict) or sorted(features) != sorted(levels):
            found = sorted(features) if isinstance(features, dict) else type(features).__name__
            raise ValueError(f"features must be the feature encoder's dict with levels {levels}, got {found}")
        for level in levels:
            check_shape(features[level], ("B", self.width(max(level - 1, 1)), 2**level, 2**level),
                        f"features[{level}]", sizes=sizes)
        if noise is not None and len(noise) != len(self.noise_names):
            raise ValueError(f"noise must hold {len(self.noise_names)} maps ({', '.join(self.noise_names)}) or "
                             f"None entries, got {len(noise)}")
        for name, size, value in zip(self.noise_names, self.noise_sizes, noise or ()):
            if value is not None:
                check_shape(value, ((1, sizes["B"]), 1, size, size), f"noise for {name}")

    def sample_kernels(self, dlatents: torch.Tensor, global_code: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every modulated conv's per-sample kernels for these styles, in the order :meth:`forward` takes them.

        ``dlatents [B, num_styles, D]``, ``global_code [B, C]``. A flight whose style is fixed computes them
        once instead of at every frame (the same arithmetic, so the same output bit for bit).
        """
        layers = [(self.G_4x4.Conv, 0), (self.G_4x4.ToRGB, 1)]
        for level in self.levels:
            block = getattr(self, self._block_name(level))
            layers += [(block.Conv0_up, 2 * level - 5), (block.Conv1, 2 * level - 4), (block.ToRGB, 2 * level - 3)]
        return tuple(layer.conv.sample_weights(_co_style(dlatents, index, global_code)) for layer, index in layers)

    def forward(self, dlatents: torch.Tensor, global_code: torch.Tensor, features: dict[int, torch.Tensor],
                noise: Sequence[torch.Tensor | None] | None = None,
                generator: torch.Generator | None = None,
                kernels: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Synthesize RGBD ``[B, C, R, R]`` in [0, 1].

        ``noise``: one map per :attr:`noise_names` entry (``[B or 1, 1, s, s]``), or ``None`` entries
        (or ``None`` for all) to draw fresh noise from ``generator`` (torch's global RNG if ``None``).
        ``kernels``: :meth:`sample_kernels` of these ``dlatents`` and ``global_code``, when computed already.
        """
        self._check_inputs(dlatents, global_code, features, noise)
        noise = list(noise) if noise is not None else [None] * len(self.noise_names)
        kernel = iter(kernels) if kernels is not None else None

        def next_kernel() -> torch.Tensor | None:
            return next(kernel) if kernel is not None else None

        first = self.G_4x4
        x = first.Conv(features[2], _co_style(dlatents, 0, global_code), noise[0], generator, next_kernel())
        image = first.ToRGB(x, _co_style(dlatents, 1, global_code), weight=next_kernel())
        for offset, level in enumerate(self.levels):
            block = getattr(self, self._block_name(level))
            style_up, style, style_rgb = (_co_style(dlatents, 2 * level - k, global_code) for k in (5, 4, 3))
            x = block.Conv0_up(x, style_up, noise[1 + 2 * offset], generator, next_kernel())
            x = x + features[level]
            x = block.Conv1(x, style, noise[2 + 2 * offset], generator, next_kernel())
            image = block.ToRGB(x, style_rgb, skip=image, weight=next_kernel())
        return (torch.tanh(image) + 1.0) / 2.0
