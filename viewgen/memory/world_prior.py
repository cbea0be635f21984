"""Frame 0 set into a procedural world: the memory of the weight-free flight.

What a flight without learned weights can know of the world is frame 0, exactly, and what
nature looks like in general. :class:`WorldPrior` keeps both::

    reset(rgbd_0):  fit the ground under frame 0 (height, pitch), build the prior world
                    (a synthetic-world preset; of a few candidate seeds, the world whose view
                    from frame 0's camera looks most like frame 0), place frame 0's camera in it
                    at the matching scale, and transfer frame 0's colours onto the world's
                    (its land's as seen along the way ahead, not from the start alone)
    render(cam):    anchor = frame 0 mesh-warped to cam, carrying source coordinates, and
                             sampled there (sharper than the warp's linear interpolation)
                    world  = the prior world ray-marched from cam, in frame 0's palette, its
                             sky frame 0's sky at infinity (:class:`~viewgen.memory.sky_dome.SkyDome`)
                    frame  = anchor where it is known (plus the world's fine detail where it is
                             enlarged), the world where frame 0 is enlarged far beyond what it
                             resolves, where it never looked, and (after some travel) in its sky;
                             small holes next to shown anchor pixels are left to the refiner
    add(frame):     nothing to remember: the world is a function of position, so a place
                    looks the same whenever the flight comes back

Enlargement is measured per pixel as ``1 / sigma_min`` of the Jacobian of frame 0's pixel
coordinates over the view's, so a slope seen ever more from above counts as well as a point
approached head-on. New land therefore keeps appearing, the sky never runs out, and nothing is
resampled twice.

Frame 0's sky is shown two ways: as the warp shows it (a distant wall, which parallaxes like the
clouds of a sky at finite height and scores best near frame 0: the dome on the anchor's sky cost
0.3 dB at frame 50 of the short-range protocol) until the camera has travelled ``sky_travel``,
then as the dome, which never comes nearer however far the flight goes.

Units: the flight's world is frame 0's camera frame, lengths in depth units (depth = 1 /
disparity); the prior world is in metres, ``scale`` metres per flight unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.data.synthetic.flights import camera_pose, raise_above_ground
from viewgen.data.synthetic.presets import PRESET_NAMES, scene_preset, start_pose
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.renderer import render, water_mask
from viewgen.data.synthetic.world import World
from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.disparity import MIN_DISPARITY
from viewgen.geometry.poses import camera_center, compose_poses, invert_pose, to_homogeneous_pose
from viewgen.geometry.projection import pixel_centers_uv
from viewgen.memory.base import Memory, Warp
from viewgen.memory.enlargement import close_lines, enlargement, seen_from_behind, thin_parts
from viewgen.memory.prior_fit import SKY_DISPARITY, ColorMap, GroundFit, fit_ground, palette_land, terrain_preset
from viewgen.memory.sky_dome import ElevationTint, SkyDome, frame0_sky, ray_elevation
from viewgen.procedural.filters import gaussian_blur
from viewgen.rendering.holes import hole_half_width
from viewgen.rendering.warp import warp_rgbd

__all__ = ["WorldPrior", "WorldPriorConfig"]

_WARPED_SKY = 1.5 * MIN_DISPARITY  # the warp clips disparity to MIN_DISPARITY: the sky lands there
_MIN_HEIGHT_FRACTION = 0.25  # of frame 0's clearance: the lowest the prior world is seen from (_render_world)


def _gravity(cam_from_world: Tensor, ground: GroundFit) -> Tensor:
    """World down ``[3]`` float64 of the flight's world: frame 0's (``cam_from_world [3, 4]``) down axis tilted
    by the ground's fitted pitch."""
    pitch = math.radians(ground.pitch_deg)
    down_in_frame0 = torch.tensor([0.0, math.cos(pitch), math.sin(pitch)], dtype=torch.float64)
    return cam_from_world.double().cpu()[:3, :3].T @ down_in_frame0


