"""Refiners: what re-imagines a warped frame in the flight loop (fills holes, adds detail).

* :mod:`~viewgen.refiners.base`: the :class:`Refiner` interface.
* :mod:`~viewgen.refiners.spade`: Infinite Nature's learned refiner (style encoder + SPADE generator).
* :mod:`~viewgen.refiners.classical`: the weight-free refiner (inpainting, sky model, surface texture).
"""

from viewgen.refiners.base import Refiner, RefinerBase
from viewgen.refiners.spade import SpadeRefiner

__all__ = ["Refiner", "RefinerBase", "SpadeRefiner"]
