"""Many Infinite Nature flights in lockstep, sharing every network call.

The loop, one pass per :meth:`FlightBatch.step`, for flights ``i = 1..N``::

    cam_i, (warped_i, mask_i) = controller_i.next(frame_i), memory_i.render(cam_i, K_i)   # plan_step, per flight
    refined = refiner.refine(cat(warped), cat(mask), cat(style))                         # one call (GPU) for N
    frame_i = memory_i.add(refined_i, cam_i, K_i)                                        # complete_step, per flight

Each flight is a :class:`~viewgen.pipelines.FlyThroughPipeline` of its own (its memory, controller, style and
seed); they share one refiner object, so the batch costs one network call per step instead of N. A flight of a
batch gives the frames it would give alone (the same code runs; batched convolutions round differently: about
1e-5 after a few frames of a tiny model). Use::

    batch = FlightBatch.like(pipe, seeds=[0, 1, 2, 3])     # four flights: pipe's refiner, settings, memory kind
    batch.reset([image] * 4)                                # N seeds of one image (or N images)
    for _ in range(100):
        frames = batch.step()                               # one Frame per flight

A flight that fails (non-finite frame) stops the batch with the error of that flight; the frames so far are the
caller's.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import torch

from viewgen.memory import LastFrame, Memory, WorldPrior
from viewgen.pipelines.fly_through import FlyThroughPipeline, Offset
from viewgen.pipelines.outputs import Frame

__all__ = ["FlightBatch"]


def _fresh_memory(memory: Memory, seed: int) -> Memory:
    """A memory like ``memory`` for a new flight with ``seed`` (a procedural prior's world follows the seed)."""
    if isinstance(memory, WorldPrior):
        return WorldPrior(replace(memory.config, seed=seed))
    if isinstance(memory, LastFrame):
        return type(memory)()
    return copy.deepcopy(memory)


class FlightBatch:
    """``flights``: :class:`FlyThroughPipeline` s sharing one refiner object (module doc).

    ``refine_chunk``: flights per refiner call; by default all of them on a GPU, and one at a time on a CPU, where
    batched convolutions measured slower per frame (160x256, 2 cores: the SPADE refiner's batch of 4 made 1.38
    frames/s against 1.73 one by one; benchmarks/flight_batch.py).
    """

    def __init__(self, flights: Sequence[FlyThroughPipeline], refine_chunk: int | None = None) -> None:
        flights = list(flights)
        if not flights or not all(isinstance(flight, FlyThroughPipeline) for flight in flights):
            raise ValueError("FlightBatch needs one or more FlyThroughPipelines")
        refiner = flights[0].refiner
        if any(flight.refiner is not refiner for flight in flights):
            raise ValueError("the flights of a FlightBatch must share one refiner (FlightBatch.like makes them)")
        if len({tuple(flight.config.image_size) for flight in flights}) > 1:
            raise ValueError("the flights of a FlightBatch must fly at one image size")
        if refine_chunk is not None and refine_chunk < 1:
            raise ValueError(f"refine_chunk must be >= 1, got {refine_chunk}")
        self.flights = flights
        on_gpu = flights[0].device.type != "cpu"
        self.refine_chunk = refine_chunk or (len(flights) if on_gpu else 1)

    @classmethod
    def like(cls, pipeline: FlyThroughPipeline, seeds: Sequence[int], refine_chunk: int | None = None) -> FlightBatch:
        """One flight per seed, each with ``pipeline``'s refiner (shared), config (its ``seed`` replaced) and a new
        memory of its kind (the weight-free prior's world follows the seed)."""
        if len(seeds) < 1:
            raise ValueError("FlightBatch.like needs at least one seed")
        return cls([FlyThroughPipeline(refiner=pipeline.refiner, config=replace(pipeline.config, seed=int(seed)),
                                       memory=_fresh_memory(pipeline.memory, int(seed))) for seed in seeds],
                   refine_chunk)

    def __len__(self) -> int:
        return len(self.flights)

    def reset(self, inputs: Sequence, intrinsics: Sequence | None = None, **flight_options) -> list[Frame]:
        """Start flight ``i`` from ``inputs[i]`` (as :meth:`FlyThroughPipeline.reset` takes it, with ``intrinsics[i]``
        when given; ``flight_options`` for every flight) -> the frames 0."""
        if len(inputs) != len(self.flights):
            raise ValueError(f"{len(self.flights)} flights need {len(self.flights)} inputs, got {len(inputs)}")
        if intrinsics is not None and len(intrinsics) != len(inputs):
            raise ValueError(f"give one intrinsics per input ({len(inputs)}), got {len(intrinsics)}")
        chosen = intrinsics if intrinsics is not None else [None] * len(inputs)
        return [flight.reset(rgbd, camera, **flight_options)
                for flight, rgbd, camera in zip(self.flights, inputs, chosen)]

    @torch.inference_mode()
    def step(self, offsets: Sequence[Offset | None] | None = None) -> list[Frame]:
        """One frame of every flight (the module doc's loop); ``offsets[i]`` steers flight ``i`` (none: straight)."""
        offsets = [None] * len(self.flights) if offsets is None else list(offsets)
        if len(offsets) != len(self.flights):
            raise ValueError(f"{len(self.flights)} flights need {len(self.flights)} offsets, got {len(offsets)}")
        views = [flight.plan_step(offset) for flight, offset in zip(self.flights, offsets)]
        refined = torch.cat([self._refine(views[first:first + self.refine_chunk], self.flights[first:])
                             for first in range(0, len(views), self.refine_chunk)])
        return [flight.complete_step(view, refined[index:index + 1])
                for index, (flight, view) in enumerate(zip(self.flights, views))]

    def _refine(self, views: list, flights: list[FlyThroughPipeline]) -> torch.Tensor:
        """One refiner call for ``views`` (of the first ``len(views)`` of ``flights``): ``[N, 4, H, W]``."""
        return flights[0].refine(torch.cat([view.warped_rgbd for view in views]),
                                 torch.cat([view.mask for view in views]),
                                 torch.cat([flight.style for flight in flights[:len(views)]]))
