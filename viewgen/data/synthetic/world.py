"""A seeded synthetic nature world: terrain, materials, sky; everything derived from one seed.

``World(WorldConfig(seed=3, terrain=..., materials=..., sky=...))`` builds every random table
(terrain lattice and octave rotations, material and cloud noise) from ``torch.Generator`` seeded
with ``seed``, in a fixed order, so two worlds with equal configs render identical images. The
world is immutable after construction and holds only small tensors (a few 256 x 256 tiles, about 1 MB).

Frame: x east, **y down**, z north (see :mod:`viewgen.data.synthetic.terrain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from viewgen.data.synthetic.shading import MaterialConfig
from viewgen.data.synthetic.sky import SkyConfig, sun_direction
from viewgen.data.synthetic.terrain import Terrain, TerrainConfig
from viewgen.procedural.noise import NoiseTexture, make_octaves, sample_octaves, smoothstep

__all__ = ["World", "WorldConfig"]

_MATERIAL_OCTAVES = 10
_MATERIAL_WAVELENGTH = 400.0


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a world: the seed and the terrain, material and sky settings."""

    seed: int = 0
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
    materials: MaterialConfig = field(default_factory=MaterialConfig)
    sky: SkyConfig = field(default_factory=SkyConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"world seed must be a non-negative int, got {self.seed!r}")


class World:
    """A synthetic world built from a :class:`WorldConfig` (see the module doc).

    Attributes: ``config``, ``terrain`` (:class:`Terrain`), ``sun`` (unit direction ``[3]``),
    ``clouds`` (cloud noise texture and octaves, for :func:`sky_color`).
    """

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config if config is not None else WorldConfig()
        generator = torch.Generator().manual_seed(self.config.seed)
        self.terrain = Terrain(self.config.terrain, generator)
        self._material_noise = NoiseTexture(generator, channels=3)
        self._material_octaves = make_octaves(generator, _MATERIAL_OCTAVES, _MATERIAL_WAVELENGTH)
        cloud_noise = NoiseTexture(generator, channels=1)
        self.clouds = (cloud_noise, make_octaves(generator, 6, self.config.sky.cloud_wavelength))
        self.sun = sun_direction(self.config.sky)
        self._material_amplitudes = self._amplitudes()

    def _amplitudes(self) -> Tensor:
        """``[3, K]`` octave weights of the material channels (broad, patch, grain), unit RMS."""
        k = torch.arange(_MATERIAL_OCTAVES, dtype=torch.float32)
        wavelengths = self._material_octaves.wavelengths
        broad = 0.65 ** k
        patch = 0.75 ** k * (k >= 2)
        grain = (wavelengths < 6.0).float()
        amplitudes = torch.stack([broad, patch, grain])
        return amplitudes / amplitudes.square().sum(dim=1, keepdim=True).sqrt()

    def material_noise(self, x: Tensor, z: Tensor, footprint: Tensor) -> Tensor:
        """Material noise ``[N, 3]`` at world ``x, z [N]``; octaves below ``footprint [N]`` fade out."""
        noise = sample_octaves(self._material_noise, self._material_octaves, x, z, "bilinear")  # [3, N, K]
        fade = smoothstep(1.0, 3.0, self._material_octaves.wavelengths / footprint.unsqueeze(-1))  # [N, K]
        return torch.einsum("cnk,nk,ck->nc", noise, fade, self._material_amplitudes)

    def ground_height(self, x: Tensor, z: Tensor) -> Tensor:
        """Elevation of the visible surface (terrain or water) at world ``(x, z)``, same shape."""
        return self.terrain.surface(x, z)

    def is_water(self, x: Tensor, z: Tensor) -> Tensor:
        """Whether the visible surface at world ``(x, z)`` is water (the terrain lies below the water level), bool."""
        return self.terrain.height(x, z) < self.terrain.config.water_level
