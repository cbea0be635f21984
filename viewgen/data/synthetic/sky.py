"""Sky, sun, clouds and aerial perspective.

Directions are unit world vectors ``[N, 3]`` in the package's frame (x east, **y down**, z north;
see :mod:`viewgen.data.synthetic.terrain`), so a direction's elevation sine is ``-d[:, 1]``.
The sky is a vertical gradient from the horizon color to the zenith color, a sun disc with a
two-lobed glow, and a layer of procedural clouds on a horizontal plane (fBm coverage, thinned
toward the horizon). Fog mixes distant surfaces toward the color the sky has at the horizon in
the same azimuth, so far terrain melts into the sky.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.procedural.noise import NoiseTexture, Octaves, sample_octaves, smoothstep

__all__ = ["SkyConfig", "apply_fog", "horizon_color", "sky_color", "sun_direction"]

Color = tuple[float, float, float]


@dataclass(frozen=True)
class SkyConfig:
    """Sky, sun, clouds and fog. Colors are linear-ish RGB in [0, 1]; lengths in world units.

    sun_azimuth_deg: clockwise from north (+z) toward east (+x); sun_elevation_deg: above the
    horizon. sun_size_deg: angular radius of the disc. cloud_coverage in [0, 1]: fraction of the
    cloud plane covered. fog_distance: distance at which fog reaches ``1 - 1/e`` (63 %).
    """

    zenith_color: Color = (0.20, 0.40, 0.78)
    horizon_color: Color = (0.70, 0.80, 0.90)
    sun_color: Color = (1.00, 0.95, 0.85)
    sun_azimuth_deg: float = 25.0
    sun_elevation_deg: float = 30.0
    sun_size_deg: float = 0.9
    cloud_altitude: float = 1800.0
    cloud_coverage: float = 0.4
    cloud_wavelength: float = 1500.0
    cloud_color: Color = (1.0, 1.0, 1.0)
    cloud_shade_color: Color = (0.62, 0.66, 0.74)
    fog_distance: float = 7000.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.cloud_coverage <= 1.0:
            raise ValueError(f"cloud_coverage must lie in [0, 1], got {self.cloud_coverage}")
        if self.fog_distance <= 0 or self.cloud_wavelength <= 0 or self.sun_size_deg <= 0:
            raise ValueError("fog_distance, cloud_wavelength and sun_size_deg must be positive")


def sun_direction(config: SkyConfig) -> Tensor:
    """Unit world vector toward the sun, ``[3]`` float32 (y down, so its y is negative by day)."""
    azimuth, elevation = math.radians(config.sun_azimuth_deg), math.radians(config.sun_elevation_deg)
    return torch.tensor([math.cos(elevation) * math.sin(azimuth), -math.sin(elevation),
                         math.cos(elevation) * math.cos(azimuth)], dtype=torch.float32)


def _color(value: Color) -> Tensor:
    return torch.tensor(value, dtype=torch.float32)


def _sun_glow(config: SkyConfig, cos_sun: Tensor) -> Tensor:
    """Additive glow around the sun ``[N, 3]`` from the cosine to the sun ``[N]``."""
    c = cos_sun.clamp(min=0.0)
    strength = 0.28 * c ** 6 + 0.35 * c ** 64
    return strength.unsqueeze(-1) * _color(config.sun_color)


def horizon_color(config: SkyConfig, sun: Tensor, dirs: Tensor) -> Tensor:
    """Color of the clear sky at the horizon in the azimuth of ``dirs [N, 3]``: ``[N, 3]``."""
    flat = dirs * torch.tensor([1.0, 0.0, 1.0])
    flat = torch.nn.functional.normalize(flat, dim=-1, eps=1e-8)
    return _color(config.horizon_color) + _sun_glow(config, flat @ sun)


def sky_color(config: SkyConfig, sun: Tensor, dirs: Tensor, origins: Tensor | None = None,
              clouds: tuple[NoiseTexture, Octaves] | None = None) -> Tensor:
    """Sky color seen along unit ``dirs [N, 3]`` from ``origins [N, 3]``: ``[N, 3]`` in [0, 1].

    ``clouds`` is the world's cloud noise (texture, octaves); ``None`` draws a clear sky.
    """
    rise = (-dirs[:, 1]).clamp(min=0.0)
    blend = rise.pow(0.55).unsqueeze(-1)
    color = torch.lerp(_color(config.horizon_color), _color(config.zenith_color), blend)
    cos_sun = dirs @ sun
    color = color + _sun_glow(config, cos_sun)
    if clouds is not None and origins is not None:
        color = _add_clouds(config, sun, dirs, origins, color, clouds)
    size = math.cos(math.radians(config.sun_size_deg))
    disc = smoothstep(size, 1.0 - (1.0 - size) * 0.3, cos_sun).unsqueeze(-1)
    return (color + disc * 2.0 * _color(config.sun_color)).clamp(0.0, 1.0)


def _add_clouds(config: SkyConfig, sun: Tensor, dirs: Tensor, origins: Tensor, color: Tensor,
                clouds: tuple[NoiseTexture, Octaves]) -> Tensor:
    """Blend the cloud layer over ``color [N, 3]`` where the rays rise through it."""
    rise = -dirs[:, 1]
    up = rise > 0.01
    if not bool(up.any()):
        return color
    index = up.nonzero().squeeze(1)
    d, o, r = dirs[index], origins[index], rise[index]
    t = (config.cloud_altitude + o[:, 1]) / r  # origin elevation is -o_y
    t = t.clamp(min=0.0)
    x, z = o[:, 0] + t * d[:, 0], o[:, 2] + t * d[:, 2]
    texture, octaves = clouds
    noise = sample_octaves(texture, octaves, x, z, "bilinear")[0]  # [n, K]
    weights = 0.55 ** torch.arange(octaves.count, dtype=torch.float32)
    density = noise @ (weights / weights.sum()) * 2.2
    threshold = 1.2 - 2.4 * config.cloud_coverage
    cover = smoothstep(threshold, threshold + 0.9, density)
    fade = torch.exp(-t / (config.cloud_altitude * 25.0)) * smoothstep(0.01, 0.12, r)
    thick = smoothstep(threshold + 0.3, threshold + 1.6, density).unsqueeze(-1)
    lit = (0.5 + 0.5 * (d @ sun).clamp(min=0.0)).unsqueeze(-1)
    cloud = torch.lerp(_color(config.cloud_color), _color(config.cloud_shade_color), thick * (1.2 - lit * 0.6))
    cloud = cloud + 0.25 * _sun_glow(config, d @ sun)
    alpha = (cover * fade).unsqueeze(-1)
    color = color.clone()
    color[index] = torch.lerp(color[index], cloud, alpha)
    return color


def apply_fog(config: SkyConfig, sun: Tensor, color: Tensor, dirs: Tensor, distance: Tensor) -> Tensor:
    """Aerial perspective: mix ``color [N, 3]`` toward the horizon color by ``1 - exp(-distance / D)``."""
    fog = (1.0 - torch.exp(-distance / config.fog_distance)).unsqueeze(-1)
    return torch.lerp(color, horizon_color(config, sun, dirs), fog)
