"""Frame 0's sky at infinity: seen by rotation only, wherever the camera goes.

The sky is (nearly) at infinity: moving the camera does not move it, turning the camera does.
The mesh warp cannot show that (it puts the sky at its farthest depth, a wall that parallaxes and
is enlarged as the camera approaches), so the weight-free flight keeps frame 0's sky apart, as
a dome (the idea of Infinite Nature Zero's sky dome, here without a learned outpainter):

    build(rgb_0, sky_0):  a canvas of frame 0 grown by ``margin`` on every side; where frame 0
                          shows no sky (its land, and the margin) the sky around is spread in
                          (:func:`~viewgen.rendering.holes.fill_four_sides`) and blurred
                          (``blur`` of the width), so no land colour and no streak of a plain
                          copy reaches the sky; ``coverage`` is the sky mask blurred alike
    look(cam):            each view pixel's ray, rotated into frame 0's camera, is projected
                          with frame 0's intrinsics and the canvas sampled there; the weight is
                          the coverage there, falling to 0 at the canvas edge: the caller shows
                          some other sky where frame 0 saw none (behind its land, outside its view)

Where frame 0's land stood against the sky the dome knows nothing: spread and blurred, the sky
around a mountain turned into a grey, mountain-shaped haze hanging in the sky of every later
view, so there the weight gives way to the caller's sky.

Beside the dome, the caller's own sky (the prior world's, recoloured to frame 0's sky as a whole) gets
an :class:`ElevationTint`: frame 0's sky minus the caller's sky, averaged by the rays' elevation where
both saw sky from frame 0's camera. Frame 0's sky is brighter by the horizon and deeper blue above, in
its own way; without the tint the dome's edge stood in every later sky as a pale rectangle beside the
caller's darker blue.

Shapes: the canvas ``[1, 3, H0 + 2 pad_y, W0 + 2 pad_x]``; :meth:`SkyDome.look` returns
``rgb [1, 3, H, W]`` and ``weight [1, 1, H, W]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.geometry.projection import pixel_centers_uv, project, uv_to_rays
from viewgen.memory.prior_fit import OPEN_SKY_DISPARITY
from viewgen.procedural.filters import gaussian_blur
from viewgen.rendering.holes import fill_four_sides

__all__ = ["ElevationTint", "SkyDome", "frame0_sky", "ray_elevation"]

_MIN_TINT_FRACTION = 0.02  # of frame 0's pixels: sky in both views, or no tint


class SkyDome:
    """Frame 0's sky, shown by rotation only (see the module doc).

    Args:
        rgb: frame 0 ``[3, H, W]`` in [0, 1]; sky: ``[H, W]`` bool, True where frame 0 shows sky.
        cam_from_world: frame 0's pose ``[3, 4]``; intrinsics: its normalized ``[4]``.
        margin: how far outside frame 0's view (a fraction of its size on each side) the dome
            reaches; its weight falls to 0 there.
        blur: Gaussian sigma, as a fraction of frame 0's width, of the sky spread over land and margin
            and of the coverage (the weight's soft edge along frame 0's skyline).
    """

    def __init__(self, rgb: Tensor, sky: Tensor, cam_from_world: Tensor, intrinsics: Tensor,
                 margin: float = 0.1, blur: float = 0.03) -> None:
        height, width = sky.shape
        self.pad = (math.ceil(margin * width), math.ceil(margin * height))  # (x, y) pixels on each side
        pad_x, pad_y = self.pad
        canvas = F.pad(rgb[None].float(), (pad_x, pad_x, pad_y, pad_y))
        known = F.pad(sky[None, None], (pad_x, pad_x, pad_y, pad_y), value=False)
        spread = gaussian_blur(fill_four_sides(canvas, known), blur * width)
        self.image = torch.where(known, canvas, spread)
        self.coverage = gaussian_blur(known.to(canvas.dtype), blur * width).clamp(0.0, 1.0)  # 1 deep inside the sky
        self.size = (height, width)
        self.rotation = cam_from_world[:3, :3].double()
        self.intrinsics = intrinsics.double()

    def look(self, cam_from_world: Tensor, intrinsics: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """The dome seen from ``cam_from_world [3, 4]`` at ``size`` ``(H, W)``: ``(rgb, weight)``."""
        uv = pixel_centers_uv(*size, dtype=torch.float64, device=self.image.device)
        rays = uv_to_rays(uv, intrinsics.double().to(uv.device))  # [H, W, 3] in the view's camera
        in_frame0 = rays @ (self.rotation.to(uv.device) @ cam_from_world[:3, :3].double().to(uv.device).T).T
        source, depth = project(in_frame0, self.intrinsics.to(uv.device))  # frame 0's normalized image coordinates
        frame_size = torch.tensor(self.size[::-1], dtype=torch.float64, device=uv.device)  # (W, H)
        pad = torch.tensor(self.pad, dtype=torch.float64, device=uv.device)
        on_canvas = (source * frame_size + pad) / (frame_size + 2 * pad)
        outside = torch.maximum(-source, source - 1.0) * frame_size / pad  # 1 at the canvas edge
        weight = (1.0 - outside.amax(-1, keepdim=True)).clamp(0.0, 1.0) * (depth > 1e-6)[..., None]
        grid = (2.0 * on_canvas - 1.0).clamp(-2.0, 2.0)[None].to(self.image.dtype)
        rgb = F.grid_sample(self.image, grid, mode="bilinear", padding_mode="border", align_corners=False)
        coverage = F.grid_sample(self.coverage, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return rgb, weight.permute(2, 0, 1)[None].to(self.image.dtype) * coverage


def ray_elevation(cam_from_world: Tensor, intrinsics: Tensor, size: tuple[int, int], down: Tensor) -> Tensor:
    """Elevation in radians above the horizontal (the plane normal to ``down [3]``, world) of every pixel's
    ray of a camera ``cam_from_world [3, 4]`` with ``intrinsics [4]``: ``[H, W]`` float64."""
    uv = pixel_centers_uv(*size, dtype=torch.float64)
    rays = uv_to_rays(uv, intrinsics.double().cpu()) @ cam_from_world[:3, :3].double().cpu()  # [H, W, 3] world
    sine = -(rays @ down.double().cpu()) / rays.norm(dim=-1)
    return sine.clamp(-1.0, 1.0).asin()


class ElevationTint:
    """A colour offset by elevation that takes some other sky to frame 0's (see the module doc).

    Args:
        rgb, other_rgb: ``[3, H, W]`` frame 0 and the other sky's view from frame 0's camera;
        sky, other_sky: ``[H, W]`` bool, where each shows sky; elevation: ``[H, W]`` radians of
        frame 0's rays (:func:`ray_elevation`).
        step_deg: width of the elevation bins; the offset is linear between their centres and held
            beyond the first and last bin that had sky in both.
    """

    def __init__(self, rgb: Tensor, other_rgb: Tensor, sky: Tensor, other_sky: Tensor, elevation: Tensor,
                 step_deg: float = 2.0) -> None:
        both = sky & other_sky
        self.step = math.radians(step_deg)
        self.table: Tensor | None = None  # [3, bins] offsets from elevation self.low in steps of self.step
        if int(both.sum()) < _MIN_TINT_FRACTION * both.numel():
            return
        bins = (elevation[both] / self.step).floor().long()
        self.low = int(bins.min())
        index = bins - self.low
        count = torch.bincount(index).double()
        offset = (rgb[:, both] - other_rgb[:, both]).double()
        sums = torch.zeros(3, count.numel(), dtype=torch.float64).index_add_(1, index, offset)
        filled = count > 0
        positions = torch.arange(count.numel())
        # an empty bin takes the nearest filled one below it (the first bin always has sky)
        nearest = torch.where(filled, positions, torch.full_like(positions, -1)).cummax(0).values
        self.table = sums[:, nearest] / count[nearest]

    def __call__(self, elevation: Tensor) -> Tensor:
        """The offset ``[3, H, W]`` float64 at ``elevation [H, W]`` (radians); zero when frame 0 gave none."""
        if self.table is None:
            return torch.zeros(3, *elevation.shape, dtype=torch.float64)
        last = self.table.shape[1] - 1
        place = (elevation.double() / self.step - self.low - 0.5).clamp(0.0, float(last))
        below = place.floor().long().clamp_max(max(last - 1, 0))
        upper = (below + 1).clamp_max(last)
        fraction = (place - below).clamp(0.0, 1.0)
        return torch.lerp(self.table[:, below], self.table[:, upper], fraction)


def frame0_sky(rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor, down: Tensor, world_rgb: Tensor,
               world_sky: Tensor) -> tuple[SkyDome | None, ElevationTint | None]:
    """Frame 0's (``rgbd [1, 4, H, W]``) open sky as a dome, and the tint taking the prior world's sky (``world_rgb
    [3, H, W]`` recoloured, sky where ``world_sky [H, W]``, seen from frame 0's camera) to it; Nones without sky.

    Only the open sky: far ridges (below SKY_DISPARITY) on the dome would hang in the sky of every later view,
    a ridge that never comes nearer; the world shows land there.
    """
    sky = rgbd[0, 3].float().cpu() < OPEN_SKY_DISPARITY
    if not bool(sky.any()):
        return None, None
    rgb = rgbd[0, :3].float().cpu()
    elevation = ray_elevation(cam_from_world, intrinsics, tuple(sky.shape), down)
    return (SkyDome(rgb, sky, cam_from_world.cpu(), intrinsics.cpu()),
            ElevationTint(rgb, world_rgb, sky, world_sky, elevation))
