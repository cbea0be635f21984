"""Posed RGBD clips of the synthetic world, rendered along its own drone path: evaluation's short-range
ground truth and training's clip windows.

:func:`ground_truth_clip` renders ``num_frames`` RGBD frames of a scene preset (``coast``,
``hills``, ``mountains``) along :func:`~viewgen.data.synthetic.generate_flight`'s path and
returns them with their poses in the units a pipeline flies in, so a flight started from frame 0
along the same poses (:class:`viewgen.control.replay.ReplayPath`) is comparable frame by frame::

    clip = ground_truth_clip("hills", seed=0, height=32, width=48, num_frames=5)
    flight = pipe(clip.rgbd[:1], num_frames=4, intrinsics=clip.intrinsics,
                  cam_from_world=clip.cam_from_world[0], controller=ReplayPath(clip.cam_from_world))
    # flight.rgbd [4, 4, H, W] vs clip.rgbd[1:]

Units. A pipeline reads disparity as ``1 / depth`` in its own depth unit; the synthetic RGBD is
``disparity = s / depth`` with ``s`` frame 0's nearest visible depth (world units). So the
clip's poses are expressed in frame 0's camera frame (frame 0 is the identity) with lengths
divided by ``s``, and every frame's disparity is ``clip(s / depth, 0, 1)`` with that same ``s``
(frame 0 is exactly :func:`~viewgen.data.synthetic.render_rgbd`'s; later frames share its
unit; sky is 0). Metric poses stay in ``world_cam_from_world``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from viewgen.data.synthetic.flights import generate_flight
from viewgen.data.synthetic.presets import scene_preset, start_pose
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.renderer import render
from viewgen.data.synthetic.rgbd import depth_to_unit_disparity
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.geometry.poses import relative_to_first

__all__ = ["GroundTruthClip", "ground_truth_clip", "render_frames"]

# The flight's heights are smoothed over what lies ahead, so its last ~lookahead / speed + 6 sigma
# frames depend on where it stops: fly this many frames further and keep the first T, so frame k
# of a clip does not depend on T (checked for the three presets).
_FLIGHT_MARGIN = 160
_MIN_SIDE, _MAX_SIDE = 8, 4096


@dataclass(frozen=True, eq=False)
class GroundTruthClip:
    """A rendered ground-truth clip (see the module doc for its units).

    rgbd: ``[T, 4, H, W]`` float32, RGB in [0, 1] and disparity ``clip(s / depth, 0, 1)``.
    cam_from_world: ``[T, 3, 4]`` float32, relative to frame 0 (identity), lengths in units of ``s``.
    intrinsics: ``[4]`` float32 normalized ``[fx, fy, cx, cy]``.
    preset: the scene preset's name; seed: the flight seed; world_seed: the world's seed.
    disparity_scale: ``s`` (world units): metric depth is ``s / disparity`` where disparity > 0.
    world_cam_from_world: ``[T, 3, 4]`` float32 metric poses in the synthetic world's frame.
    """

    rgbd: Tensor
    cam_from_world: Tensor
    intrinsics: Tensor
    preset: str
    seed: int
    world_seed: int
    disparity_scale: float
    world_cam_from_world: Tensor

    @property
    def num_frames(self) -> int:
        """``T``, frame 0 included."""
        return self.rgbd.shape[0]


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not in_range or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return value


def _check_intrinsics(intrinsics) -> Tensor:
    """``[4]`` float32 normalized intrinsics with positive focal lengths, else a one-line ``ValueError``."""
    values = torch.as_tensor(intrinsics, dtype=torch.float32)
    if values.shape != (4,) or not bool(torch.isfinite(values).all()) or not bool((values[:2] > 0).all()):
        raise ValueError(f"intrinsics must be [fx, fy, cx, cy] with positive finite focal lengths, got shape "
                         f"{list(values.shape)}: {values.flatten()[:4].tolist()}")
    return values


def render_frames(world: World, poses: Tensor, intrinsics: Tensor, height: int, width: int,
                      config: RenderConfig | None = None) -> tuple[Tensor, Tensor]:
    """``(rgb [T, 3, H, W], depth [T, 1, H, W])``, one frame per render call (``config``: the ray marcher's).

    The renderer's result for a frame depends on the other frames of its batch (its marching
    decisions are shared), so frames are rendered alone: frame k depends on its pose only.
    """
    chunks = [render(world, pose, intrinsics, height, width, config) for pose in poses]
    return torch.cat([rgb for rgb, _ in chunks]), torch.cat([depth for _, depth in chunks])


def ground_truth_clip(preset: str, seed: int = 0, height: int = 160, width: int = 256, num_frames: int = 51,
                      world_seed: int | None = None, first_frame: int = 0,
                      intrinsics: Tensor | None = None) -> GroundTruthClip:
    """Render ``num_frames`` frames of ``preset``'s world along its drone path (see the module doc).

    Args:
        preset: ``coast``, ``hills`` or ``mountains`` (:data:`~viewgen.data.synthetic.PRESET_NAMES`).
        seed: the flight's seed (its wandering; :func:`~viewgen.data.synthetic.generate_flight`).
        height, width: frame size in pixels (8 to 4096 per side).
        num_frames: ``T >= 1``, frame 0 (the flight's start) included.
        world_seed: the world's seed; ``None`` is the preset's own world (the built-in samples').
        first_frame: start this many frames along the path (the clip's frame 0, its unit and its identity pose
            are that frame's); 0 is the path's start.
        intrinsics: ``[4]`` normalized ``[fx, fy, cx, cy]`` of every frame; ``None``: ``[0.8, 0.8 W / H, 0.5, 0.5]``
            (:func:`~viewgen.geometry.intrinsics.default_intrinsics`, 64 degrees across).

    Returns a :class:`GroundTruthClip`; the same arguments give identical tensors.
    Raises ``ValueError`` (one line) for an unknown preset or a bad number.
    """
    if not isinstance(preset, str):
        raise ValueError(f"preset must be a scene preset name, got {type(preset).__name__}")
    config = scene_preset(preset)
    seed = _check_int(seed, "seed", 0)
    height = _check_int(height, "height", _MIN_SIDE, _MAX_SIDE)
    width = _check_int(width, "width", _MIN_SIDE, _MAX_SIDE)
    num_frames = _check_int(num_frames, "num_frames", 1)
    first_frame = _check_int(first_frame, "first_frame", 0)
    world_seed = config.world.seed if world_seed is None else _check_int(world_seed, "world_seed", 0)
    world = World(replace(config.world, seed=world_seed))
    flight = generate_flight(world, first_frame + num_frames + _FLIGHT_MARGIN, seed, start_pose(preset, world),
                             config.flight)
    world_poses = flight[first_frame:first_frame + num_frames].contiguous()
    intrinsics = default_intrinsics(height, width) if intrinsics is None else _check_intrinsics(intrinsics)
    rgb, depth = render_frames(world, world_poses, intrinsics, height, width)
    _, scale = depth_to_unit_disparity(depth[:1])
    disparity = (scale / depth).nan_to_num(0.0, posinf=1.0).clamp(0.0, 1.0)
    relative = relative_to_first(world_poses)
    relative[:, :, 3] /= float(scale)
    return GroundTruthClip(rgbd=torch.cat([rgb, disparity], dim=1), cam_from_world=relative.float(),
                           intrinsics=intrinsics, preset=preset, seed=seed, world_seed=world_seed,
                           disparity_scale=float(scale), world_cam_from_world=world_poses)
