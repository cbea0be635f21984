"""Infinite Nature Zero with a memory: the original path is untouched without one, and with the persistent world a
circle comes back to what frame 0 showed (the splat of the last frame does not)."""

import pytest
import torch

from viewgen.control.replay import ReplayPath
from viewgen.control.scripted import CircleConfig, CircleTrajectory
from viewgen.data.samples import load_sample
from viewgen.memory.world import WorldMemory, WorldMemoryConfig
from viewgen.networks.stylegan2 import CoModGenerator, CoModGeneratorConfig
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline
from viewgen.refiners.stylegan import StyleGANRefinerConfig


def _pipeline(memory) -> InfiniteNatureZeroPipeline:
    torch.manual_seed(0)
    generator = CoModGenerator(CoModGeneratorConfig(resolution=64, latent_dim=16, mapping_layers=2, channel_base=256,
                                                    style_channel_base=128, channel_max=16))
    config = InfiniteNatureZeroConfig(refiner=StyleGANRefinerConfig(mean_latent_samples=64), stop_on_crash=False)
    return InfiniteNatureZeroPipeline(generator, config, memory=memory)


def _returned_psnr(memory) -> float:
    pipe = _pipeline(memory)
    sample = load_sample(1).rgbd[0]
    first = pipe.reset(sample[:3], sample[3], controller=CircleTrajectory(torch.eye(4)[:3],
                                                                          CircleConfig(radius=0.3, period=12)))
    for _ in range(12):
        frame = pipe.step()
    assert torch.allclose(frame.cam_from_world, first.cam_from_world, atol=1e-6)
    assert frame.rgbd.shape == first.rgbd.shape and bool(torch.isfinite(frame.rgbd).all())
    return float(-10 * torch.log10(((frame.rgbd[:, :3] - first.rgbd[:, :3]) ** 2).mean()))


def test_a_zero_circle_with_the_world_memory_comes_back_to_frame_0():
    # 64x64 frames: a gentler edge rule than the mesh warp's keeps most of each frame (WorldMemoryConfig.edge_beta)
    world = _returned_psnr(WorldMemory(WorldMemoryConfig(edge_beta=2.0)))
    splat = _returned_psnr(None)  # random weights: the original loop has forgotten frame 0 long before
    assert world > splat + 10.0


def test_a_zero_flight_can_swap_its_controller_and_fly_back():
    pipe = _pipeline(WorldMemory(WorldMemoryConfig(edge_beta=2.0)))
    sample = load_sample(1).rgbd[0]
    first = pipe.reset(sample[:3], sample[3])
    poses = [first.cam_from_world] + [pipe.step().cam_from_world for _ in range(3)]
    pipe.set_controller(ReplayPath(torch.stack(poses[::-1])))
    back = [pipe.step().cam_from_world for _ in range(3)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(back, poses[-2::-1]))
    with pytest.raises(TypeError, match="CameraController"):
        pipe.set_controller("autopilot")
