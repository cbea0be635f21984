"""The terrain: a seeded analytic heightfield ``elevation = H(x, z)`` and a water plane.

World frame (the whole ``viewgen.data.synthetic`` package): **x east, y down, z north**, right
handed, in world units of about one metre. ``y`` points *down* like a camera's +y axis, so a
level camera looking north has the identity rotation and the ground lies at positive camera y;
a point on the terrain is ``(x, -H(x, z), z)``. Elevation ``e = -y`` is used inside this module.

``H`` is an fBm plus ridged multifractal sum of value-noise octaves (each halving the lattice
cell), the coarsest three scaled by a very low-frequency octave, then shaped by a meandering
valley or coastline along the world z axis so that flights heading north see open sky ahead.
For speed the octaves are baked in groups of three into periodic 256 x 256 layer tiles (one
sample per cell of the group's finest octave, four per cell of its coarsest) when the terrain is
built; ``H`` is *defined* as the bicubic (Keys, C1) interpolation of those tiles under per-layer
random rotations and offsets, so it is an exact, smooth function of any real ``(x, z)``, and one
``grid_sample`` call evaluates all layers. The relief is smoothly compressed
below a ceiling (see ``ceiling_quantile``). The rendered surface is ``max(H, water_level)``:
water is a flat plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.procedural.noise import NoiseAtlas, NoiseTexture, make_maps, smoothstep

__all__ = ["Terrain", "TerrainConfig"]

_SHAPES = ("open", "valley", "coast")
_BASE_CELLS = 64  # lattice cells per tile period of each layer's coarsest octave
_GROUP = 3  # octaves per baked layer
_SAMPLES_PER_CELL = 1  # tile texels per cell of a layer's finest octave
_TILE = _BASE_CELLS * 2 ** (_GROUP - 1) * _SAMPLES_PER_CELL  # 256: the atlas stays in a core's L2 cache
_MACRO_CELLS = 8


@dataclass(frozen=True)
class TerrainConfig:
    """Shape of the heightfield; lengths and heights in world units (about metres).

    octaves, base_wavelength: number of noise octaves and the lattice cell of the coarsest one
        (each further octave halves it).
    hills_amplitude, hills_persistence: fBm part (rolling hills), amplitude of octave 0 and the
        factor per octave. ridge_amplitude, ridge_persistence, ridge_gain: ridged multifractal
        part (sharp crests; ``ridge_gain`` feeds each octave's ridges into the next one's weight).
    elevation_offset: added to the sum. relief_variation: the three coarsest octaves are scaled
        by ``1 + relief_variation * tanh(n)`` with ``n`` an octave eight times coarser.
    shape: ``"open"`` (no shaping), ``"valley"`` (a flat-floored valley around ``x = m(z)``)
        or ``"coast"`` (sea floor for ``x < m(z) - valley_width``, land rising toward
        ``x = m(z) + valley_ramp``), where ``m(z) = meander_amplitude * sin(2 pi z /
        meander_wavelength + phase)``.
    valley_width: half width of the floor; valley_ramp: distance over which the full relief
        returns; valley_floor: floor elevation; floor_relief: fraction of relief kept on the floor.
    water_level: elevation of the water plane (below every floor to have no water).
    max_slope: a slope bound used to size ray-march steps (a speed/accuracy knob, not exact).
    ceiling_quantile: the relief is smoothly compressed (C1) toward a ceiling that it never
        exceeds: ``elevation_offset`` plus the sum over layers of this quantile of the layer's
        values. Rarely reached (only the highest peaks are rounded), it gives the marcher a tight
        bound above which a rising ray has left the terrain for good. 1.0 keeps the bake's maxima.
    """

    octaves: int = 9
    base_wavelength: float = 1200.0
    hills_amplitude: float = 120.0
    hills_persistence: float = 0.5
    ridge_amplitude: float = 0.0
    ridge_persistence: float = 0.5
    ridge_gain: float = 1.5
    elevation_offset: float = 60.0
    relief_variation: float = 0.4
    shape: str = "valley"
    valley_width: float = 150.0
    valley_ramp: float = 700.0
    valley_floor: float = 5.0
    floor_relief: float = 0.1
    meander_amplitude: float = 300.0
    meander_wavelength: float = 5000.0
    water_level: float = 0.0
    max_slope: float = 1.2
    ceiling_quantile: float = 0.999

    def __post_init__(self) -> None:
        if self.shape not in _SHAPES:
            raise ValueError(f"terrain shape must be one of {_SHAPES}, got {self.shape!r}")
        if not 1 <= self.octaves <= 12 or self.base_wavelength <= 0:
            raise ValueError("terrain needs 1 <= octaves <= 12 and base_wavelength > 0")
        if self.valley_ramp <= 0 or self.meander_wavelength <= 0 or self.max_slope <= 0:
            raise ValueError("valley_ramp, meander_wavelength and max_slope must be positive")
        if not 0.5 <= self.ceiling_quantile <= 1.0:
            raise ValueError(f"ceiling_quantile must lie in [0.5, 1], got {self.ceiling_quantile}")


def _tile_lattice_coords(cells: int) -> Tensor:
    """Lattice coordinates ``[S*S, 1, 2]`` of every tile texel for a lattice of ``cells`` per period."""
    axis = torch.arange(_TILE, dtype=torch.float32) * (cells / _TILE)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).view(-1, 1, 2)


def _bake_layer(generator: torch.Generator, hills: list[float], ridge: list[float], ridge_gain: float) -> Tensor:
    """One layer tile ``[S, S]``: fBm + ridged sum of ``len(hills)`` octaves (cells double each)."""
    total = torch.zeros(_TILE * _TILE)
    weight = torch.ones(_TILE * _TILE)
    for octave, (hill_amp, ridge_amp) in enumerate(zip(hills, ridge)):
        cells = _BASE_CELLS * 2 ** octave
        noise = NoiseTexture(generator, channels=1, period=cells).sample(_tile_lattice_coords(cells))[0, :, 0]
        total += hill_amp * noise
        if ridge_amp != 0.0:
            ridges = (1.0 - (noise * 0.5).abs().clamp(max=1.0)).square()
            total += ridge_amp * ridges * weight
            weight = weight * (ridges * ridge_gain).clamp(0.0, 1.0)
    return total.view(_TILE, _TILE)


def _relief_scale(generator: torch.Generator, variation: float) -> Tensor:
    """``1 + variation * tanh(n)`` on the tile, ``n`` a smooth octave of ``_MACRO_CELLS`` cells: ``[S, S]``."""
    noise = NoiseTexture(generator, channels=1, period=_MACRO_CELLS).sample(_tile_lattice_coords(_MACRO_CELLS))
    return 1.0 + variation * torch.tanh(noise[0, :, 0].view(_TILE, _TILE))


class Terrain:
    """A seeded heightfield built from a :class:`TerrainConfig`.

    ``height(x, z)`` is the terrain elevation, ``surface(x, z)`` adds the water plane; both take
    and return float32 tensors of any matching shape. ``max_elevation`` bounds ``surface`` from
    above (the relief never exceeds ``ceiling``).
    """

    def __init__(self, config: TerrainConfig, generator: torch.Generator) -> None:
        self.config = config
        k = torch.arange(config.octaves, dtype=torch.float64)
        hills = (config.hills_amplitude * config.hills_persistence ** k).tolist()
        ridge = (config.ridge_amplitude * config.ridge_persistence ** k).tolist()
        tiles, periods = [], []
        for start in range(0, config.octaves, _GROUP):
            group = slice(start, min(start + _GROUP, config.octaves))
            tiles.append(_bake_layer(generator, hills[group], ridge[group], config.ridge_gain))
            periods.append(config.base_wavelength / 2 ** start * _BASE_CELLS)
        tiles[0] = tiles[0] * _relief_scale(generator, config.relief_variation)
        self.atlas = NoiseAtlas(torch.stack(tiles))
        maps = make_maps(generator, torch.tensor(periods), period=1)
        # coords[l] = M_l [x; z] + o_l in tile periods, batched as [L, 2, 2] @ [2, N]
        self._matrix = maps.matrix.view(2, -1, 2).permute(1, 2, 0).contiguous()  # [L, 2 (out), 2 (in)]
        self._offset = maps.offset.view(-1, 2, 1).contiguous()  # [L, 2, 1]
        self.meander_phase = float(torch.rand((), generator=generator, dtype=torch.float64)) * 2 * math.pi
        self._set_ceiling(torch.stack(tiles))
        floor = config.valley_floor if config.shape != "open" else self.ceiling
        self.max_elevation = max(self.ceiling, floor, config.water_level)

    def _set_ceiling(self, tiles: Tensor) -> None:
        """Relief ceiling (see ``ceiling_quantile``) and the knee where compression starts."""
        cfg = self.config
        bound = float(self.atlas.upper.sum())
        relief = bound
        if cfg.ceiling_quantile < 1.0:
            samples = tiles.flatten(1)[:, :: max(1, tiles[0].numel() // 65536)].double()
            relief = min(float(torch.quantile(samples, cfg.ceiling_quantile, dim=1).sum()), bound)
        relief = max(relief, 1e-3)
        self.ceiling = cfg.elevation_offset + relief
        self._knee = 0.15 * relief  # compression acts on the top 15 % of the relief range

    def meander(self, z: Tensor) -> Tensor:
        """x of the valley or coast centre line at ``z`` (same shape)."""
        cfg = self.config
        return cfg.meander_amplitude * torch.sin(z * (2 * math.pi / cfg.meander_wavelength) + self.meander_phase)

    def raw_height(self, x: Tensor, z: Tensor) -> Tensor:
        """The noise relief before valley/coast shaping (at most ``ceiling``), same shape as ``x``."""
        points = torch.stack([x.reshape(-1), z.reshape(-1)], dim=0).float()  # [2, N]
        layers = self._matrix.shape[0]
        coords = torch.baddbmm(self._offset, self._matrix, points.expand(layers, -1, -1))  # [L, 2, N]
        raw = self.atlas.sample_sum(coords).add_(self.config.elevation_offset)
        # above ceiling - knee: ceiling - knee * exp(-(h - (ceiling - knee)) / knee), C1 at the knee
        start = self.ceiling - self._knee
        if raw.numel() and float(raw.max()) > start:
            over = (raw - start).clamp_(min=0.0)
            compressed = over.mul_(-1.0 / self._knee).exp_().mul_(-self._knee).add_(self.ceiling)
            raw = torch.where(raw > start, compressed, raw)
        return raw.view(x.shape)

    def shaping(self, x: Tensor, z: Tensor) -> Tensor:
        """Fraction of the relief kept at ``(x, z)`` by the valley/coast shape, in [0, 1]."""
        cfg = self.config
        if cfg.shape == "open":
            return torch.ones_like(x)
        across = x - self.meander(z)
        if cfg.shape == "valley":
            ramp = smoothstep(cfg.valley_width, cfg.valley_width + cfg.valley_ramp, across.abs_())
        else:
            ramp = smoothstep(-cfg.valley_width, cfg.valley_ramp, across)
        return ramp.mul_(1.0 - cfg.floor_relief).add_(cfg.floor_relief)

    def height(self, x: Tensor, z: Tensor) -> Tensor:
        """Terrain elevation ``H(x, z)`` (without water), same shape as ``x``."""
        cfg = self.config
        raw = self.raw_height(x, z)
        if cfg.shape == "open":
            return raw
        return raw.sub_(cfg.valley_floor).mul_(self.shaping(x, z)).add_(cfg.valley_floor)

    def surface(self, x: Tensor, z: Tensor) -> Tensor:
        """Elevation of what a ray hits: ``max(H, water_level)``, same shape as ``x``."""
        return self.height(x, z).clamp(min=self.config.water_level)
