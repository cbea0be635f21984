"""Seeded periodic value noise, its octaves and baked noise tiles, evaluated with ``grid_sample``.

A :class:`NoiseTexture` is a seeded ``P x P`` lattice of random values per channel (``P = 256``
by default), wrapped so that it tiles the plane. Sampled with bicubic (Keys) interpolation it is
a smooth (C1) value-noise function of continuous lattice coordinates, defined everywhere: there
is no resolution, only the lattice spacing of each octave, and any ``(x, z)`` evaluates the same
way whatever the batch it is in. ``grid_sample`` interpolates all octaves of all points in one
fused call. Bilinear sampling (cheaper, C0) is used for color noise.

An :class:`Octaves` set holds, per octave ``k``, a rotation, a frequency ``lacunarity**k /
base_wavelength`` (lattice cells per world unit) and a random offset, so that octaves do not line
up with each other or with the axes. :func:`sample_octaves` maps world ``(x, z)`` to the raw
octave values ``[C, N, K]``; the shaders combine them (fBm sums, masks).

A :class:`NoiseAtlas` holds a few baked ``S x S`` tiles (each already a sum of octaves, see
:mod:`viewgen.data.synthetic.terrain`) sampled bicubically at per-tile coordinates in one call:
the terrain's inner loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape

__all__ = ["NoiseAtlas", "NoiseTexture", "Octaves", "make_maps", "make_octaves", "sample_octaves", "smoothstep"]

_PAD = 2  # wrapped border texels: bicubic reads floor - 1 .. floor + 2
# Keys (a = -0.75) bicubic in 2D: the negative weights sum to at most 2 * 1.1875 * 0.1875
_KEYS_NEGATIVE_2D = 0.4453125


class NoiseTexture:
    """A seeded periodic lattice of noise values, ``channels`` independent channels.

    ``texture`` is ``[1, C, P + 4, P + 4]`` float32 (the ``P x P`` lattice plus a wrapped border);
    values have zero mean and unit standard deviation per channel, and ``max_abs`` bounds the
    interpolated function (the Keys bicubic weights sum to at most 1.375 in absolute value per
    axis, so it never exceeds ``1.375**2`` times the largest lattice value).
    """

    def __init__(self, generator: torch.Generator, channels: int = 1, period: int = 256) -> None:
        if period < 8 or channels < 1:
            raise ValueError(f"noise texture needs period >= 8 and channels >= 1, got {period}, {channels}")
        lattice = torch.randn(channels, period, period, generator=generator, dtype=torch.float64)
        lattice = lattice - lattice.mean(dim=(1, 2), keepdim=True)
        lattice = lattice / lattice.std(dim=(1, 2), keepdim=True)
        self.period = period
        self.channels = channels
        self.max_abs = float(lattice.abs().max()) * 1.375 ** 2
        padded = F.pad(lattice.unsqueeze(0), (_PAD, _PAD, _PAD, _PAD), mode="circular")
        self.texture = padded.float().contiguous()
        size = period + 2 * _PAD
        self._scale = 2.0 / size
        self._shift = (_PAD + 0.5) * 2.0 / size - 1.0

    def sample(self, coords: Tensor, mode: str = "bicubic") -> Tensor:
        """Noise at lattice coordinates ``[N, K, 2]`` (first = texture x) -> ``[C, N, K]``.

        ``mode`` is ``"bicubic"`` (the smooth function) or ``"bilinear"`` (cheaper, C0; for color
        noise). Coordinates wrap with the period.
        """
        wrapped = coords * (1.0 / self.period)
        grid = wrapped.sub_(wrapped.floor()).mul_(self._scale * self.period).add_(self._shift)
        out = F.grid_sample(self.texture, grid.unsqueeze(0), mode=mode, padding_mode="border", align_corners=False)
        return out[0]


@dataclass(frozen=True, eq=False)
class Octaves:
    """Per-octave affine maps from world ``(x, z)`` to lattice coordinates.

    matrix: ``[2, 2K]`` so that ``[x, z] @ matrix + offset`` gives the ``K`` lattice points.
    offset: ``[2K]``. wavelengths: ``[K]`` world units per lattice cell, coarse to fine.
    """

    matrix: Tensor
    offset: Tensor
    wavelengths: Tensor

    @property
    def count(self) -> int:
        """Number of octaves ``K``."""
        return int(self.wavelengths.numel())


class NoiseAtlas:
    """Several periodic ``S x S`` tiles, each sampled at its own coordinates by one ``grid_sample`` call.

    ``tiles`` is ``[L, S, S]``. Tile ``l`` is looked up at coordinates ``coords[l]`` measured in
    tile periods (texel ``j`` at ``j / S``, wrapping with period 1) with bicubic (Keys)
    interpolation over a wrapped border, so the interpolated tile is a smooth (C1) periodic
    function. ``upper[l]`` bounds it from above: a value mixes one 4 x 4 texel neighbourhood with
    Keys weights whose negative part sums to at most 0.4453, so it is at most ``max + 0.4453 (max
    - min)`` of that neighbourhood.
    """

    def __init__(self, tiles: Tensor) -> None:
        check_shape(tiles, ("L", "S", "S"), "atlas tiles")
        check_min_size(tiles, 8, "atlas tiles")
        padded = F.pad(tiles.unsqueeze(1).float(), (_PAD, _PAD, _PAD, _PAD), mode="circular")  # [L, 1, S+4, S+4]
        high = F.max_pool2d(padded, 4, stride=1)
        low = -F.max_pool2d(-padded, 4, stride=1)
        self.upper = (high + _KEYS_NEGATIVE_2D * (high - low)).amax(dim=(1, 2, 3)).double()
        self.texture = padded.contiguous()  # 3 tiles of 260^2 floats stay in a core's L2 cache
        self.size, self.count = tiles.shape[1], tiles.shape[0]
        self._scale = 2.0 * self.size / (self.size + 2 * _PAD)
        self._shift = (_PAD + 0.5) * 2.0 / (self.size + 2 * _PAD) - 1.0

    def sample(self, coords: Tensor) -> Tensor:
        """Tile values at coordinates ``[L, 2, N]`` (in tile periods; row 0 = x) -> ``[L, N]``."""
        grid = coords - coords.floor()
        grid = grid.mul_(self._scale).add_(self._shift).transpose(1, 2).unsqueeze(2)  # [L, N, 1, 2]
        out = F.grid_sample(self.texture, grid, mode="bicubic", padding_mode="border", align_corners=False)
        return out[:, 0, :, 0]

    def sample_sum(self, coords: Tensor) -> Tensor:
        """Sum over tiles of :meth:`sample`: ``[L, 2, N]`` -> ``[N]``."""
        values = self.sample(coords)
        total = values[0].clone()
        for row in values[1:]:
            total += row
        return total


def make_maps(generator: torch.Generator, wavelengths: Tensor, period: int = 256) -> Octaves:
    """Random rotations and offsets for lookups of ``wavelengths [K]`` world units per coordinate unit.

    Offsets are drawn in ``[0, period)`` coordinate units, then rotations, from ``generator``.
    """
    wavelengths = torch.as_tensor(wavelengths, dtype=torch.float64)
    count = wavelengths.numel()
    angles = torch.rand(count, generator=generator, dtype=torch.float64) * 2 * math.pi
    offsets = torch.rand(count, 2, generator=generator, dtype=torch.float64) * period
    cos, sin = angles.cos() / wavelengths, angles.sin() / wavelengths
    # coords_k = R_k [x, z] / wavelength_k + offset_k, stored column pair by column pair
    matrix = torch.stack([torch.stack([cos, sin], dim=-1), torch.stack([-sin, cos], dim=-1)], dim=0)  # [2, K, 2]
    return Octaves(matrix=matrix.reshape(2, 2 * count).float(), offset=offsets.reshape(-1).float(),
                   wavelengths=wavelengths.float())


def make_octaves(generator: torch.Generator, count: int, base_wavelength: float, lacunarity: float = 2.0,
                 period: int = 256) -> Octaves:
    """``count`` octaves from ``base_wavelength`` (world units per lattice cell) down by ``lacunarity``.

    Each octave gets a random rotation and a random lattice offset drawn from ``generator``.
    """
    if count < 1 or base_wavelength <= 0 or lacunarity <= 1:
        raise ValueError(f"octaves need count >= 1, base_wavelength > 0, lacunarity > 1; "
                         f"got {count}, {base_wavelength}, {lacunarity}")
    wavelengths = base_wavelength / lacunarity ** torch.arange(count, dtype=torch.float64)
    return make_maps(generator, wavelengths, period)


def sample_octaves(texture: NoiseTexture, octaves: Octaves, x: Tensor, z: Tensor, mode: str = "bicubic") -> Tensor:
    """Raw noise of every octave at world points: ``x, z [N]`` -> ``[C, N, K]``."""
    points = torch.stack([x.reshape(-1), z.reshape(-1)], dim=-1).float()
    coords = torch.addmm(octaves.offset, points, octaves.matrix)
    return texture.sample(coords.view(-1, octaves.count, 2), mode=mode)


def smoothstep(edge0: float | Tensor, edge1: float | Tensor, value: Tensor) -> Tensor:
    """Hermite step: 0 below ``edge0``, 1 above ``edge1``, smooth in between (elementwise)."""
    if isinstance(edge0, Tensor) or isinstance(edge1, Tensor):
        t = ((value - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    else:
        t = (value - edge0).mul_(1.0 / (edge1 - edge0)).clamp_(0.0, 1.0)
    return (3.0 - 2.0 * t).mul_(t).mul_(t)
