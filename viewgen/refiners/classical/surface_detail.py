"""Texture fixed to the 3D surface: fine detail for the weight-free refiner that never smears.

A fly-through magnifies the image on every forward step, so what the first frame resolved at
one pixel soon covers several and looks smooth; the learned refiner paints new detail. Adding
2D image noise and feeding it back with the frame does not work: the next warps stretch it
into radial streaks. Here the detail is a function of the **world position** of each pixel's
surface point, evaluated anew for every emitted frame and never warped:

    p_world = inverse(cam_from_world) * unproject(pixel, depth = 1 / disparity)
    detail  = sum_k w_k(footprint) * noise_k(p_world.x, p_world.z)      # octaves on the ground plane
    rgb    += amplitude * detail * rgb / luma(rgb)                       # luminance only, hue kept

``footprint`` is the world size of a pixel at that depth (``depth / (fx * W)``); an octave's
weight fades in as its wavelength shrinks below ``max_pixels`` pixels and out before it reaches
``min_pixels`` (no aliasing, no shimmer), so the texture gets finer as the camera approaches,
like a real surface. The amplitude fills only what the frame lacks: the local fine-band energy
of the first frame at similar disparity is the target, and the refined frame's own energy is
subtracted. Sky (disparity below ``sky_disparity``) gets none.

Hand-written because no library synthesises view-consistent texture for an RGBD frame; the
noise lattice is :mod:`viewgen.procedural.noise` (the synthetic world's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.geometry.disparity import depth_from_disparity
from viewgen.geometry.poses import invert_pose, to_homogeneous_pose
from viewgen.geometry.projection import pixel_centers_uv, unproject
from viewgen.procedural.filters import luma
from viewgen.procedural.noise import NoiseTexture, make_octaves, sample_octaves, smoothstep

__all__ = ["SurfaceDetail", "SurfaceDetailConfig", "fine_energy"]

@dataclass(frozen=True)
class SurfaceDetailConfig:
    """Settings of :class:`SurfaceDetail`.

    octaves, finest_wavelength: noise octaves from ``finest_wavelength * 2**(octaves-1)`` down to
        ``finest_wavelength`` world units (depth 1 is the nearest input point).
    min_pixels, max_pixels: an octave shows when its wavelength spans between these many pixels.
    disparity_bins: bins of the first frame's disparity in which the target energy is measured.
    strength: scale of the synthesised deficit (1 restores the first frame's fine energy).
    sky_disparity: no detail below this disparity (sky and the far horizon).
    """

    octaves: int = 12
    finest_wavelength: float = 0.002
    min_pixels: float = 2.0
    max_pixels: float = 8.0
    disparity_bins: int = 8
    strength: float = 1.0
    sky_disparity: float = 0.03


def fine_energy(rgb: Tensor, sigma_px: float = 1.0, window_px: int = 9) -> Tensor:
    """Local RMS of the luminance high-pass ``luma - blur(luma)``: ``[B, 3, H, W] -> [B, 1, H, W]``."""
    gray = luma(rgb)
    high = gray - _blur(gray, sigma_px)
    return F.avg_pool2d(high.square(), window_px, stride=1, padding=window_px // 2,
                        count_include_pad=False).clamp_min(0).sqrt()


def _blur(image: Tensor, sigma: float) -> Tensor:
    radius = max(1, int(3 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(image, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))


class SurfaceDetail:
    """World-anchored fine texture (see the module docstring).

    Call :meth:`fit` on the first frame, then :meth:`apply` on every refined frame.
    """

    def __init__(self, config: SurfaceDetailConfig | None = None, seed: int = 0) -> None:
        self.config = config = config or SurfaceDetailConfig()
        generator = torch.Generator().manual_seed(seed)
        self.texture = NoiseTexture(generator, channels=1)
        coarsest = config.finest_wavelength * 2.0 ** (config.octaves - 1)
        self.octaves = make_octaves(generator, config.octaves, coarsest)
        self.target = torch.zeros(config.disparity_bins)  # fine energy per disparity bin (first frame)
        probe = torch.rand(4096, 1, 2, generator=generator, dtype=torch.float64).float() * self.texture.period
        self._noise_rms = float(self.texture.sample(probe).square().mean().sqrt())  # bicubic smooths the lattice

    def fit(self, rgbd: Tensor) -> SurfaceDetail:
        """Measure the first frame's fine energy per disparity bin: ``rgbd [1, 4, H, W]``."""
        energy = fine_energy(rgbd[:, :3].float())[0, 0].flatten()
        bins = self._bins(rgbd[:, 3:].float())[0, 0].flatten()
        ground = rgbd[0, 3].flatten() >= self.config.sky_disparity
        target = torch.zeros(self.config.disparity_bins)
        for index in range(self.config.disparity_bins):
            values = energy[(bins == index) & ground]
            target[index] = values.median() if len(values) > 32 else float("nan")
        fallback = target.nan_to_num(0.0).max()  # bins the first frame lacks take its busiest texture
        self.target = target.nan_to_num(float(fallback))
        return self

    def apply(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """``rgbd [1, 4, H, W]`` seen from ``cam_from_world [3, 4]`` -> the same with texture added to RGB."""
        rgb, disparity = rgbd[:, :3], rgbd[:, 3:]
        height, width = rgbd.shape[-2:]
        depth = depth_from_disparity(disparity)
        footprint = depth / (intrinsics[0] * width)  # world units per pixel
        detail = self._noise(depth, cam_from_world, intrinsics, footprint.flatten()).view(1, 1, height, width)
        target = self.target.to(rgbd).index_select(0, self._bins(disparity).flatten()).view_as(disparity)
        deficit = (target.square() - fine_energy(rgb).square()).clamp_min(0).sqrt()
        ground = smoothstep(self.config.sky_disparity, 2 * self.config.sky_disparity, disparity)
        brightness = luma(rgb).clamp_min(0.02)
        amplitude = self.config.strength * deficit * ground / self._noise_rms
        textured = rgb + amplitude * detail * rgb / brightness
        return torch.cat([textured.clamp(0, 1), disparity], dim=1)

    def _noise(self, depth: Tensor, cam_from_world: Tensor, intrinsics: Tensor, footprint: Tensor) -> Tensor:
        """Octave sum at each pixel's world point, weighted by the octave's size in pixels: ``[H * W]``."""
        height, width = depth.shape[-2:]
        uv = pixel_centers_uv(height, width, dtype=depth.dtype, device=depth.device).reshape(1, -1, 2)
        points = unproject(uv, depth.reshape(1, -1), intrinsics.view(1, 4).to(depth))[0]  # [HW, 3] camera
        world_from_cam = invert_pose(to_homogeneous_pose(cam_from_world.to(depth)))
        world = points @ world_from_cam[:3, :3].T + world_from_cam[:3, 3]
        values = sample_octaves(self.texture, self.octaves, world[:, 0], world[:, 2])[0]  # [HW, K]
        pixels = self.octaves.wavelengths.to(depth).view(1, -1) / footprint.view(-1, 1)  # octave size in pixels
        weights = smoothstep(self.config.min_pixels, 2 * self.config.min_pixels, pixels)
        weights = weights * (1.0 - smoothstep(self.config.max_pixels / 2, self.config.max_pixels, pixels))
        norm = weights.square().sum(dim=1).sqrt().clamp_min(1.0)  # unit variance where octaves fully show
        return (values * weights).sum(dim=1) / norm  # unit variance wherever any octave shows

    def _bins(self, disparity: Tensor) -> Tensor:
        scaled = (disparity.clamp(0, 1) * self.config.disparity_bins).long()
        return scaled.clamp(0, self.config.disparity_bins - 1)
