"""Infinite Nature Zero's refiner network: a co-modulated StyleGAN2 generator (``co_mod_gan.Generator``).

::

    global_code = style_encoder(2 * rgbd - 1)                 [B, 512]    once per flight
    features    = feature_encoder(2 * condition - 1)          {7: [B,128,128,128], ..., 2: [B,512,4,4]}
    w           = mapping(z)                                  [B, 512]    z ~ N(0, I), fixed per flight
    w           = mean + psi * (w - mean)                     truncation (psi 0.7 in the original's flights)
    rgbd_next   = synthesis([w] * 12, global_code, features)  [B, 4, 128, 128] in [0, 1]

``condition`` is ``[rgb * mask, disparity * mask, mask]`` of the warped frame (5 channels, [0, 1]).
Submodule names are the original's (``G_mapping``, ``style_encoder``, ``feature_encoder``,
``G_synthesis``), so its ``netG_ema`` state dict loads without renaming
(:func:`~viewgen.networks.stylegan2.checkpoint.load_original_checkpoint`).

Randomness is explicit: spatial noise maps (``noise``, or drawn from ``noise_generator``), the
dropout keep mask of the global code (``keep_mask``, or drawn from ``generator``), and the
samples of :meth:`CoModGenerator.mean_latent`. The original runs the generator in training mode
(dropout on); with no mask and no generator, training mode here draws the mask exactly as it does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from viewgen.checks import check_shape
from viewgen.networks.pretrained import PretrainedMixin
from viewgen.networks.stylegan2.encoders import FeatureEncoder, GlobalStyleEncoder, MappingNetwork, channels_at
from viewgen.networks.stylegan2.synthesis import SynthesisNetwork

__all__ = ["CoModGenerator", "CoModGeneratorConfig"]

TRUNCATION_OFF = 0.999  # the original truncates only when psi < 0.999


@dataclass(frozen=True)
class CoModGeneratorConfig:
    """Shape of a :class:`CoModGenerator`; the defaults are the released 128x128 model (65.2M parameters).

    Attributes:
        resolution: side of the square input and output images (a power of two, at least 8).
        latent_dim: size of z and w.
        mapping_layers: dense layers of the mapping network.
        mapping_lr_mul: learning-rate multiplier of the mapping network (scales weights and biases).
        channel_base: width rule of the feature encoder and synthesis network:
            ``clip(channel_base / 2**stage, 1, channel_max)`` at ``stage = log2(res) - 1``.
        style_channel_base: the same rule for the global style encoder (half as wide).
        channel_max: the widest layer.
        image_channels: channels of the style encoder's input and of the output (RGB + disparity).
        dropout: dropout rate on the global code.
    """

    resolution: int = 128
    latent_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    channel_base: int = 8192
    style_channel_base: int = 4096
    channel_max: int = 512
    image_channels: int = 4
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two of at least 8, got {self.resolution}")
        for name in ("latent_dim", "mapping_layers", "channel_base", "style_channel_base", "channel_max",
                     "image_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def num_layers(self) -> int:
        """Styles the synthesis network takes: ``2 * log2(resolution) - 2`` (12 for 128)."""
        return 2 * int(math.log2(self.resolution)) - 2

    @property
    def code_dim(self) -> int:
        """Size of the global code: the style encoder's width at stage 1 (512 by default)."""
        return channels_at(1, self.style_channel_base, self.channel_max)

    @property
    def condition_channels(self) -> int:
        """Channels of the feature encoder's input: ``image_channels + 1`` (the mask)."""
        return self.image_channels + 1


