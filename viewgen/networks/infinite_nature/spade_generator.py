"""The Infinite Nature refinement network: a SPADE generator conditioned on the warped RGBD."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from viewgen.networks.infinite_nature.layers import leaky_relu, sn_conv, upsample_nearest_2x
from viewgen.networks.infinite_nature.spade import SpadeResBlock
from viewgen.networks.pretrained import PretrainedMixin

NUM_MIDDLE_BLOCKS = 2


@dataclass(frozen=True)
class SpadeGeneratorConfig:
    """Shape of a :class:`SpadeGenerator`; the defaults are the released 160x256 model.

    Attributes:
        image_size: (H, W) of the output; must be divisible by ``upsampling_factor`` and at
            least twice it (the start map needs 2x2 pixels for reflect padding).
        style_dim: size of the style code.
        base_channels: channels of the start map and of ``head`` / ``middle_*``.
        up_channels: output channels of ``up_0, up_1, ...``; one x2 upsampling precedes each,
            plus one before ``middle_0``.
        spade_hidden_channels: hidden width inside every SPADE layer.
        rgbd_channels: channels of the warped input and of the output (RGB + disparity).
        spectral_norm: wrap the resblock and output convs in spectral normalization
            (training only; converted weights have it baked in and need ``False``).
    """

    image_size: tuple[int, int] = (160, 256)
    style_dim: int = 256
    base_channels: int = 512
    up_channels: tuple[int, ...] = (256, 128, 64, 32)
    spade_hidden_channels: int = 128
    rgbd_channels: int = 4
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        height, width = self.image_size
        if height % self.upsampling_factor or width % self.upsampling_factor:
            raise ValueError(f"image_size {self.image_size} is not divisible by {self.upsampling_factor}")
        if min(self.start_size) < 2:  # reflect padding by 1 needs 2 pixels
            raise ValueError(f"image_size {self.image_size} gives start size {self.start_size}, under 2x2")

    @property
    def upsampling_factor(self) -> int:
        """Ratio of output size to start size: ``2 ** (len(up_channels) + 1)`` (32 by default)."""
        return 2 ** (len(self.up_channels) + 1)

    @property
    def start_size(self) -> tuple[int, int]:
        """(h0, w0) of the map the style code is expanded to (5x8 by default)."""
        return self.image_size[0] // self.upsampling_factor, self.image_size[1] // self.upsampling_factor

    @property
    def condition_channels(self) -> int:
        """RGBD mapped to [-1, 1] plus the mask."""
        return self.rgbd_channels + 1


class SpadeGenerator(PretrainedMixin, nn.Module):
    """Refine a warped, partly empty RGBD frame, given its validity mask and a style code.

    ``fc_expand_z`` maps the style to a ``[B, base_channels, h0, w0]`` map (its output is
    laid out in TensorFlow's (h, w, c) order, reshaped here), which SPADE resblocks
    ``head``, ``middle_0``, ``middle_1``, ``up_0`` ... upsample to full size. Every SPADE
    layer sees the condition ``cat(2 * rgbd - 1, mask)``. The output conv is followed by
    ``(tanh + 1) / 2``.
    """

    config_class = SpadeGeneratorConfig

    def __init__(self, config: SpadeGeneratorConfig | None = None):
        super().__init__()
        self.config = config = config or SpadeGeneratorConfig()
        height0, width0 = config.start_size
        self.fc_expand_z = nn.Linear(config.style_dim, height0 * width0 * config.base_channels)

        def block(c_in: int, c_out: int) -> SpadeResBlock:
            hidden = config.spade_hidden_channels
            return SpadeResBlock(c_in, c_out, config.condition_channels, hidden, config.spectral_norm)

        base = config.base_channels
        self.head = block(base, base)
        self.middle = nn.ModuleList(block(base, base) for _ in range(NUM_MIDDLE_BLOCKS))
        widths = (base, *config.up_channels)
        self.up = nn.ModuleList(block(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:]))
        self.conv_out = sn_conv(widths[-1], config.rgbd_channels, 3, spectral_norm=config.spectral_norm)

    def forward(
        self, rgbd: torch.Tensor, mask: torch.Tensor, style: torch.Tensor, return_intermediates: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Refine ``rgbd``.

        Args:
            rgbd: ``[B, 4, H, W]`` warped RGBD in [0, 1], already multiplied by the mask.
            mask: ``[B, 1, H, W]``, 1 where the warp is valid (soft values allowed).
            style: ``[B, style_dim]`` style code (the encoder's mu at inference).
            return_intermediates: also return a dict of inner activations: ``fc_expand_z``
                ``[B, h0*w0*C]`` (TF (h, w, c) order), then ``head``, ``middle_0``,
                ``middle_1``, ``up_0``, ... as NCHW maps.

        Returns:
            ``[B, 4, H, W]`` refined RGBD in (0, 1) (and the dict if asked).
        """
        condition = torch.cat([2 * rgbd - 1, mask], dim=1)
        height0, width0 = self.config.start_size
        expanded = self.fc_expand_z(style)
        x = expanded.view(-1, height0, width0, self.config.base_channels).permute(0, 3, 1, 2)
        intermediates = {"fc_expand_z": expanded}
        x = intermediates["head"] = self.head(x, condition)
        x = upsample_nearest_2x(x)
        for index, block in enumerate(self.middle):
            x = intermediates[f"middle_{index}"] = block(x, condition)
        for index, block in enumerate(self.up):
            x = intermediates[f"up_{index}"] = block(upsample_nearest_2x(x), condition)
        output = (torch.tanh(self.conv_out(leaky_relu(x))) + 1) / 2
        return (output, intermediates) if return_intermediates else output
