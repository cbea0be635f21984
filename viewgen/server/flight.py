"""The worker-thread side of a session: its pipeline (and the pipeline's autopilot), frames encoded as JPEG.

Every method here runs in a worker thread and blocks; :class:`~viewgen.server.sessions.Session`
calls them one at a time (it holds a lock), never on the event loop. A method returns
``(frame index, RGB JPEG, disparity JPEG or None)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from viewgen.server.media import disparity_to_uint8, encode_jpeg, rgb_to_uint8

__all__ = ["Flight"]

Encoded = tuple[int, bytes, "bytes | None"]


class Flight:
    """One tab's pipeline (made by ``pipeline_factory`` on first use), flying with its autopilot.

    The autopilot is the pipeline's own (``pipeline.controller``); the speed slider sets its
    speed through :meth:`~viewgen.control.base.CameraController.set_speed`.
    """

    def __init__(self, pipeline_factory: Callable[[], Any], jpeg_quality: int = 90) -> None:
        self.pipeline_factory = pipeline_factory
        self.jpeg_quality = jpeg_quality
        self.pipeline = None

    def make_pipeline(self):
        if self.pipeline is None:
            self.pipeline = self.pipeline_factory()
        return self.pipeline

    def reset(self, rgbd, intrinsics, speed: float, show_disparity: bool) -> tuple[Encoded, tuple[str, ...]]:
        """Start at ``rgbd [1, 4, H, W]`` (``intrinsics [4]`` or None: the pipeline's focal length).

        The flight's autopilot flies at ``speed`` times the pipeline's autopilot speed. Returns
        frame 0 encoded and the input warnings (``UserWarning`` texts, once each).
        """
        pipeline = self.make_pipeline()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = pipeline.reset(rgbd, intrinsics=intrinsics, controller="autopilot",
                                   speed=pipeline.config.autopilot.speed * speed)
        notes = tuple(dict.fromkeys(str(item.message) for item in caught if issubclass(item.category, UserWarning)))
        return self.encode(frame, show_disparity), notes

    def step(self, offset: tuple[float, float], speed: float, show_disparity: bool) -> Encoded:
        """One ``pipeline.step(offset)`` at ``speed`` times the autopilot's speed."""
        wanted = self.pipeline.config.autopilot.speed * speed
        if self.pipeline.controller.speed != wanted:
            self.pipeline.controller.set_speed(wanted)
        return self.encode(self.pipeline.step(offset), show_disparity)

    def current(self) -> Encoded:
        """The current frame again, with its disparity."""
        return self.encode(self.pipeline.frame, True)

    def encode(self, frame, show_disparity: bool) -> Encoded:
        rgb_jpeg = encode_jpeg(rgb_to_uint8(frame.rgb), self.jpeg_quality)
        disparity_jpeg = (encode_jpeg(disparity_to_uint8(frame.disparity), self.jpeg_quality)
                          if show_disparity else None)
        return frame.index, rgb_jpeg, disparity_jpeg

    def drop(self) -> None:
        self.pipeline = None