class CoModGenerator(PretrainedMixin, nn.Module):
    """The co-modulated generator of Infinite Nature Zero (see the module doc for the data flow).

    Images at the public methods are in [0, 1] (:meth:`encode_style`, :meth:`encode_features`,
    the output of :meth:`forward`); the submodules take the networks' range [-1, 1].
    """

    config_class = CoModGeneratorConfig

    def __init__(self, config: CoModGeneratorConfig | None = None):
        super().__init__()
        self.config = config = config or CoModGeneratorConfig()
        self.G_mapping = MappingNetwork(config.latent_dim, config.mapping_layers, config.mapping_lr_mul)
        self.style_encoder = GlobalStyleEncoder(config.resolution, config.image_channels, config.style_channel_base,
                                                config.channel_max, config.dropout)
        self.feature_encoder = FeatureEncoder(config.resolution, config.condition_channels, config.channel_base,
                                              config.channel_max)
        self.G_synthesis = SynthesisNetwork(config.resolution, config.latent_dim, config.code_dim,
                                            config.channel_base, config.channel_max, config.image_channels)

    @property
    def noise_names(self) -> tuple[str, ...]:
        """Names of the spatial noise inputs, in the order :meth:`forward` takes them."""
        return self.G_synthesis.noise_names

    def make_noise(self, batch: int = 1, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Fresh spatial noise ``[batch, 1, s, s]`` per injection point (fixed noise for a whole flight)."""
        return self.G_synthesis.make_noise(batch, generator, self._device())

    def _device(self) -> torch.device:
        return self.G_synthesis.G_4x4.ToRGB.bias.device

    def encode_style(self, rgbd: torch.Tensor, keep_mask: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """``rgbd [B, C, R, R]`` in [0, 1] -> global code ``[B, code_dim]`` (dropout: see
        :meth:`GlobalStyleEncoder.forward <viewgen.networks.stylegan2.encoders.GlobalStyleEncoder.forward>`)."""
        check_shape(rgbd, ("B", self.config.image_channels, self.config.resolution, self.config.resolution), "rgbd",
                    hint=" (RGB + disparity in [0, 1])")
        return self.style_encoder(rgbd * 2.0 - 1.0, keep_mask=keep_mask, generator=generator)

    def encode_features(self, condition: torch.Tensor) -> dict[int, torch.Tensor]:
        """``condition [B, C + 1, R, R]`` = ``[rgb * mask, disparity * mask, mask]`` in [0, 1] -> encoder features."""
        return self.feature_encoder(condition * 2.0 - 1.0)

    def mean_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Average ``w`` of ``n`` samples of ``z ~ N(0, I)`` (drawn from ``generator``, else torch's global RNG):
        ``[1, latent_dim]``, the centre of truncation. The original uses ``n = 50000``."""
        if n < 1:
            raise ValueError(f"mean_latent needs at least one sample, got n={n}")
        source = generator.device if generator is not None else self._device()
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=source).to(self._device())
        return self.G_mapping(z).mean(0, keepdim=True)

    def map_latents(self, latents: Sequence[torch.Tensor], truncation: float = 1.0,
                    truncation_mean: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Each ``z [B, D]`` -> ``w [B, D]``, truncated towards ``truncation_mean [1 or B, D]`` when ``truncation``
        is under 0.999 (as the original: ``mean + psi * (w - mean)``)."""
        if isinstance(latents, torch.Tensor) or not 1 <= len(latents) <= 2:
            raise ValueError("latents must be a list of one z tensor [B, latent_dim] (or two, for style mixing)")
        dlatents = [self.G_mapping(z) for z in latents]
        if truncation is not None and truncation < TRUNCATION_OFF:
            if truncation_mean is None:
                raise ValueError(f"truncation {truncation} needs truncation_mean: pass mean_latent(n)")
            check_shape(truncation_mean, ("...", self.config.latent_dim), "truncation_mean")
            dlatents = [truncation_mean + truncation * (w - truncation_mean) for w in dlatents]
        return dlatents

    def broadcast(self, dlatents: Sequence[torch.Tensor], inject_index: int | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """One ``w [B, D]`` per synthesis layer: ``[B, num_layers, D]``. With two latents, layers from
        ``inject_index`` on take the second (style mixing; drawn from ``generator`` in ``[1, L - 1]`` if None)."""
        layers = self.config.num_layers
        if len(dlatents) == 1:
            return dlatents[0].unsqueeze(1).repeat(1, layers, 1)
        if inject_index is None:
            inject_index = int(torch.randint(1, layers, (1,), generator=generator))
        if not 0 <= inject_index <= layers:
            raise ValueError(f"inject_index must be in [0, {layers}], got {inject_index}")
        head = dlatents[0].unsqueeze(1).repeat(1, inject_index, 1)
        return torch.cat([head, dlatents[1].unsqueeze(1).repeat(1, layers - inject_index, 1)], 1)

    def forward(self, features: dict[int, torch.Tensor], global_code: torch.Tensor, latents: Sequence[torch.Tensor],
                truncation: float = 1.0, truncation_mean: torch.Tensor | None = None, inject_index: int | None = None,
                noise: Sequence[torch.Tensor | None] | None = None,
                noise_generator: torch.Generator | None = None,
                kernels: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Refined RGBD ``[B, C, R, R]`` in [0, 1] (the original's ``Generator.forward``).

        ``features``: :meth:`encode_features`' output; ``global_code [B, code_dim]``: :meth:`encode_style`'s;
        ``latents``: ``[z]`` with ``z [B, latent_dim]``; ``truncation`` / ``truncation_mean``: see
        :meth:`map_latents`; ``noise``: one map per :attr:`noise_names` entry, or ``None`` to draw
        fresh noise from ``noise_generator`` (torch's global RNG if ``None``); ``kernels``: :meth:`style_kernels`
        of the same style, when computed already.
        """
        dlatents = self.map_latents(latents, truncation, truncation_mean)
        styles = self.broadcast(dlatents, inject_index, noise_generator)
        return self.G_synthesis(styles, global_code, features, noise=noise, generator=noise_generator, kernels=kernels)

    def style_kernels(self, global_code: torch.Tensor, latent: torch.Tensor, truncation: float = 1.0,
                      truncation_mean: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The modulated convs' per-sample kernels of one style (``global_code [B, C]``, one ``latent [B, D]``):
        what :meth:`forward` would compute from them at every call, for a caller whose style stays fixed."""
        dlatents = self.map_latents([latent], truncation, truncation_mean)
        return self.G_synthesis.sample_kernels(self.broadcast(dlatents, None, None), global_code)
