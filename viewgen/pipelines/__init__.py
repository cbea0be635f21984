"""Pipelines: where depth, rendering and networks meet.

* :class:`FlyThroughPipeline`: Infinite Nature's perpetual fly-through (encode the style once,
  then autopilot -> warp -> refine -> rescale, frame after frame).
The camera controllers it flies with live in :mod:`viewgen.control`, its refiners in
:mod:`viewgen.refiners`; their main names are re-exported here.
"""

from viewgen.control.base import CameraController
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.control.registry import CONTROLLER_NAMES, make_controller
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.pipelines.fly_through import FlyThroughConfig, FlyThroughPipeline, Frame, MissingWeightsError

__all__ = [
    "CONTROLLER_NAMES",
    "CameraController",
    "FlyDynamic",
    "FlyDynamicConfig",
    "FlyThroughConfig",
    "FlyThroughPipeline",
    "Frame",
    "MissingWeightsError",
    "make_controller",
    "rescale_refined_disparity",
]
