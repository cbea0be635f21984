"""Pipelines: where depth, rendering and networks meet.

* :class:`FlyThroughPipeline`: Infinite Nature's perpetual fly-through (encode the style once,
  then autopilot -> warp -> refine -> rescale, frame after frame).
* :mod:`~viewgen.pipelines.autopilot` and :mod:`~viewgen.pipelines.trajectories`: the camera
  controllers it flies with (:func:`make_controller`).
"""

from viewgen.pipelines.autopilot import FlyDynamic, FlyDynamicConfig
from viewgen.pipelines.controller import CameraController
from viewgen.pipelines.fly_through import FlyThroughConfig, FlyThroughPipeline, Frame, MissingWeightsError
from viewgen.pipelines.rescale import rescale_refined_disparity
from viewgen.pipelines.trajectories import CONTROLLER_NAMES, make_controller

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
