"""Networks of viewgen: SPADE refinement generator, style encoder, patch discriminators.

Networks know nothing of cameras or files. All images are NCHW, RGB(D) in [0, 1] at the
boundaries. Each saveable network has a frozen dataclass config and
``save_pretrained(dir)`` / ``from_pretrained(dir)`` (``config.json`` + ``model.safetensors``).
"""

from viewgen.networks.discriminator import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminator,
    PatchDiscriminatorConfig,
)
from viewgen.networks.pretrained import PretrainedMixin, StateDictMismatchError
from viewgen.networks.spade import Spade, SpadeResBlock
from viewgen.networks.spade_generator import SpadeGenerator, SpadeGeneratorConfig
from viewgen.networks.style_encoder import StyleEncoder, StyleEncoderConfig

__all__ = [
    "MultiScaleDiscriminator",
    "MultiScaleDiscriminatorConfig",
    "PatchDiscriminator",
    "PatchDiscriminatorConfig",
    "PretrainedMixin",
    "Spade",
    "SpadeGenerator",
    "SpadeGeneratorConfig",
    "SpadeResBlock",
    "StateDictMismatchError",
    "StyleEncoder",
    "StyleEncoderConfig",
]
