"""Frame 0 set into a procedural world: the memory of the weight-free flight.

What a flight without learned weights can know of the world is frame 0, exactly, and what
nature looks like in general. :class:`WorldPrior` keeps both::

    reset(rgbd_0):  fit the ground under frame 0 (height, pitch), build the prior world
                    (a synthetic-world preset with its own seed), place frame 0's camera in it
                    at the matching scale, and map the world's colours to frame 0's
    render(cam):    anchor = frame 0 mesh-warped to cam (exact where frame 0 saw the surface)
                    world  = the prior world ray-marched from cam, in frame 0's palette
                    frame  = anchor where it is known and not magnified beyond what frame 0
                             resolves, the world elsewhere (soft weights), mask all ones
    add(frame):     nothing to remember: the world is a function of position, so a place
                    looks the same whenever the flight comes back

Magnification: a point that frame 0 saw at depth ``z0`` and the camera now sees at depth ``z``
is enlarged ``z0 / z`` times; frame 0's pixels give no detail beyond that, so the anchor fades
out between ``magnification[0]`` and ``magnification[1]`` and the prior world, sharp at every
distance, takes over. New land therefore keeps appearing, the sky is the world's sky where frame
0 has none, and nothing is resampled twice.

Units: the flight's world is frame 0's camera frame, lengths in depth units (depth = 1 /
disparity); the prior world is in metres, ``scale`` metres per flight unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from viewgen.data.synthetic.flights import camera_pose
from viewgen.data.synthetic.presets import PRESET_NAMES, scene_preset, start_pose
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.renderer import render
from viewgen.data.synthetic.world import World
from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.poses import compose_poses, invert_pose, to_homogeneous_pose
from viewgen.geometry.projection import pixel_centers_uv
from viewgen.memory.base import Memory, Warp
from viewgen.memory.prior_fit import SKY_DISPARITY, ColorMap, GroundFit, fit_ground
from viewgen.rendering.warp import warp_rgbd

__all__ = ["WorldPrior", "WorldPriorConfig"]


@dataclass(frozen=True)
class WorldPriorConfig:
    """Settings of :class:`WorldPrior`.

    preset: the synthetic-world preset whose terrain, materials and sky the prior builds
        (``coast``, ``hills``, ``mountains``); seed: the prior world's own seed.
    clearance: height in metres of frame 0's camera above the prior world's ground (the scale
        follows from it and the ground fitted under frame 0).
    magnification: frame 0's content is shown fully up to the first enlargement and not at all
        from the second (linear in between).
    known: warp coverage (``sqrt`` of its mask) from which an anchor pixel counts as known.
    hole_ramp: holes of the anchor are left to the refiner up to the first distance from a known
        pixel and shown from the prior world beyond the second (fractions of the image width).
    color_levels: quantiles per channel of the colour maps.
    render: the ray marcher's settings for the prior world: coarser than the synthetic world's
        defaults (2.5x faster at 160x256; mean colour difference 0.002), since nothing here is
        scored against exact depth.
    """

    preset: str = "hills"
    seed: int = 1000
    clearance: float = 30.0
    magnification: tuple[float, float] = (3.0, 6.0)
    known: float = 0.5
    hole_ramp: tuple[float, float] = (0.02, 0.06)
    color_levels: int = 64
    render: RenderConfig = field(default_factory=lambda: RenderConfig(refine_steps=6, min_step=0.06,
                                                                      silhouette_passes=0))

    def __post_init__(self) -> None:
        if self.preset not in PRESET_NAMES:
            raise ValueError(f"WorldPriorConfig.preset must be one of {', '.join(PRESET_NAMES)}, got {self.preset!r}")
        low, high = self.magnification
        if not (self.clearance > 0 and 1.0 <= low < high and 0.0 < self.known <= 1.0 and self.color_levels >= 2):
            raise ValueError("WorldPriorConfig needs clearance > 0, 1 <= magnification[0] < magnification[1], "
                             "0 < known <= 1 and color_levels >= 2")


@dataclass(frozen=True, eq=False)
class _Anchor:
    """Frame 0 and how the prior world is tied to it."""

    rgbd: Tensor  # [1, 4, H, W]
    cam_from_world: Tensor  # [3, 4]
    intrinsics: Tensor  # [4]
    world: World
    flight_from_world: Tensor  # [4, 4] float64, rigid: world -> flight frame, both in metres
    scale: float  # metres per flight unit
    colors: ColorMap
    ground: GroundFit


class WorldPrior(Memory):
    """Frame 0, exact where it resolves the view, inside a procedural world (see the module doc)."""

    def __init__(self, config: WorldPriorConfig | None = None, warp: Warp = warp_rgbd) -> None:
        super().__init__(warp)
        self.config = config or WorldPriorConfig()
        preset = scene_preset(self.config.preset)
        self.world = World(replace(preset.world, seed=self.config.seed))
        self._anchor: _Anchor | None = None

    @property
    def ground(self) -> GroundFit:
        """The ground plane fitted under frame 0 at the last :meth:`reset`."""
        return self._require_anchor().ground

    @property
    def scale(self) -> float:
        """Prior-world metres per flight unit (fixed at :meth:`reset`)."""
        return self._require_anchor().scale

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        ground = fit_ground(rgbd[0, 3].float(), intrinsics)
        start = self._start_pose(ground)  # world -> frame 0 camera, metres
        scale = self.config.clearance / ground.height
        flight_from_world = compose_poses(invert_pose(_metric(cam_from_world, scale)), to_homogeneous_pose(start))
        height, width = rgbd.shape[-2:]
        world_rgb, world_depth = render(self.world, start.float(), intrinsics.float().cpu(), height, width,
                                        self.config.render)
        colors = ColorMap(world_rgb[0], world_depth[0, 0].isinf(), rgbd[0, :3].float().cpu(),
                          rgbd[0, 3].float().cpu() < SKY_DISPARITY, self.config.color_levels)
        self._anchor = _Anchor(rgbd, cam_from_world, intrinsics, self.world, flight_from_world, scale, colors, ground)

    def _start_pose(self, ground: GroundFit) -> Tensor:
        """Frame 0's camera in the prior world: the preset's start, ``clearance`` above the ground, fitted pitch."""
        preset_start = start_pose(self.config.preset, self.world).double()
        position = -preset_start[:, :3].T @ preset_start[:, 3]
        ground_height = float(self.world.ground_height(position[0:1].float(), position[2:3].float()))
        position[1] = -(ground_height + self.config.clearance)
        forward = preset_start[2, :3]
        yaw = math.atan2(float(forward[0]), float(forward[2]))
        return camera_pose(position, torch.tensor(yaw), torch.tensor(math.radians(ground.pitch_deg)))

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """``(rgbd [1, 4, H, W], mask [1, 1, H, W])``: frame 0 where it resolves, the prior world elsewhere.

        The mask is 0 only in the small holes of the anchor (within ``hole_ramp[0]`` of its known
        pixels), rising to 1 at ``hole_ramp[1]``: the refiner inpaints those from their surroundings,
        which the prior world could not do better; farther from frame 0's content the world is shown.
        """
        anchor = self._require_anchor()
        warped, mask = self.warp(anchor.rgbd, anchor.cam_from_world, cam_from_world, anchor.intrinsics, intrinsics)
        coverage = mask.clamp_min(0.0).sqrt()  # warp_rgbd premultiplies by m and returns m * m
        known = coverage >= self.config.known
        unpremultiplied = torch.where(known, warped / coverage.clamp_min(self.config.known), torch.zeros_like(warped))
        weight = known.to(warped) * self._resolved(unpremultiplied[:, 3:], cam_from_world, intrinsics)
        world = self._render_world(cam_from_world, intrinsics, tuple(warped.shape[-2:])).to(warped)
        frame = torch.lerp(world, unpremultiplied.clamp(0.0, 1.0), weight)
        return frame, torch.maximum(known.to(warped), self._far_from_known(known))

    def _far_from_known(self, known: Tensor) -> Tensor:
        """``[1, 1, H, W]``: 0 within ``hole_ramp[0]`` (fraction of the width) of a known pixel, 1 beyond ``[1]``."""
        import cv2
        import numpy as np

        width = known.shape[-1]
        holes = (~known[0, 0]).cpu().numpy().astype(np.uint8)
        distance = torch.from_numpy(cv2.distanceTransform(holes, cv2.DIST_L2, 3)).to(known.device)
        low, high = (fraction * width for fraction in self.config.hole_ramp)
        if not bool(known.any()):
            return torch.ones(known.shape, device=known.device)
        return ((distance - low) / (high - low)).clamp(0.0, 1.0)[None, None]

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """The world is a function of position: nothing to remember; returns ``rgbd``."""
        self._require_anchor()
        return rgbd

    def _resolved(self, disparity: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """``[1, 1, H, W]`` weight in [0, 1]: 1 where frame 0 resolves the point seen at ``disparity``."""
        anchor = self._require_anchor()
        height, width = disparity.shape[-2:]
        uv = pixel_centers_uv(height, width, dtype=torch.float64)
        fx, fy, cx, cy = intrinsics.double().cpu().unbind()
        depth = 1.0 / disparity[0, 0].double().cpu().clamp_min(1e-4)
        points = torch.stack([(uv[..., 0] - cx) / fx * depth, (uv[..., 1] - cy) / fy * depth, depth], dim=-1)
        cam0_from_cam = compose_poses(to_homogeneous_pose(anchor.cam_from_world.double().cpu()),
                                      to_homogeneous_pose(invert_pose(cam_from_world.double().cpu())))
        depth0 = points @ cam0_from_cam[2, :3] + cam0_from_cam[2, 3]
        magnification = torch.where(disparity[0, 0].cpu() > SKY_DISPARITY, depth0 / depth, torch.ones_like(depth))
        low, high = self.config.magnification
        return ((high - magnification) / (high - low)).clamp(0.0, 1.0).to(disparity)[None, None]

    def _render_world(self, cam_from_world: Tensor, intrinsics: Tensor, size: tuple[int, int]) -> Tensor:
        """The prior world from the flight pose ``cam_from_world``: ``rgbd [1, 4, H, W]`` (flight disparity)."""
        anchor = self._require_anchor()
        world_pose = compose_poses(_metric(cam_from_world, anchor.scale), anchor.flight_from_world)
        rgb, depth = render(anchor.world, world_pose[:3].float(), intrinsics.float().cpu(), *size, self.config.render)
        sky = depth[0, 0].isinf()
        rgb = anchor.colors.apply(rgb[0], sky)
        disparity = (anchor.scale / depth[0, 0]).nan_to_num(0.0, posinf=1.0).clamp(0.0, 1.0)
        return torch.cat([rgb, disparity[None]])[None]

    def _require_anchor(self) -> _Anchor:
        if self._anchor is None:
            raise ViewgenRuntimeError("WorldPrior is empty: reset it with frame 0 first")
        return self._anchor


def _metric(cam_from_world: Tensor, scale: float) -> Tensor:
    """A flight pose ``[3, 4]`` (flight units) with its translation in metres: ``[4, 4]`` float64."""
    pose = to_homogeneous_pose(cam_from_world.double().cpu())
    pose[:3, 3] *= scale
    return pose
