"""Camera controllers by name: the autopilot and the scripted paths (``--path`` of ``viewgen fly``)."""

from __future__ import annotations

import dataclasses

from torch import Tensor

from viewgen.control.base import CameraController
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.control.scripted import SCRIPTED_PATHS

__all__ = ["CONTROLLER_NAMES", "make_controller"]

CONTROLLER_NAMES: tuple[str, ...] = ("autopilot", *SCRIPTED_PATHS)


def _check_options(name: str, config_class: type, options: dict) -> None:
    valid = [field.name for field in dataclasses.fields(config_class)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for camera controller {name!r}; "
                         f"valid options: {', '.join(valid)}")


def make_controller(name: str, intrinsics: Tensor, cam_from_world: Tensor, **options) -> CameraController:
    """Build a camera controller by name: ``autopilot|straight|zoom-in|dolly|swing|circle``.

    Args:
        name: the controller name (see :data:`CONTROLLER_NAMES`).
        intrinsics: ``[4]`` ``[fx, fy, cx, cy]``; used by the autopilot, ignored by scripted paths.
        cam_from_world: start pose ``[3, 4]``.
        **options: fields of the controller's config (:class:`FlyDynamicConfig`,
            :class:`StraightConfig`, ...); unknown names raise ``ValueError``.
    """
    if name == "autopilot":
        _check_options(name, FlyDynamicConfig, options)
        return FlyDynamic(intrinsics, cam_from_world, **options)
    if name not in SCRIPTED_PATHS:
        raise ValueError(f"unknown camera controller {name!r}; valid names: {', '.join(CONTROLLER_NAMES)}")
    trajectory_class = SCRIPTED_PATHS[name]
    _check_options(name, trajectory_class.config_class, options)
    return trajectory_class(cam_from_world, trajectory_class.config_class(**options))
