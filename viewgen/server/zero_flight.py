"""Infinite Nature Zero in the web demo: the session's driver and the factory of per-tab pipelines.

:class:`ZeroDriver` adapts :class:`~viewgen.pipelines.infinite_nature_zero.InfiniteNatureZeroPipeline` to
:class:`~viewgen.server.flight.Flight`. A start ``rgbd [1, 4, H, W]`` (a sample, or an upload with the
depth backend's disparity) is split into RGB and disparity for ``reset``, which prepares the flight's
square crop itself (centre square, resized to the generator's resolution ``S``, percentile-normalised
disparity; Zero's own 55 degree camera, so given intrinsics are not used). A crash event (the sky test
failed) becomes a :class:`~viewgen.server.flight.FlightNotice`: with ``config.stop_on_crash`` (the
default) the flight stops there, its frames kept, until it starts again. "Remember the world" and Fly back
work as for Infinite Nature (:mod:`viewgen.server.world_flight`).

:func:`shared_pipeline_factory` loads the weights once; every tab gets its own pipeline (the flight
state lives in it) around the one read-only refiner.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import Tensor

from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline
from viewgen.pipelines.outputs import ZeroFrame
from viewgen.server.flight import FlightDriver, FlightNotice

__all__ = ["ZeroDriver", "shared_pipeline_factory"]


class ZeroDriver(FlightDriver):
    """Infinite Nature Zero: an :class:`InfiniteNatureZeroPipeline` flying with Zero's autopilot; "Remember the
    world" flies it with a :class:`~viewgen.memory.world.WorldMemory` in place of the splat of the last frame, and
    Fly back replays the cameras flown (they are the start camera's frame: a flight here has no start pose)."""

    model = "infinite-nature-zero"
    label = "Infinite Nature Zero"
    memory_choice = True
    can_fly_back = True

    def input_size(self) -> tuple[int, int]:
        """``(S, canvas_scale * S)``: ``S`` rows, as wide as the sky dome's canvas around the ``S x S`` crop
        (1.5 S), so the canvas holds the photo's own sides rather than their mirror images."""
        side = self.pipeline.refiner.image_size[0]
        return side, int(round(side * self.pipeline.config.inputs.canvas_scale))

    def reset(self, rgbd: Tensor, intrinsics, speed: float) -> tuple[ZeroFrame, tuple[str, ...]]:
        """``pipeline.reset(rgb [1, 3, H, W], disparity [1, 1, H, W], speed=speed)``; ``intrinsics`` unused.

        Returns frame 0 (the prepared ``[1, 4, S, S]`` crop) and the input's warnings (no sky, flat disparity).
        """
        frame = self.pipeline.reset(rgbd[:, :3], rgbd[:, 3:4], speed=speed)
        return frame, tuple(self.pipeline.input_warnings)

    def notice(self, frame: ZeroFrame) -> FlightNotice | None:
        """A crash event of ``frame`` told to the page (the event's message names the sky fraction)."""
        event = frame.event
        if event is None:
            return None
        if self.pipeline.config.stop_on_crash:
            return FlightNotice(f"The flight stopped at frame {event.frame_index}, a {event.kind} event: "
                                f"{event.message}. Its frames are kept (Download MP4); press Restart or pick "
                                "another image to fly again.", stopped=True)
        return FlightNotice(f"A {event.kind} event at frame {event.frame_index}: {event.message}; flying on "
                            "without that frame's sky correction.", stopped=False)


def shared_pipeline_factory(weights: str | Path, device: str = "cpu"
                            ) -> tuple[Callable[[], InfiniteNatureZeroPipeline], InfiniteNatureZeroPipeline]:
    """Load Infinite Nature Zero ``weights`` once -> ``(factory, the loaded pipeline)``.

    ``weights``: the original ``*latest.tar``, the folder holding it, or a release folder of
    :meth:`InfiniteNatureZeroPipeline.save_pretrained`. The truncation centre (the refiner's mean latent)
    is computed here, once, not by the first tabs at the same time. ``factory()`` makes a new pipeline
    around the shared refiner (the generator is only read at inference), one per session.
    """
    shared = InfiniteNatureZeroPipeline.from_pretrained(weights, device=device)
    shared.refiner.mean_latent()
    return (lambda: InfiniteNatureZeroPipeline(refiner=shared.refiner, config=shared.config)), shared
