"""Camera controllers, the "schedulers" of a flight: each picks the next camera of a flight.

* :mod:`~viewgen.control.base`: the :class:`CameraController` interface and its shared checks.
* :mod:`~viewgen.control.fly_dynamic`: Infinite Nature's autopilot (:class:`FlyDynamic`).
* :mod:`~viewgen.control.zero_autopilot`: Infinite Nature Zero's autopilot (:class:`ZeroAutopilot`).
* :mod:`~viewgen.control.scripted`: scripted paths (straight, zoom-in, dolly, swing, circle).
* :mod:`~viewgen.control.registry`: controllers by name (:func:`make_controller`).
* :mod:`~viewgen.control.replay`: :class:`ReplayPath`, a given list of poses (evaluation along a
  ground-truth path); not in the registry, since no name and numbers can give it its poses.
"""

from viewgen.control.base import CameraController
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.control.registry import CONTROLLER_NAMES, make_controller
from viewgen.control.replay import ReplayPath, ReplayPathConfig
from viewgen.control.zero_autopilot import ZeroAutopilot, ZeroAutopilotConfig, ZeroAutopilotState

__all__ = ["CONTROLLER_NAMES", "CameraController", "FlyDynamic", "FlyDynamicConfig", "ReplayPath", "ReplayPathConfig",
           "ZeroAutopilot", "ZeroAutopilotConfig", "ZeroAutopilotState", "make_controller"]
