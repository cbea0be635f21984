"""Surface materials and lighting of the synthetic world.

Every hit point gets a material mix from its elevation, its slope and three channels of
material noise (broad variation, patches, fine grain; octaves finer than the pixel footprint are
faded out so that distant ground does not shimmer): water, sand near the waterline, grass (lush
to dry), forest patches below the tree line, rock on steep slopes and above the tree line, snow
above the snow line on gentle slopes. Land is lit by the sun (Lambert) plus a hemispherical sky
ambient; water reflects the sky with a Schlick Fresnel term over a depth-tinted body color, with
small noise waves, a sun glint and foam at the shore.

Vectors are world vectors in the package frame (x east, **y down**, z north): a normal's
"up" component is ``-n[:, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.procedural.noise import smoothstep

__all__ = ["MaterialConfig", "shade_land", "shade_water"]

Color = tuple[float, float, float]


@dataclass(frozen=True)
class MaterialConfig:
    """Material colors and where each material grows; elevations in world units.

    sand_height: sand up to this height above the water. tree_line / snow_line: elevations where
    forest ends and snow starts (both blurred by noise). rock_slope: the normal's up component
    below which slopes are bare rock (0.7 = about 45 degrees). forest_coverage in [0, 1].
    """

    grass_lush: Color = (0.17, 0.33, 0.09)
    grass_dry: Color = (0.46, 0.46, 0.21)
    forest: Color = (0.07, 0.15, 0.06)
    rock: Color = (0.40, 0.37, 0.34)
    rock_light: Color = (0.58, 0.55, 0.50)
    sand: Color = (0.78, 0.71, 0.53)
    snow: Color = (0.93, 0.95, 0.98)
    water_shallow: Color = (0.12, 0.42, 0.42)
    water_deep: Color = (0.02, 0.10, 0.17)
    sand_height: float = 3.0
    tree_line: float = 700.0
    snow_line: float = 1100.0
    rock_slope: float = 0.72
    forest_coverage: float = 0.45
    ambient: float = 0.42
    sun_strength: float = 1.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.forest_coverage <= 1.0 or not 0.0 < self.rock_slope < 1.0:
            raise ValueError("forest_coverage must lie in [0, 1] and rock_slope in (0, 1)")


def _c(value: Color) -> Tensor:
    return torch.tensor(value, dtype=torch.float32)


def _mix(a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
    """``a + (b - a) * weight`` with ``weight [N]`` broadcast over color channels."""
    return torch.lerp(a, b, weight.unsqueeze(-1))


def _albedo(config: MaterialConfig, elevation: Tensor, up: Tensor, noise: Tensor, water_level: float) -> Tensor:
    """Material color ``[N, 3]`` from elevation, normal up component and noise ``[N, 3]``."""
    broad, patch, grain = noise.unbind(-1)
    ones = torch.ones_like(elevation).unsqueeze(-1)
    color = _mix(_c(config.grass_lush) * ones, _c(config.grass_dry), smoothstep(-1.3, 1.6, broad + 0.4 * patch))
    color = color * (1.0 + 0.12 * grain).unsqueeze(-1)
    above_trees = smoothstep(config.tree_line - 60, config.tree_line + 60, elevation + 80 * patch)
    threshold = 1.0 - 2.0 * config.forest_coverage
    forest = smoothstep(threshold, threshold + 0.35, 0.8 * broad - 0.6 * patch) * (1 - above_trees)
    forest = forest * smoothstep(config.rock_slope, config.rock_slope + 0.12, up)
    canopy = _c(config.forest) * (0.75 + 0.5 * smoothstep(-0.8, 0.8, grain)).unsqueeze(-1)
    color = _mix(color, canopy, forest)
    beach = smoothstep(config.sand_height, config.sand_height * 0.3, elevation - water_level + 1.5 * patch)
    color = _mix(color, _c(config.sand) * (1 + 0.08 * grain).unsqueeze(-1), beach * smoothstep(0.7, 0.85, up))
    steep = smoothstep(config.rock_slope + 0.06, config.rock_slope - 0.06, up + 0.06 * patch)
    rock = torch.maximum(steep, 0.85 * above_trees * smoothstep(-0.2, 0.6, patch - 0.5 * broad))
    strata = 0.5 + 0.5 * torch.sin(elevation * 0.09 + 2.0 * patch)
    stone = _mix(_c(config.rock) * ones, _c(config.rock_light), strata * smoothstep(-1.5, 1.5, broad))
    color = _mix(color, stone * (1 + 0.15 * grain).unsqueeze(-1), rock)
    snowy = smoothstep(config.snow_line - 50, config.snow_line + 50, elevation + 120 * patch)
    snowy = snowy * smoothstep(0.45, 0.62, up + 0.05 * grain)
    return _mix(color, _c(config.snow), snowy)


def shade_land(config: MaterialConfig, sky_light: tuple[Tensor, Tensor, Tensor], elevation: Tensor,
               normals: Tensor, noise: Tensor, water_level: float) -> Tensor:
    """Lit land color ``[N, 3]``.

    sky_light: (sun direction ``[3]``, sun color ``[3]``, sky ambient color ``[3]``).
    elevation ``[N]``; normals ``[N, 3]`` unit world vectors; noise ``[N, 3]`` material noise.
    """
    sun, sun_color, ambient_color = sky_light
    up = -normals[:, 1]
    albedo = _albedo(config, elevation, up, noise, water_level)
    diffuse = (normals @ sun).clamp(min=0.0).unsqueeze(-1) * sun_color * config.sun_strength
    ambient = ambient_color * (config.ambient * (0.55 + 0.45 * up)).unsqueeze(-1)
    return albedo * (diffuse + ambient)


def shade_water(config: MaterialConfig, sky_light: tuple[Tensor, Tensor, Tensor], dirs: Tensor, depth: Tensor,
                noise: Tensor, reflect_sky) -> Tensor:
    """Water color ``[N, 3]`` seen along unit ``dirs [N, 3]``.

    depth ``[N]``: water depth (water level minus terrain) at the hit points; noise ``[N, 3]``
    material noise (its fine channels tilt the normal); ``reflect_sky(dirs [N, 3]) -> [N, 3]``
    returns the sky color in a reflected direction.
    """
    sun, sun_color, ambient_color = sky_light
    tilt = 0.035 * noise[:, 1:]
    normals = torch.nn.functional.normalize(torch.stack([tilt[:, 0], -torch.ones_like(depth), tilt[:, 1]], -1), dim=-1)
    cos = (dirs * normals).sum(-1)
    reflected = dirs - 2.0 * cos.unsqueeze(-1) * normals
    reflected = torch.stack([reflected[:, 0], -reflected[:, 1].abs(), reflected[:, 2]], -1)
    fresnel = (0.02 + 0.98 * (1.0 - cos.abs()).clamp(0, 1) ** 5).unsqueeze(-1)
    body = _mix(_c(config.water_shallow) * torch.ones_like(depth).unsqueeze(-1), _c(config.water_deep),
                smoothstep(0.0, 14.0, depth))
    body = body * (0.35 * ambient_color + 0.55 * sun_color * max(float(-sun[1]), 0.0))
    color = torch.lerp(body, reflect_sky(reflected), fresnel)
    glint = ((reflected @ sun).clamp(min=0.0) ** 300).unsqueeze(-1) * sun_color * 1.5
    foam = smoothstep(0.5, 0.0, depth + 0.25 * noise[:, 2]).unsqueeze(-1) * 0.75
    return torch.lerp(color + glint, torch.full_like(color, 0.92), foam).clamp(0.0, 1.0)
