"""Synthetic clip windows: a pure function of (seed, index), never the presets' own worlds, anchored at their first
frame; batches shared among ranks, new windows every epoch."""

import pytest
import torch

from viewgen.data.datasets import SyntheticWindows, SyntheticWindowsConfig, WindowBatchSampler
from viewgen.data.datasets.synthetic_windows import TRAIN_WORLD_SEEDS
from viewgen.data.synthetic import scene_preset


def test_a_window_is_the_same_every_time_and_starts_at_the_identity():
    windows = SyntheticWindows(SyntheticWindowsConfig(height=16, width=24, frames=3, num_windows=4, seed=3))
    first, again = windows[1], windows[1]
    assert all(torch.equal(first[key], again[key]) for key in ("rgbd", "cam_from_world", "intrinsics"))
    assert first["rgbd"].shape == (3, 4, 16, 24) and first["cam_from_world"].shape == (3, 3, 4)
    assert torch.allclose(first["cam_from_world"][0], torch.eye(3, 4), atol=1e-6)
    assert float(first["rgbd"][0, 3].max()) == 1.0  # the first frame's nearest point is the unit
    for index in range(6):
        preset, world_seed, _, _ = windows.plan(index)
        assert TRAIN_WORLD_SEEDS[0] <= world_seed < TRAIN_WORLD_SEEDS[1]
        assert world_seed != scene_preset(preset).world.seed  # not a world viewgen eval scores on
    with pytest.raises(ValueError, match="frames >= 2"):
        SyntheticWindowsConfig(frames=1)


def test_window_batches_are_shared_among_ranks_and_renewed_every_epoch():
    whole = WindowBatchSampler(12, 4)
    halves = [WindowBatchSampler(12, 2, rank=rank, world_size=2) for rank in (0, 1)]
    assert [first + second for first, second in zip(*halves)] == list(whole)
    whole.set_epoch(1)
    assert list(whole)[0] == [12, 13, 14, 15]
    whole.start_batch = 2
    assert list(whole) == [[20, 21, 22, 23]]
    with pytest.raises(ValueError, match="3 windows per epoch do not fill one batch of 2 on each of 2"):
        WindowBatchSampler(3, 2, world_size=2)
