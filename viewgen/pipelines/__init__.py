"""Pipelines: where depth, rendering and networks meet.

* :class:`FlyThroughPipeline`: Infinite Nature's perpetual fly-through (encode the style once,
  then controller -> memory.render -> refiner.refine -> memory.add, frame after frame);
  ``__call__`` returns a :class:`FlightOutput` of :class:`Frame`.
* :class:`InfiniteNatureZeroPipeline`: Infinite Nature Zero's flight (its autopilot, sky dome, softmax
  splat, StyleGAN2 refiner and sky correction), its own loop in :mod:`~viewgen.pipelines.infinite_nature_zero`.
The camera controllers it flies with live in :mod:`viewgen.control`, its memories in
:mod:`viewgen.memory`, its refiners in :mod:`viewgen.refiners`; their main names are
re-exported here.
"""

from viewgen.control.base import CameraController
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.control.registry import CONTROLLER_NAMES, make_controller
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.memory import Keyframes, LastFrame, Memory
from viewgen.pipelines.fly_through import FlyThroughConfig, FlyThroughPipeline, MissingWeightsError
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline
from viewgen.pipelines.outputs import FlightEvent, FlightOutput, Frame, ZeroFlightOutput, ZeroFrame

__all__ = [
    "CONTROLLER_NAMES",
    "CameraController",
    "FlightEvent",
    "FlightOutput",
    "FlyDynamic",
    "FlyDynamicConfig",
    "FlyThroughConfig",
    "FlyThroughPipeline",
    "Frame",
    "InfiniteNatureZeroConfig",
    "InfiniteNatureZeroPipeline",
    "Keyframes",
    "LastFrame",
    "Memory",
    "MissingWeightsError",
    "ZeroFlightOutput",
    "ZeroFrame",
    "make_controller",
    "rescale_refined_disparity",
]
