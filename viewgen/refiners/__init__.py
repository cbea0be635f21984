"""Refiners: what re-imagines a warped frame in the flight loop (fills holes, adds detail).

* :mod:`~viewgen.refiners.base`: the :class:`Refiner` interface.
* :mod:`~viewgen.refiners.spade`: Infinite Nature's learned refiner (style encoder + SPADE generator).
* :mod:`~viewgen.refiners.stylegan`: Infinite Nature Zero's refiner (softmax splat + co-modulated StyleGAN2).
* :mod:`~viewgen.refiners.classical`: the weight-free refiner (nearest-pixel hole filling; its flight's
  memory, :class:`~viewgen.memory.WorldPrior`, does the rest) and the classical inpainting refiner.
"""

from viewgen.refiners.base import Refiner, RefinerBase
from viewgen.refiners.spade import SpadeRefiner
from viewgen.refiners.stylegan import StyleGANRefiner, StyleGANRefinerConfig

__all__ = ["Refiner", "RefinerBase", "SpadeRefiner", "StyleGANRefiner", "StyleGANRefinerConfig"]