@dataclass(frozen=True)
class WorldPriorConfig:
    """Settings of :class:`WorldPrior`.

    preset: the synthetic-world preset whose terrain, materials and sky the prior builds
        (``coast``, ``hills``, ``mountains``), or ``auto``: chosen at reset from frame 0's skyline
        (:func:`~viewgen.memory.prior_fit.terrain_preset`); seed: picks the prior world (the flight's
        ``FlyThroughConfig.seed`` in :meth:`~viewgen.pipelines.FlyThroughPipeline.weight_free`).
    candidates: how many worlds of the preset are tried at reset (world seeds ``seed * candidates``
        onwards); the one whose view from frame 0's camera, in frame 0's palette, is nearest frame 0 by
        the patch distance (:func:`~viewgen.evaluation.distribution.patch_distance`) is kept. A world
        unlike frame 0 from its first view stays unlike it: on protocol (b) (frames 300-1000) the
        start view's distance ranked the worlds' flights well for coast and hills, loosely for
        mountains (docs/weight_free.md); each candidate costs a world build and one render at reset.
    clearance: height in metres of frame 0's camera above the prior world's ground (the scale
        follows from it and the ground fitted under frame 0), or ``None`` (the default): the
        height of the preset's own start camera above the ground below it (45-52 m for
        ``hills``, 83-85 m for ``mountains``), i.e. frame 0 is taken to be framed as the preset
        frames its views. The autopilot steers by disparity, so the scale decides how it flies
        (docs/weight_free.md has the measurements).
    magnification: frame 0's content gets the prior world's fine detail on top from the first
        enlargement (fully at the second), and gives way to the world from the second (fully at
        twice the second). Near frame 0 its warp is the best guess there is (invented detail is
        not the truth's): on the short-range protocol (9 cases, 50 frames) invention from lower
        enlargements cost SSIM at frames 40-50 ((6, 24): 0.01 at frame 50; the former (3, 12)
        lost 0.7 dB and 0.04 to the warp baseline there), and from 20x the scores at frames
        1-50 equal those of no invention at all.
    detail_sigma: Gaussian sigma (pixels) splitting the world's fine detail from its colour.
    known: warp coverage (``sqrt`` of its mask) from which an anchor pixel counts as known.
    hole_ramp: holes of the anchor are left to the refiner up to the first half-width and shown
        from the prior world from the second (fractions of the image width); a hole's half-width
        at a pixel is the largest distance to a known pixel within the second of it.
    sky_travel: frame 0's sky is shown fully until the camera is the first distance (flight units)
        from frame 0's position and not at all from the second (the prior world's sky then: frame
        0's sky dome where frame 0 looked, the world's own sky elsewhere).
    sampling: how frame 0's colours are read at the warped positions: ``"bilinear"`` (as the mesh
        warp's own interpolation), ``"bicubic"`` (sharper), or ``"mix"``, their mean.
    palette_reach: how far (flight units; the autopilot flies 0.2 a frame) the land palette the transfer maps onto
        frame 0's ground is read along the way (:func:`~viewgen.memory.prior_fit.palette_land`); 0 reads it
        from the start view alone, which a cloud shadow or a near slope can darken (docs/weight_free.md).
    render: the ray marcher's settings for the prior world: coarser than the synthetic world's
        defaults (2.5x faster at 160x256; mean colour difference 0.002), since nothing here is
        scored against exact depth.
    """

    preset: str = "auto"
    seed: int = 0
    candidates: int = 4
    clearance: float | None = None
    magnification: tuple[float, float] = (20.0, 40.0)
    known: float = 0.5
    hole_ramp: tuple[float, float] = (0.1, 0.25)
    sky_travel: tuple[float, float] = (4.0, 12.0)
    detail_sigma: float = 1.5
    sampling: str = "mix"
    palette_reach: float = 200.0
    render: RenderConfig = field(default_factory=lambda: RenderConfig(refine_steps=6, min_step=0.06,
                                                                      silhouette_passes=0))

    def __post_init__(self) -> None:
        if self.sampling not in ("bilinear", "bicubic", "mix"):
            raise ValueError(f"WorldPriorConfig.sampling must be bilinear, bicubic or mix, got {self.sampling!r}")
        if self.preset not in ("auto", *PRESET_NAMES):
            raise ValueError(f"WorldPriorConfig.preset must be auto or one of {', '.join(PRESET_NAMES)}, "
                             f"got {self.preset!r}")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 1:
            raise ValueError(f"WorldPriorConfig.candidates must be a whole number >= 1, got {self.candidates!r}")
        low, high = self.magnification
        if not ((self.clearance is None or self.clearance > 0) and 1.0 <= low < high and 0.0 < self.known <= 1.0
                and math.isfinite(self.palette_reach) and self.palette_reach >= 0):
            raise ValueError("WorldPriorConfig needs clearance > 0, 1 <= magnification[0] < magnification[1], "
                             "0 < known <= 1, 0 <= palette_reach < inf")


