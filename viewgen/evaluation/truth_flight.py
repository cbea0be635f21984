"""The truth of a long flight: the same autopilot flying the sample's own world.

Protocol (b)'s flight invents the land it has not seen, so a few hundred frames out the sample's
world rendered at the flight's own poses is often a place no flight would be: the camera inside
a mountain, or a rock face at arm's length that the flight could not know was there. What a long
flight over the sample's world *should* look like is a flight over it that knows it: the same
autopilot, from the same start, steering on the world's own renders. Its frames are the truth of
protocol (b)'s window statistics (sharpness, detail, sky, new content) and patch distances; the
flight's attitude and clearance are still measured at the flight's own poses.

A **sibling world** (:func:`sibling_world`) is the sample's world with another seed: the same
terrain family, materials, sky and scale, another layout, the camera at the preset's start. Its
truth flight is what a flight that knows the family perfectly, but not the sample's particular
world, would show: protocol (b)'s family reading of the patch distance.

The autopilot steers on small, coarsely ray-marched renders (``steer_size``; it reads the ground
plane and the skyline of the disparity, not its detail); the frames that are measured are full
renders at the flight's resolution. A level autopilot gets the world's true down (the flight
under test gets its memory's estimate). Shapes: poses ``[3, 4]`` float64 in flight units (frame 0
is the sample's camera, the identity; lengths in units of the sample's disparity scale ``s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.data.synthetic.presets import start_pose
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.world import World
from viewgen.evaluation.sample_worlds import SampleWorld, render_truth, world_poses

__all__ = ["SIBLING_SEED_OFFSET", "STEER_RENDER", "TruthFlight", "fly_truth", "sibling_world"]

# The weight-free prior's coarse settings, without the cone pre-march (block 1), which costs more
# than it saves on so few rays: 24 ms instead of 38 ms a 40x64 render.
STEER_RENDER = RenderConfig(refine_steps=6, min_step=0.06, silhouette_passes=0, block=1)
SIBLING_SEED_OFFSET = 1  # a sibling world's seed is the sample world's plus this


@dataclass(frozen=True, eq=False)
class TruthFlight:
    """The autopilot's flight over the sample's world.

    poses: ``[N + 1, 3, 4]`` float64 flight poses, frame 0 first; frames: frame index ->
    ``rgbd [1, 4, H, W]`` float32 (disparity ``s / depth``) at the frames that were asked for.
    """

    poses: Tensor
    frames: dict[int, Tensor]


def _render(sample: SampleWorld, pose: Tensor, size: tuple[int, int], config: RenderConfig | None,
            resolution: str = "input") -> Tensor:
    rgb, disparity = render_truth(sample, world_poses(sample, pose[None]), *size, config, resolution)
    return torch.cat([rgb, disparity], dim=1)


def fly_truth(sample: SampleWorld, autopilot: FlyDynamicConfig, num_frames: int, keep: Iterable[int],
              size: tuple[int, int], steer_size: tuple[int, int] = (40, 64),
              progress: Callable[[int], None] | None = None, resolution: str = "input") -> TruthFlight:
    """Fly ``autopilot`` over ``sample``'s world for ``num_frames`` frames (see the module doc).

    keep: the frame indices (0..N) rendered in full at ``size`` ``(H, W)``, formed as ``resolution``
    says (:func:`~viewgen.evaluation.sample_worlds.render_truth`); steer_size: the size of the renders
    the autopilot steers on (rendered at that size: they only steer). progress: called with 1 after every frame.
    """
    start = torch.eye(4, dtype=torch.float64)[:3]
    controller = FlyDynamic.from_config(sample.intrinsics.double(), start, autopilot)
    controller.set_gravity(sample.cam_from_world[:, :3].double() @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    wanted = set(keep)
    poses, frames = [start], {}
    steer = _render(sample, start, steer_size, STEER_RENDER, "flight")
    if 0 in wanted:
        frames[0] = _render(sample, start, size, None, resolution)
    for index in range(1, num_frames + 1):
        pose = controller.next(steer).double()
        poses.append(pose)
        steer = _render(sample, pose, steer_size, STEER_RENDER, "flight")
        if index in wanted:
            frames[index] = _render(sample, pose, size, None, resolution)
        if progress is not None:
            progress(1)
    return TruthFlight(torch.stack(poses), frames)


def sibling_world(sample: SampleWorld, seed_offset: int = SIBLING_SEED_OFFSET) -> SampleWorld:
    """``sample``'s world with seed ``seed + seed_offset`` (``seed_offset != 0``), seen from its preset's start.

    Everything else is the sample's: the world config but the seed, the intrinsics, the disparity
    scale ``s`` (so flight units stay comparable) and the preset's way of placing the start camera
    (:func:`~viewgen.data.synthetic.presets.start_pose`). ``rgbd`` is the sibling's own start view at
    the sample's size (``[1, 4, H, W]``, disparity ``s / depth``).
    """
    if seed_offset == 0:
        raise ValueError("a sibling world needs another seed: seed_offset must not be 0")
    world = World(replace(sample.world.config, seed=sample.world.config.seed + seed_offset))
    pose = start_pose(sample.name, world).double()
    sibling = replace(sample, world=world, cam_from_world=pose)
    start = _render(sibling, torch.eye(4, dtype=torch.float64)[:3], tuple(sample.rgbd.shape[-2:]), None, "flight")
    return replace(sibling, rgbd=start)
