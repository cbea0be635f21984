"""A world that persists, in the web demo: the "Remember the world" choice and "Fly back".

* **Remember the world** (``{"type": "world_memory", "on": bool}``): the session's next flight (Restart, a
  sample, an upload) flies with :class:`~viewgen.memory.world.WorldMemory` instead of the pipeline's own
  memory, chosen by :func:`~viewgen.memory.world.memory_named` exactly as ``viewgen fly --memory world`` does
  (the weight-free flight keeps its procedural world prior as the fallback). The flight in progress keeps its
  memory: ``state`` says both, ``remember_world`` (the choice) and ``world_memory`` (the flight's).
* **Fly back** (``{"type": "fly_back"}``): the flight plays back along the cameras it flew, in reverse, to
  frame 0's camera: the pipeline's controller becomes a :class:`~viewgen.control.replay.ReplayPath` over them
  (:meth:`~viewgen.pipelines.FlyThroughPipeline.set_controller`). Steering and speed mean nothing to it. At
  frame 0's camera the flight stops with a notice giving the PSNR of the returned frame against frame 0 (the
  loop closure); Restart (or another image) flies the autopilot again. ``state`` says ``flying_back``.

A driver offers them with :attr:`~viewgen.server.flight.FlightDriver.memory_choice` and
:attr:`~viewgen.server.flight.FlightDriver.can_fly_back` (Infinite Nature and Infinite Nature Zero both do);
a driver without them refuses the commands. :class:`WorldControls` is the event
loop's side (a session's choices); :class:`FlownPath` the worker thread's (a flight's cameras).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from viewgen.control.replay import ReplayPath
from viewgen.evaluation.metrics import masked_psnr
from viewgen.server.commands import CommandError

__all__ = ["WORLD_COMMANDS", "FlownPath", "WorldControls", "loop_closure_psnr"]

WORLD_COMMANDS = ("world_memory", "fly_back")


class WorldControls:
    """One session's world choices, on the event loop: ``driver`` is the session's
    :class:`~viewgen.server.flight.FlightDriver` class (what its model offers)."""

    def __init__(self, driver) -> None:
        self.label, self.memory_choice, self.can_fly_back = driver.label, driver.memory_choice, driver.can_fly_back
        self.remember = False  # "Remember the world": applies from the next start
        self.flight_remembers = False  # the memory of the flight in progress
        self.flying_back = False  # since Fly back, until the next start
        self._wanted = False  # a Fly back that no step has begun yet

    def command(self, kind: str, message: Mapping[str, Any], flown: int | None) -> bool:
        """Apply ``world_memory`` or ``fly_back``; ``flown``: frames flown in the flight in progress (None while
        there is none, or an image loads). -> whether the flight should play (Fly back flies at once)."""
        if kind == "world_memory":
            if not self.memory_choice:
                raise CommandError(f"{self.label} has no memory choice: its loop keeps the last frame")
            self.remember = bool(message.get("on"))
            return False
        if not self.can_fly_back:
            raise CommandError(f"{self.label} cannot fly back: its pipeline cannot change its camera path mid-flight")
        if flown is None:
            raise CommandError("no flight to fly back along: wait for the image to load")
        if flown == 0 and not self.flying_back:
            raise CommandError("nothing to fly back along yet: fly a few frames first")
        self._wanted = self._wanted or not self.flying_back
        self.flying_back = True
        return True

    def started(self, remembered: bool) -> None:
        """A new flight started (its memory: the world when ``remembered``), flying the autopilot."""
        self.flight_remembers, self.flying_back, self._wanted = remembered, False, False

    def take_fly_back(self) -> bool:
        """Whether the next step begins the fly-back (asked once)."""
        wanted, self._wanted = self._wanted, False
        return wanted

    def state(self, stopped: bool) -> dict:
        """The ``state`` message's part; a flight that arrived (``stopped``) is no longer flying back."""
        return {"remember_world": self.remember, "world_memory": self.flight_remembers,
                "flying_back": self.flying_back and not stopped}


class FlownPath:
    """One flight's cameras, in the worker thread: frame 0 (a :class:`~viewgen.pipelines.outputs.Frame`), the
    ``cam_from_world [3, 4]`` of every frame flown since, and the replay back once :meth:`fly_back` began it.

    ``remembers_world``: whether the flight flies with the world memory (said in the arrival notice).
    """

    def __init__(self, first, remembers_world: bool) -> None:
        self.first, self.remembers_world = first, remembers_world
        self.poses = [first.cam_from_world.detach().clone()]
        self.replay: ReplayPath | None = None

    def fly_back(self, pipeline) -> None:
        """From the next step, fly ``pipeline`` (one with ``set_controller``) back along the cameras flown so far."""
        if self.replay is None:
            self.replay = ReplayPath(torch.stack(self.poses[::-1]))
            pipeline.set_controller(self.replay)

    def passed(self, frame) -> str | None:
        """Note ``frame`` (just flown); on arrival at frame 0's camera, the notice (the flight stops there)."""
        if self.replay is None:
            self.poses.append(frame.cam_from_world.detach().clone())
            return None
        if self.replay.frame_index < len(self.replay) - 1:
            return None
        psnr = loop_closure_psnr(self.first.rgbd, frame.rgbd)
        closeness = "identical to frame 0" if psnr == float("inf") else f"{psnr:.1f} dB PSNR against frame 0"
        memory = ("with the world remembered" if self.remembers_world
                  else 'without "Remember the world" (turn it on and Restart to compare)')
        out = f"{len(self.poses) - 1} frame{'' if len(self.poses) == 2 else 's'}"
        return (f"Back at frame 0's camera after {out} out and as many back: the view is {closeness}, {memory}. "
                "Press Restart to fly again.")


def loop_closure_psnr(first_rgbd: Tensor, returned_rgbd: Tensor) -> float:
    """PSNR (dB, ``inf`` if identical) of the returned frame's RGB against frame 0's (``[1, 4, H, W]`` each).

    The ``psnr_db`` of :func:`viewgen.evaluation.loop_closure.loop_closure_error`, computed as
    :func:`~viewgen.evaluation.metrics.masked_psnr` over every pixel: the same number without torchmetrics
    (the ``eval`` extra, which ``viewgen[serve]`` does not bring).
    """
    every_pixel = torch.ones_like(first_rgbd[:, :1])
    return float(masked_psnr(returned_rgbd[:, :3].float(), first_rgbd[:, :3].float(), every_pixel.float())[0])