@dataclass(frozen=True, eq=False)
class _StartView:
    """A candidate prior world seen from frame 0's camera (:meth:`WorldPrior._start_view`)."""

    start: Tensor  # [3, 4] float64: world -> frame 0's camera, metres
    clearance: float  # metres of that camera above the world's ground
    colors: ColorMap  # the world's colours to frame 0's
    rgb: Tensor  # [3, H, W] the view in frame 0's palette
    sky: Tensor  # [H, W] bool: the world's sky in it
    distance: float  # patch distance of rgb from frame 0 (0 when there is one candidate)


@dataclass(frozen=True, eq=False)
class _Anchor:
    """Frame 0 and how the prior world is tied to it."""

    rgbd: Tensor  # [1, 4, H, W]
    cam_from_world: Tensor  # [3, 4]
    intrinsics: Tensor  # [4]
    flight_from_world: Tensor  # [4, 4] float64, rigid: world -> flight frame, both in metres
    scale: float  # metres per flight unit
    colors: ColorMap
    ground: GroundFit
    sky: SkyDome | None  # frame 0's sky at infinity (None when frame 0 shows no sky)
    sky_tint: ElevationTint | None  # the world's sky to frame 0's by elevation (None when frame 0 shows no sky)
    sky_origin: Tensor  # [3] metres: frame 0's camera in the prior world, whence its sky is always seen
    min_height: float  # metres: the prior world is seen from at least this high above its ground


