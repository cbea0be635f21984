"""Networks of viewgen, one subpackage per model family (``infinite_nature/`` the SPADE refiner,
``stylegan2/`` Infinite Nature Zero's co-modulated generator, ``enr/``), and the shared
``save_pretrained`` / ``from_pretrained`` machinery (:mod:`~viewgen.networks.pretrained`).

Networks know nothing of cameras or files. All images are NCHW, RGB(D) in [0, 1] at the
boundaries. Each saveable network has a frozen dataclass config and
``save_pretrained(dir)`` / ``from_pretrained(dir)`` (``config.json`` + ``model.safetensors``).
"""

from viewgen.networks.infinite_nature import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminator,
    PatchDiscriminatorConfig,
    Spade,
    SpadeGenerator,
    SpadeGeneratorConfig,
    SpadeResBlock,
    StyleEncoder,
    StyleEncoderConfig,
)
from viewgen.networks.pretrained import PretrainedMixin, StateDictMismatchError
from viewgen.networks.stylegan2 import CoModGenerator, CoModGeneratorConfig

__all__ = [
    "CoModGenerator",
    "CoModGeneratorConfig",
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
