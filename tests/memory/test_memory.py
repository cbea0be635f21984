"""Memories: LastFrame is the paper's warp of the previous frame, Keyframes warps from its keyframe,
SurfaceTextured shows texture the memory never keeps."""

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from viewgen.memory import Keyframes, KeyframesConfig, LastFrame, SurfaceTextured
from viewgen.rendering.warp import warp_rgbd

K = torch.tensor([0.8, 1.2, 0.5, 0.5])
START = torch.eye(4)[:3]


def moved(distance: float) -> torch.Tensor:
    pose = START.clone()
    pose[2, 3] = -distance
    return pose


def test_last_frame_warps_the_last_frame_added():
    rgbd, other = scene_rgbd(24, 36, seed=1), scene_rgbd(24, 36, seed=2)
    memory = LastFrame()
    memory.reset(rgbd, START, K)
    warped, mask = memory.render(moved(0.2), K)
    expected = warp_rgbd(rgbd, START, moved(0.2), K, K)
    assert torch.equal(warped, expected[0]) and torch.equal(mask, expected[1])
    assert memory.add(other, moved(0.2), K) is other
    assert torch.equal(memory.render(moved(0.4), K)[0], warp_rgbd(other, moved(0.2), moved(0.4), K, K)[0])


def test_the_warp_is_given():
    calls = []

    def warp(rgbd, src, tgt, intrinsics, tgt_intrinsics):
        calls.append((src, tgt))
        return rgbd, torch.ones_like(rgbd[:, :1])

    memory = LastFrame(warp)
    memory.reset(scene_rgbd(8, 12), START, K)
    memory.render(moved(0.5), K)
    assert len(calls) == 1 and torch.equal(calls[0][1], moved(0.5))


def test_keyframes_keep_warping_the_keyframe_until_it_is_renewed():
    start = scene_rgbd(24, 36, seed=3)
    memory = Keyframes(config=KeyframesConfig(interval=2, max_hole_fraction=1.0))
    memory.reset(start, START, K)
    first = scene_rgbd(24, 36, seed=4)
    memory.render(moved(0.1), K)
    memory.add(first, moved(0.1), K)  # frame 1: not a keyframe
    assert torch.equal(memory.render(moved(0.2), K)[0], warp_rgbd(start, START, moved(0.2), K, K)[0])
    memory.add(first, moved(0.2), K)  # frame 2: the keyframe
    assert torch.equal(memory.render(moved(0.3), K)[0], warp_rgbd(first, moved(0.2), moved(0.3), K, K)[0])
    with pytest.raises(ValueError):
        KeyframesConfig(interval=0)


def test_memories_refuse_use_out_of_order():
    with pytest.raises(RuntimeError, match="reset"):
        LastFrame().render(START, K)
    memory = Keyframes()
    memory.reset(scene_rgbd(8, 12), START, K)
    with pytest.raises(RuntimeError, match="render first"):
        memory.add(scene_rgbd(8, 12), START, K)


def test_surface_texture_is_shown_but_not_remembered():
    rgbd = scene_rgbd(16, 24, seed=5)
    memory = SurfaceTextured(LastFrame(), lambda frame, pose, intrinsics: frame * 0.5)
    memory.reset(rgbd, START, K)
    memory.render(moved(0.1), K)
    shown = memory.add(rgbd, moved(0.1), K)
    assert torch.equal(shown, rgbd * 0.5)
    assert memory.memory.rgbd is rgbd and memory.warp is warp_rgbd
