"""A distribution distance that needs no network: sliced Wasserstein between color patches.

Two image sets ``[N, 3, H, W]`` and ``[M, 3, H, W]`` (RGB in [0, 1]; sizes may differ) each give
``num_patches`` square RGB patches (``patch_size`` pixels, flattened to ``3 * patch_size**2``
values, raw RGB, no normalization) at positions drawn by a seeded generator. The distance is the
sliced 2-Wasserstein distance between the two patch sets: the root mean square, over
``num_projections`` random unit directions, of the sorted 1-D projections' differences. With the
same seed both sets are sampled at the same relative positions, so identical sets are at distance
0 and the distance is symmetric; the same seed gives the same number.

Scale: it is only comparable between calls with the same settings; compare a flight's distance to
ground truth with :func:`patch_distance_noise_floor`, the distance between two halves of the ground
truth itself.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape

__all__ = ["NUM_PATCHES", "NUM_PROJECTIONS", "PATCH_SIZE", "patch_distance", "patch_distance_noise_floor",
           "sample_patches", "sliced_wasserstein"]

PATCH_SIZE = 7
NUM_PATCHES = 4096
NUM_PROJECTIONS = 256  # standard error of the projection average ~ 1/sqrt(256) = 6% of its spread


def sample_patches(images: Tensor, num_patches: int = NUM_PATCHES, patch_size: int = PATCH_SIZE,
                   seed: int = 0) -> Tensor:
    """``num_patches`` patches at seeded positions: ``[N, 3, H, W] -> [num_patches, 3 * patch_size**2]``.

    Each patch picks a frame and a top-left corner uniformly (fractions of the free range, so two
    sets of different sizes are sampled at the same relative places for the same seed).
    """
    check_shape(images, ("N", 3, "H", "W"), "images", hint=" (RGB in [0, 1])")
    height, width = check_min_size(images, patch_size, "images", hint=f" (the {patch_size}x{patch_size} patches)")
    if images.shape[0] == 0 or num_patches < 1:
        raise ValueError(f"need at least one image and one patch, got {images.shape[0]} images, {num_patches} patches")
    generator = torch.Generator().manual_seed(seed)
    where = torch.rand(num_patches, 3, generator=generator, dtype=torch.float64)
    frame = (where[:, 0] * images.shape[0]).long().clamp_max(images.shape[0] - 1)
    top = (where[:, 1] * (height - patch_size + 1)).long().clamp_max(height - patch_size)
    left = (where[:, 2] * (width - patch_size + 1)).long().clamp_max(width - patch_size)
    offsets = torch.arange(patch_size)
    rows = (top[:, None] + offsets).to(images.device)  # [P, p]
    cols = (left[:, None] + offsets).to(images.device)
    frame = frame.to(images.device)  # indexed together with the pixels: no [P, 3, H, W] copy of whole frames
    patches = images[frame[:, None, None, None], torch.arange(3, device=images.device)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    return patches.flatten(1)


def sliced_wasserstein(a: Tensor, b: Tensor, num_projections: int = NUM_PROJECTIONS, seed: int = 0) -> Tensor:
    """Sliced 2-Wasserstein distance between point sets ``a [P, D]`` and ``b [P, D]`` (same count), a scalar.

    ``sqrt(mean over directions and ranks of (sort(a @ d) - sort(b @ d))**2)``, directions uniform on
    the unit sphere from a generator seeded with ``seed``.
    """
    sizes = check_shape(a, ("P", "D"), "a", hint=" (points by dimension)")
    check_shape(b, ("P", "D"), "b", sizes=sizes, hint=" (as many points as a, same dimension)")
    if num_projections < 1:
        raise ValueError(f"num_projections must be at least 1, got {num_projections}")
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(sizes["D"], num_projections, generator=generator, dtype=torch.float64)
    directions = (directions / directions.norm(dim=0, keepdim=True)).to(a.device)
    # sorted along rows of the transposed projections: the same values, twice as fast as down columns
    projected_a = (directions.T @ a.to(torch.float64).T).sort(dim=1).values
    projected_b = (directions.T @ b.to(torch.float64).T).sort(dim=1).values
    return ((projected_a - projected_b) ** 2).mean().sqrt()


def patch_distance(images: Tensor, reference: Tensor, *, patch_size: int = PATCH_SIZE, num_patches: int = NUM_PATCHES,
                   num_projections: int = NUM_PROJECTIONS, seed: int = 0) -> float:
    """Sliced Wasserstein distance between the color patches of ``images [N, 3, H, W]`` and of
    ``reference [M, 3, H', W']`` (see the module doc); deterministic given ``seed``.
    """
    patches_a = sample_patches(images, num_patches, patch_size, seed)
    patches_b = sample_patches(reference, num_patches, patch_size, seed)
    return float(sliced_wasserstein(patches_a, patches_b, num_projections, seed + 1))


def patch_distance_noise_floor(reference: Tensor, *, patch_size: int = PATCH_SIZE, num_patches: int = NUM_PATCHES,
                               num_projections: int = NUM_PROJECTIONS, seed: int = 0) -> float:
    """The distance between two disjoint halves of ``reference [M, 3, H, W]`` (M >= 2), frames split by a
    permutation seeded with ``seed``: what :func:`patch_distance` gives for sets of the same world, the
    floor a generated flight is judged against.
    """
    check_shape(reference, ("M", 3, "H", "W"), "reference", hint=" (RGB in [0, 1])")
    if reference.shape[0] < 2:
        raise ValueError(f"reference needs at least 2 frames to split in halves, got {reference.shape[0]}")
    order = torch.randperm(reference.shape[0], generator=torch.Generator().manual_seed(seed)).to(reference.device)
    half = reference.shape[0] // 2
    return patch_distance(reference[order[:half]], reference[order[half:2 * half]], patch_size=patch_size,
                          num_patches=num_patches, num_projections=num_projections, seed=seed)
