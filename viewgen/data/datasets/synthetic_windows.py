"""Clip windows of the synthetic world, rendered on the fly: endless training data with exact disparity.

Window ``k`` is a pure function of ``(seed, k)``: a scene preset (``coast``, ``hills``, ``mountains`` in
turn), a world seed drawn from :data:`TRAIN_WORLD_SEEDS` (so never one of the presets' own worlds, on
which ``viewgen eval`` scores flights) and a flight seed; its ``frames`` frames follow the world's
drone path from a start drawn along it (:func:`viewgen.data.synthetic.clips.ground_truth_clip`), seen
from its first frame (the identity pose, that frame's disparity unit).
Windows are therefore the same in every process and every resumed run; :class:`WindowBatchSampler`
deals them out to the ranks of a distributed run, batch by batch, from any starting batch.
A window of 5 frames at 64x96 takes about 0.5 s to render on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from viewgen.data.batching import EpochRange, ShardedBatchSampler
from viewgen.data.seeding import item_generator
from viewgen.data.synthetic.clips import ground_truth_clip
from viewgen.data.synthetic.presets import PRESET_NAMES

__all__ = ["TRAIN_WORLD_SEEDS", "SyntheticWindows", "SyntheticWindowsConfig", "WindowBatchSampler", "draw_flight_start"]

TRAIN_WORLD_SEEDS = (1_000_000, 2_000_000)  # [low, high): world seeds of training, far from the presets' own
_MAX_START_FRAMES = 40  # how far along its path a window may start


def draw_flight_start(generator: torch.Generator) -> tuple[int, int, int]:
    """``(world seed, flight seed, first frame)`` drawn from ``generator`` (three draws, in that order): a world
    of :data:`TRAIN_WORLD_SEEDS`, a flight seed below ``2**31 - 1`` and a start below ``_MAX_START_FRAMES``."""
    low, high = TRAIN_WORLD_SEEDS
    world_seed = int(torch.randint(low, high, (), generator=generator))
    flight_seed = int(torch.randint(0, 2**31 - 1, (), generator=generator))
    start = int(torch.randint(0, _MAX_START_FRAMES, (), generator=generator))
    return world_seed, flight_seed, start


@dataclass(frozen=True)
class SyntheticWindowsConfig:
    """height, width: frame size; frames: frames per window (``T + 1`` for rollouts of ``T`` steps);
    presets: the scene presets drawn in turn; num_windows: the dataset's length (an epoch); seed."""

    height: int = 160
    width: int = 256
    frames: int = 6
    presets: tuple[str, ...] = PRESET_NAMES
    num_windows: int = 100_000
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.height, self.width) < 8 or self.frames < 2 or self.num_windows < 1:
            raise ValueError("synthetic windows need frames >= 2, sides >= 8 pixels and num_windows >= 1")
        unknown = [name for name in self.presets if name not in PRESET_NAMES]
        if not self.presets or unknown:
            raise ValueError(f"presets must be some of {', '.join(PRESET_NAMES)}, got {unknown or 'none'}")


class SyntheticWindows(torch.utils.data.Dataset):
    """Item ``k``: window ``k`` (see the module doc) as ``{"rgbd", "cam_from_world", "intrinsics", "preset"}``."""

    def __init__(self, config: SyntheticWindowsConfig) -> None:
        self.config = config

    def __len__(self) -> int:
        return self.config.num_windows

    def plan(self, index: int) -> tuple[str, int, int, int]:
        """``(preset, world seed, flight seed, first frame)`` of window ``index``."""
        generator = item_generator(self.config.seed, index)
        return (self.config.presets[index % len(self.config.presets)], *draw_flight_start(generator))

    def __getitem__(self, index: int) -> dict:
        """Window ``index`` (any index >= 0: epoch ``e`` of a sampler uses ``e * len .. (e + 1) * len - 1``)."""
        if index < 0:
            raise IndexError(f"window {index} is negative")
        preset, world_seed, flight_seed, start = self.plan(index)
        config = self.config
        clip = ground_truth_clip(preset, flight_seed, config.height, config.width, config.frames, world_seed,
                                 first_frame=start)
        return {"rgbd": clip.rgbd, "cam_from_world": clip.cam_from_world, "intrinsics": clip.intrinsics,
                "preset": preset}


class WindowBatchSampler(ShardedBatchSampler):
    """Batches of ``batch_size`` window indices for process ``rank`` of ``world_size``; epoch ``e`` deals windows
    ``e * num_windows ..`` (new windows every epoch; they are random already, so the order is plain). See
    :class:`~viewgen.data.batching.ShardedBatchSampler`."""

    def __init__(self, num_windows: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(EpochRange(num_windows), batch_size, rank, world_size, what="windows")