class WorldPrior(Memory):
    """Frame 0, exact where it resolves the view, inside a procedural world (see the module doc)."""

    def __init__(self, config: WorldPriorConfig | None = None, warp: Warp = warp_rgbd) -> None:
        super().__init__(warp)
        self.config = config or WorldPriorConfig()
        self.preset = "hills" if self.config.preset == "auto" else self.config.preset  # set again at reset
        self.world_seed = self.config.seed * self.config.candidates  # the chosen candidate's, at reset
        self.candidate_distances: dict[int, float] = {}  # world seed -> its start view's distance from frame 0
        self._worlds: dict[tuple[str, int], World] = {}
        self._anchor: _Anchor | None = None

    @property
    def world(self) -> World:
        """The prior world of :attr:`preset` and :attr:`world_seed` (built once)."""
        return self._world(self.preset, self.world_seed)

    def _world(self, preset: str, seed: int) -> World:
        if (preset, seed) not in self._worlds:
            self._worlds[preset, seed] = World(replace(scene_preset(preset).world, seed=seed))
        return self._worlds[preset, seed]

    @property
    def ground(self) -> GroundFit:
        """The ground plane fitted under frame 0 at the last :meth:`reset`."""
        return self._require_anchor().ground

    @property
    def gravity(self) -> Tensor:
        """World down ``[3]`` float64 in the flight's world: frame 0's down axis tilted by the fitted pitch."""
        anchor = self._require_anchor()
        return _gravity(anchor.cam_from_world, anchor.ground)

    @property
    def scale(self) -> float:
        """Prior-world metres per flight unit (fixed at :meth:`reset`)."""
        return self._require_anchor().scale

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        sky = rgbd[0, 3].float().cpu() < SKY_DISPARITY
        self.preset = terrain_preset(rgbd[0, 3]) if self.config.preset == "auto" else self.config.preset
        ground = fit_ground(rgbd[0, 3].float(), intrinsics)
        first = self.config.seed * self.config.candidates
        views = [self._start_view(self._world(self.preset, seed), ground, rgbd, sky, intrinsics)
                 for seed in range(first, first + self.config.candidates)]
        self.candidate_distances = {first + k: view.distance for k, view in enumerate(views)}
        best = min(range(len(views)), key=lambda k: views[k].distance)
        self.world_seed = first + best
        self._worlds = {(self.preset, self.world_seed): self.world}  # the other candidates are not kept
        view = views[best]
        scale = view.clearance / ground.height
        colors = view.colors
        if self.config.palette_reach > 0 and colors.maps[False] is not None:  # a land transfer to read along the way
            colors = colors.with_land_palette(palette_land(self.world, view.start, view.clearance, intrinsics,
                                                           self.config.palette_reach * scale, self.config.render))
        flight_from_world = compose_poses(invert_pose(_metric(cam_from_world, scale)), to_homogeneous_pose(view.start))
        dome, tint = frame0_sky(rgbd, cam_from_world, intrinsics, _gravity(cam_from_world, ground), view.rgb,
                                 view.sky)
        self._anchor = _Anchor(rgbd, cam_from_world, intrinsics, flight_from_world, scale, colors, ground, dome,
                               tint, camera_center(view.start).float(), _MIN_HEIGHT_FRACTION * view.clearance)

    def _start_view(self, world: World, ground: GroundFit, rgbd: Tensor, sky: Tensor, intrinsics: Tensor) -> _StartView:
        """``world`` seen from frame 0's camera placed in it, recoloured to frame 0's palette, and its distance from
        frame 0 (``rgbd [1, 4, H, W]``, ``sky [H, W]``)."""
        from viewgen.evaluation.distribution import NUM_PATCHES, PATCH_SIZE, patch_distance

        start, clearance = self._start_pose(world, ground)  # world -> frame 0 camera, metres; its height over ground
        world_rgb, world_depth = render(world, start.float(), intrinsics.float().cpu(), *rgbd.shape[-2:],
                                        self.config.render)
        world_sky = world_depth[0, 0].isinf()
        colors = ColorMap(world_rgb[0], world_sky, rgbd[0, :3].float().cpu(), sky,
                          water_mask(world, start.float(), intrinsics.float().cpu(), world_depth)[0, 0])
        recoloured = colors.apply(world_rgb[0], world_sky)
        height, width = rgbd.shape[-2:]
        distance = (patch_distance(recoloured[None], rgbd[:, :3].float().cpu(),
                                   num_patches=min(NUM_PATCHES, height * width // 4))  # no more than the image holds
                    if self.config.candidates > 1 and min(height, width) >= PATCH_SIZE else 0.0)
        return _StartView(start, clearance, colors, recoloured, world_sky, distance)

    def _start_pose(self, world: World, ground: GroundFit) -> tuple[Tensor, float]:
        """Frame 0's camera in ``world`` (the preset's start, ``clearance`` above the ground, the fitted pitch) and
        that clearance in metres (the preset start's own when the config's is ``None``)."""
        preset_start = start_pose(self.preset, world).double()
        position = -preset_start[:, :3].T @ preset_start[:, 3]
        ground_height = float(world.ground_height(position[0:1].float(), position[2:3].float()))
        clearance = self.config.clearance
        if clearance is None:
            clearance = -float(position[1]) - ground_height
        position[1] = -(ground_height + clearance)
        forward = preset_start[2, :3]
        yaw = math.atan2(float(forward[0]), float(forward[2]))
        return camera_pose(position, torch.tensor(yaw), torch.tensor(math.radians(ground.pitch_deg))), clearance

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """``(rgbd [1, 4, H, W], mask [1, 1, H, W])``: frame 0 where it resolves, the prior world elsewhere.

        Frame 0's pixels get the world's fine detail on top where they are enlarged from
        ``magnification[0]`` (fully at ``[1]``) and give way to the world from ``[1]`` (fully at
        twice that); its sky fades out with the camera's travel, and so do its parts thinner than
        3 pixels (:func:`~viewgen.memory.enlargement.thin_parts`). The mask is 0 only in holes of
        frame 0's shown content (half-width up to ``hole_ramp[0]``), rising to 1 at ``hole_ramp[1]``:
        the refiner fills those from their surroundings, which the prior world could not do
        better; farther away the world is shown.
        """
        anchor_rgbd, source_px, known = self._warp_anchor(cam_from_world, intrinsics)
        known = known & ~seen_from_behind(source_px, known)  # a hole: the refiner's when small, else the world's
        low, high = self.config.magnification
        stretch = enlargement(source_px, known)
        enlarged = 1.0 - _fade(stretch, low, high)
        sky_fade = self._sky_fade(cam_from_world)
        weight = (known.to(anchor_rgbd) * _fade(close_lines(stretch), high, 2.0 * high)
                  * self._sky_weight(anchor_rgbd[:, 3:], sky_fade))
        world = self._render_world(cam_from_world, intrinsics, tuple(anchor_rgbd.shape[-2:])).to(anchor_rgbd)
        if sky_fade < 1.0:  # away from frame 0: its thin parts are slivers (mesh edges seen end-on)
            weight = weight.masked_fill(thin_parts(weight > 0.5), 0.0)
        detail = world[:, :3] - gaussian_blur(world[:, :3], self.config.detail_sigma)
        anchor_rgbd = torch.cat([(anchor_rgbd[:, :3] + enlarged * detail).clamp(0.0, 1.0), anchor_rgbd[:, 3:]], 1)
        frame = torch.lerp(world, anchor_rgbd, weight)
        return frame, torch.maximum(known.to(anchor_rgbd), self._far_from(known & (weight > 0.5)))

    def _warp_anchor(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Frame 0 seen from ``cam_from_world``: ``(rgbd [1, 4, H, W], source_px [1, 2, H, W], known [1, 1, H, W])``.

        The mesh warp carries each pixel's source coordinates (``source_px``, in frame 0's pixels)
        instead of its colour, and frame 0 is sampled there (``config.sampling``): ``"mix"``, the
        mean of bicubic and bilinear, is sharper than the warp's linear interpolation across each
        triangle, which blurs every frame. Unknown pixels (coverage below ``config.known``) are 0.
        """
        anchor = self._require_anchor()
        height, width = anchor.rgbd.shape[-2:]
        uv = pixel_centers_uv(height, width, dtype=anchor.rgbd.dtype, device=anchor.rgbd.device).permute(2, 0, 1)
        source = torch.cat([uv[None], torch.zeros_like(uv[None, :1]), anchor.rgbd[:, 3:]], dim=1)
        warped, mask = self.warp(source, anchor.cam_from_world, cam_from_world, anchor.intrinsics, intrinsics)
        coverage = mask.clamp_min(0.0).sqrt()  # warp_rgbd premultiplies by m and returns m * m
        known = coverage >= self.config.known
        warped = torch.where(known, warped / coverage.clamp_min(self.config.known), torch.zeros_like(warped))
        grid = (2.0 * warped[:, :2] - 1.0).permute(0, 2, 3, 1)
        modes = ("bicubic", "bilinear") if self.config.sampling == "mix" else (self.config.sampling,)
        rgb = sum(F.grid_sample(anchor.rgbd[:, :3], grid, mode=mode, padding_mode="border", align_corners=False)
                  for mode in modes) / len(modes)
        rgbd = torch.cat([torch.where(known, rgb, torch.zeros_like(rgb)), warped[:, 3:]], dim=1).clamp(0.0, 1.0)
        scale = torch.tensor([width, height], dtype=warped.dtype, device=warped.device).view(1, 2, 1, 1)
        return rgbd, warped[:, :2] * scale, known

    def _sky_fade(self, cam_from_world: Tensor) -> float:
        """1 until the camera is ``sky_travel[0]`` from frame 0's position, 0 from ``sky_travel[1]``."""
        anchor = self._require_anchor()
        travelled = float((camera_center(cam_from_world.double().cpu())
                           - camera_center(anchor.cam_from_world.double().cpu())).norm())
        low, high = self.config.sky_travel
        return min(1.0, max(0.0, (high - travelled) / (high - low)))

    @staticmethod
    def _sky_weight(disparity: Tensor, sky_fade: float) -> Tensor:
        """``[1, 1, H, W]``: frame 0's sky (in the warped ``disparity [1, 1, H, W]``) weighted by ``sky_fade``
        (:meth:`_sky_fade`: it fades out as the camera leaves frame 0's position), its land by 1.

        The warp puts the sky at the farthest depth it has (disparity ``MIN_DISPARITY``), so it
        parallaxes like a distant wall; the prior world's sky (frame 0's dome where it has one) is
        at infinity. Distant land (disparity above that floor) stays: it is enlarged as the camera
        nears, which :func:`~viewgen.memory.enlargement.enlargement` measures.
        """
        sky = disparity < _WARPED_SKY
        return torch.where(sky, torch.full_like(disparity, sky_fade), torch.ones_like(disparity))

    def _far_from(self, shown: Tensor) -> Tensor:
        """``[1, 1, H, W]``: 0 in holes of the ``shown`` pixels up to ``hole_ramp[0]`` (of the width) in
        half-width, 1 in holes from ``[1]`` on (:func:`~viewgen.rendering.holes.hole_half_width`).

        By the hole's width, not by the distance to the nearest shown pixel: the rim of a wide hole
        (the land a turn brings in beside frame 0) is next to shown pixels too, but a fill from its
        sides draws streaks there, so it shows the world (0.2 dB less at frame 50 of the
        short-range protocol, still above the warp baseline, and no streaks).
        """
        if not bool(shown.any()):
            return torch.ones(shown.shape, device=shown.device)
        low, high = (fraction * shown.shape[-1] for fraction in self.config.hole_ramp)
        half_width = hole_half_width((~shown[0, 0]).cpu().numpy(), round(high))
        return ((torch.from_numpy(half_width).to(shown.device) - low) / (high - low)).clamp(0.0, 1.0)[None, None]

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """The world is a function of position: nothing to remember; returns ``rgbd``."""
        self._require_anchor()
        return rgbd

    def _render_world(self, cam_from_world: Tensor, intrinsics: Tensor, size: tuple[int, int]) -> Tensor:
        """The prior world from the flight pose ``cam_from_world``: ``rgbd [1, 4, H, W]`` (flight disparity).

        Its sky is frame 0's sky dome (:class:`SkyDome`, rotation only) inside and near frame 0's
        view, the world's own sky in frame 0's palette farther out, seen from frame 0's camera
        whatever the flight's position: at infinity too (seen from the camera, its cloud layer
        came down to a ceiling streaked toward the horizon when the flight climbed over invented
        mountains toward the clouds' altitude).
        """
        anchor = self._require_anchor()
        # Seen from at least min_height above the world's surface: the flight steers by frame 0's geometry as much
        # as the world's, and can meet one of the world's invented hills from inside, where a camera sees one flat
        # colour; lifted, it sees the hill from above, and climbs.
        world_pose, _ = raise_above_ground(
            self.world, compose_poses(_metric(cam_from_world, anchor.scale), anchor.flight_from_world)[None],
            anchor.min_height)
        world_pose = world_pose[0]
        rgb, depth = render(self.world, world_pose[:3].float(), intrinsics.float().cpu(), *size, self.config.render,
                            sky_origin=anchor.sky_origin)
        sky = depth[0, 0].isinf()
        rgb = anchor.colors.apply(rgb[0], sky, water_mask(self.world, world_pose[:3].float(), intrinsics.float().cpu(),
                                                          depth)[0, 0])
        if anchor.sky_tint is not None:
            elevation = ray_elevation(cam_from_world, intrinsics, size, self.gravity)
            rgb = torch.where(sky, (rgb + anchor.sky_tint(elevation).to(rgb)).clamp(0.0, 1.0), rgb)
        if anchor.sky is not None:
            dome_rgb, dome_weight = anchor.sky.look(cam_from_world.cpu(), intrinsics.cpu(), size)
            rgb = torch.where(sky, torch.lerp(rgb, dome_rgb[0], dome_weight[0]), rgb)
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


def _fade(value: Tensor, low: float, high: float) -> Tensor:
    """1 up to ``low``, 0 from ``high``, linear in between (same shape as ``value``)."""
    return ((high - value) / (high - low)).clamp(0.0, 1.0)
