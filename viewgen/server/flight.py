"""The worker-thread side of a session: its pipeline, driven through a per-model driver, frames encoded as JPEG.

Every method of :class:`Flight` runs in a worker thread and blocks; :class:`~viewgen.server.sessions.Session`
calls them one at a time (it holds a lock), never on the event loop. Frames come back as ``Encoded``:
``(frame index, RGB JPEG, disparity JPEG or None)``.

A driver (:class:`FlightDriver`) adapts one pipeline family to the server: how a flight starts from an
``rgbd [1, 4, H, W]``, the size uploads are prepared at, and what a frame has to tell the page (a
:class:`FlightNotice`). :class:`FlyThroughDriver` drives Infinite Nature
(:class:`~viewgen.pipelines.FlyThroughPipeline`); :class:`~viewgen.server.zero_flight.ZeroDriver`
Infinite Nature Zero. Both pipelines share the rest: ``step(offset)``, ``frame`` (with ``index``, ``rgb
[1, 3, H, W]`` and ``disparity [1, 1, H, W]`` in [0, 1]), ``controller`` (the autopilot, with ``speed``
and ``set_speed``) and ``config.autopilot.speed``. Both offer the world memory and Fly back
(:mod:`viewgen.server.world_flight`): a driver says so with :attr:`FlightDriver.memory_choice` and
:attr:`FlightDriver.can_fly_back`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from viewgen.memory import WorldPrior
from viewgen.memory.world import memory_named
from viewgen.server.media import disparity_to_uint8, encode_jpeg, rgb_to_uint8
from viewgen.server.world_flight import FlownPath

__all__ = ["Encoded", "Flight", "FlightDriver", "FlightNotice", "FlyThroughDriver"]

Encoded = tuple[int, bytes, "bytes | None"]


@dataclass(frozen=True)
class FlightNotice:
    """What the page is told after a frame: ``message`` (one line); ``stopped``: the flight cannot go on
    until it starts again (Restart or another image)."""

    message: str
    stopped: bool


class FlightDriver:
    """How the server drives one pipeline family; one driver per session's pipeline.

    ``model`` (the ``viewgen serve --model`` name) and ``label`` (for people) name the family;
    ``memory_choice``: the flight may remember the world (:meth:`remember_world`); ``can_fly_back``: its
    pipeline can swap its controller mid-flight (``set_controller``).
    """

    model = ""
    label = ""
    memory_choice = False
    can_fly_back = False

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.own_memory = getattr(pipeline, "memory", None)  # the pipeline's own memory, before any choice

    def input_size(self) -> tuple[int, int]:
        """``(H, W)`` an uploaded photo is cropped (centred) and resized to before its flight starts."""
        raise NotImplementedError

    def reset(self, rgbd, intrinsics, speed: float) -> tuple[Any, tuple[str, ...]]:
        """Start at ``rgbd [1, 4, H, W]`` (RGB and disparity in [0, 1]; ``intrinsics [4]`` or None) with the
        autopilot at ``speed`` depth units per frame -> ``(frame 0, input warnings for the page)``."""
        raise NotImplementedError

    def notice(self, frame) -> FlightNotice | None:
        """What ``frame`` (just generated) has to tell the page, if anything."""
        return None

    def remember_world(self, on: bool) -> None:
        """Fly the next flight with the world memory (``on``) or the pipeline's own; only with ``memory_choice``.

        ``pipeline.memory`` becomes a new :class:`~viewgen.memory.world.WorldMemory` or the pipeline's own, as
        :func:`~viewgen.memory.world.memory_named` gives them (``viewgen fly --memory`` too): the weight-free flight
        (its own memory is the procedural :class:`~viewgen.memory.WorldPrior`) keeps its own as the world's
        fallback; a learned refiner (Infinite Nature's SPADE, Zero's generator) fills what the world never saw."""
        if not self.memory_choice:
            if on:
                raise ValueError(f"{self.label} has no memory choice")
            return
        self.pipeline.memory = memory_named("world" if on else "default", self.own_memory,
                                            weight_free=isinstance(self.own_memory, WorldPrior))


class FlyThroughDriver(FlightDriver):
    """Infinite Nature: a :class:`~viewgen.pipelines.FlyThroughPipeline` flying with its autopilot."""

    model = "infinite-nature"
    label = "Infinite Nature"
    memory_choice = True
    can_fly_back = True

    def input_size(self) -> tuple[int, int]:
        """The flight's size, ``config.image_size``."""
        return tuple(self.pipeline.config.image_size)

    def reset(self, rgbd, intrinsics, speed: float) -> tuple[Any, tuple[str, ...]]:
        """``pipeline.reset``; the input warnings are its ``UserWarning`` texts, once each."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = self.pipeline.reset(rgbd, intrinsics=intrinsics, controller="autopilot", speed=speed)
        return frame, tuple(dict.fromkeys(str(item.message) for item in caught
                                          if issubclass(item.category, UserWarning)))


class Flight:
    """One tab's pipeline (made by ``pipeline_factory`` on first use, driven by ``driver``), flying with its
    autopilot.

    The autopilot is the pipeline's own (``pipeline.controller``); the speed slider sets its speed
    through :meth:`~viewgen.control.base.CameraController.set_speed`.
    """

    def __init__(self, pipeline_factory: Callable[[], Any], driver: type[FlightDriver] = FlyThroughDriver,
                 jpeg_quality: int = 90) -> None:
        self.pipeline_factory = pipeline_factory
        self.driver_class = driver
        self.jpeg_quality = jpeg_quality
        self.driver: FlightDriver | None = None
        self.path: FlownPath | None = None  # the flight's cameras, for Fly back

    @property
    def pipeline(self):
        """The pipeline, or None before the first :meth:`make_pipeline` (and after :meth:`drop`)."""
        return None if self.driver is None else self.driver.pipeline

    def make_pipeline(self):
        if self.driver is None:
            self.driver = self.driver_class(self.pipeline_factory())
        return self.driver.pipeline

    def input_size(self) -> tuple[int, int]:
        """``(H, W)`` uploads are prepared at (:meth:`FlightDriver.input_size`); makes the pipeline if needed."""
        self.make_pipeline()
        return self.driver.input_size()

    def reset(self, rgbd, intrinsics, speed: float, show_disparity: bool,
              remember_world: bool = False) -> tuple[Encoded, tuple[str, ...]]:
        """Start at ``rgbd [1, 4, H, W]`` (``intrinsics [4]`` or None: the pipeline's camera).

        The flight's autopilot flies at ``speed`` times the pipeline's autopilot speed, with the world memory
        when ``remember_world`` (:meth:`FlightDriver.remember_world`). Returns frame 0 encoded and the input
        warnings (texts, once each).
        """
        pipeline = self.make_pipeline()
        self.driver.remember_world(remember_world)
        frame, notes = self.driver.reset(rgbd, intrinsics, pipeline.config.autopilot.speed * speed)
        self.path = FlownPath(frame, remember_world) if self.driver.can_fly_back else None
        return self.encode(frame, show_disparity), notes

    def step(self, offset: tuple[float, float], speed: float, show_disparity: bool,
             fly_back: bool = False) -> tuple[Encoded, FlightNotice | None]:
        """One ``pipeline.step(offset)`` at ``speed`` times the autopilot's speed -> the frame and its notice.

        ``fly_back``: from this step on, fly back along the cameras flown (:class:`FlownPath`); the flight stops
        at frame 0's camera with a notice.
        """
        driver, path = self.driver, self.path
        if fly_back:
            path.fly_back(driver.pipeline)
        controller, wanted = driver.pipeline.controller, driver.pipeline.config.autopilot.speed * speed
        if controller.speed is not None and controller.speed != wanted:  # a replay has no speed
            controller.set_speed(wanted)
        frame = driver.pipeline.step(offset)
        arrived = None if path is None else path.passed(frame)
        notice = driver.notice(frame) if arrived is None else FlightNotice(arrived, stopped=True)
        return self.encode(frame, show_disparity), notice

    def current(self) -> Encoded:
        """The current frame again, with its disparity."""
        return self.encode(self.pipeline.frame, True)

    def encode(self, frame, show_disparity: bool) -> Encoded:
        rgb_jpeg = encode_jpeg(rgb_to_uint8(frame.rgb), self.jpeg_quality)
        disparity_jpeg = (encode_jpeg(disparity_to_uint8(frame.disparity), self.jpeg_quality)
                          if show_disparity else None)
        return frame.index, rgb_jpeg, disparity_jpeg

    def drop(self) -> None:
        self.driver, self.path = None, None
