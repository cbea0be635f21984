"""Infinite Nature's networks, matching the TensorFlow originals: SPADE generator, style encoder,
patch discriminators, and their TF-style layers ("SAME" padding, TF-order instance norm)."""

from viewgen.networks.infinite_nature.discriminator import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminator,
    PatchDiscriminatorConfig,
)
from viewgen.networks.infinite_nature.spade import Spade, SpadeResBlock
from viewgen.networks.infinite_nature.spade_generator import SpadeGenerator, SpadeGeneratorConfig
from viewgen.networks.infinite_nature.style_encoder import StyleEncoder, StyleEncoderConfig

__all__ = [
    "MultiScaleDiscriminator", "MultiScaleDiscriminatorConfig", "PatchDiscriminator", "PatchDiscriminatorConfig",
    "Spade", "SpadeGenerator", "SpadeGeneratorConfig", "SpadeResBlock", "StyleEncoder", "StyleEncoderConfig",
]
