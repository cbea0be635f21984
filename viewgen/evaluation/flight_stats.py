"""Statistics of a flight that need no downloaded network, one number per frame.

A flight is ``frames [N, 3, H, W]`` (RGB in [0, 1], frame index first) with, where asked,
``disparity [N, 1, H, W]`` (1/depth, in [0, 1]) and ``cam_from_world [N, 3|4, 4]``. The statistics
name what dies in a long flight: detail (sharpness, high-frequency energy), the sky, the colors,
temporal stability (flicker) and new content (frozen runs). Camera attitude is in
:mod:`viewgen.evaluation.attitude`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.procedural.filters import gaussian_blur, luma
from viewgen.rendering import warp_rgbd

__all__ = [
    "HIGH_FREQUENCY_SIGMA", "SKY_DISPARITY", "ColorDrift", "color_drift", "compensated_flicker",
    "frame_change", "frozen_runs", "high_frequency_energy", "raw_flicker", "sharpness", "sky_fraction",
]

# Sky = disparity below this: farther than 50x the depth of disparity 1. The renderer clips disparity
# to [0.01, 1] (depth 1..100), so its far plane lands at 0.01; the synthetic world writes sky as 0.
SKY_DISPARITY = 0.02
# High frequencies = luma minus its Gaussian blur of this sigma (pixels): detail finer than ~2 pixels.
HIGH_FREQUENCY_SIGMA = 1.0
_LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def _check_frames(frames: Tensor, name: str = "frames", min_size: int = 3) -> dict[str, int]:
    sizes = check_shape(frames, ("N", 3, "H", "W"), name, hint=" (RGB in [0, 1], frame index first)")
    check_min_size(frames, min_size, name)
    return sizes


def _check_disparity(disparity: Tensor, sizes: dict[str, int], name: str = "disparity") -> None:
    check_shape(disparity, ("N", 1, "H", "W"), name, sizes=sizes, hint=" (one disparity map per frame)")


def _relative(values: Tensor, reference: Tensor | None, reference_values) -> Tensor:
    """``values / reference_values(reference)`` when a reference is given (ratio 1 = as in the ground truth)."""
    if reference is None:
        return values
    return values / reference_values(reference).clamp_min(1e-12)


def _laplacian_variance(frames: Tensor) -> Tensor:
    kernel = torch.tensor(_LAPLACIAN, dtype=frames.dtype, device=frames.device).view(1, 1, 3, 3)
    return F.conv2d(luma(frames), kernel).flatten(1).var(dim=1)


def sharpness(frames: Tensor, reference: Tensor | None = None) -> Tensor:
    """Variance of the Laplacian of luma per frame ``[N]``; divided by the reference's when
    ``reference [N, 3, H, W]`` (ground truth, same size) is given, so 1 = as sharp as the truth.
    """
    sizes = _check_frames(frames)
    if reference is not None:
        check_shape(reference, ("N", 3, "H", "W"), "reference", sizes=sizes, hint=" (ground truth like frames)")
    return _relative(_laplacian_variance(frames), reference, _laplacian_variance)


def _high_frequency(frames: Tensor, sigma: float) -> Tensor:
    gray = luma(frames)
    return ((gray - gaussian_blur(gray, sigma)) ** 2).mean(dim=(1, 2, 3))


def high_frequency_energy(frames: Tensor, reference: Tensor | None = None, *,
                          sigma: float = HIGH_FREQUENCY_SIGMA) -> Tensor:
    """Mean squared luma detail finer than a Gaussian blur of ``sigma`` pixels, per frame ``[N]``;
    relative to ``reference [N, 3, H, W]`` (ground truth) when given.
    """
    sizes = _check_frames(frames)
    if reference is not None:
        check_shape(reference, ("N", 3, "H", "W"), "reference", sizes=sizes, hint=" (ground truth like frames)")
    return _relative(_high_frequency(frames, sigma), reference, lambda ref: _high_frequency(ref, sigma))


def sky_fraction(disparity: Tensor, threshold: float = SKY_DISPARITY) -> Tensor:
    """Fraction of pixels with disparity below ``threshold`` (far away: sky), per frame ``[N]``."""
    check_shape(disparity, ("N", 1, "H", "W"), "disparity", hint=" (one disparity map per frame)")
    return (disparity < threshold).to(torch.float32).mean(dim=(1, 2, 3))


@dataclass(frozen=True)
class ColorDrift:
    """How far each frame's colors moved from frame 0's.

    mean_color_shift: ``[N]`` Euclidean distance of the frame's mean RGB from frame 0's (RGB units, 0 at frame 0).
    contrast_ratio: ``[N]`` standard deviation of luma over frame 0's (1 at frame 0; 0.1 = washed out).
    """

    mean_color_shift: Tensor
    contrast_ratio: Tensor


def color_drift(frames: Tensor) -> ColorDrift:
    """Mean-color shift and contrast ratio of every frame against frame 0 (see :class:`ColorDrift`)."""
    _check_frames(frames, min_size=1)
    mean_color = frames.mean(dim=(2, 3))
    contrast = luma(frames).flatten(1).std(dim=1)
    return ColorDrift(mean_color_shift=(mean_color - mean_color[:1]).norm(dim=1),
                      contrast_ratio=contrast / contrast[:1].clamp_min(1e-12))


def raw_flicker(frames: Tensor) -> Tensor:
    """Mean absolute RGB difference between consecutive frames, ``[N - 1]`` (entry ``t`` = frames t, t+1)."""
    _check_frames(frames, min_size=1)
    return (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))


def compensated_flicker(frames: Tensor, disparity: Tensor, cam_from_world: Tensor, intrinsics: Tensor, *,
                        min_mask: float = 0.5) -> Tensor:
    """Flicker with the camera motion taken out: frame t-1 (RGB + its disparity) is warped into camera t
    by :func:`viewgen.rendering.warp_rgbd` and compared with frame t where the warp is known.

    Args:
        frames: ``[N, 3, H, W]`` RGB; disparity: ``[N, 1, H, W]``.
        cam_from_world: ``[N, 3|4, 4]`` world-to-camera poses of the frames.
        intrinsics: ``[4]`` or ``[N, 4]`` normalized ``[fx, fy, cx, cy]``.
        min_mask: a pixel counts where the warp's soft coverage ``sqrt(mask)`` exceeds this.

    Returns:
        ``[N - 1]`` mean absolute RGB difference over the covered pixels; NaN where none is covered.
    """
    sizes = _check_frames(frames, min_size=2)
    _check_disparity(disparity, sizes)
    check_shape(cam_from_world, ("N", (3, 4), 4), "cam_from_world", sizes=sizes, what="pose")
    check_shape(intrinsics, [(4,), ("N", 4)], "intrinsics", sizes=sizes, hint=" ([fx, fy, cx, cy])")
    if sizes["N"] < 2:
        return frames.new_zeros(0)
    K = intrinsics if intrinsics.dim() == 1 else intrinsics[:-1]
    K_tgt = None if intrinsics.dim() == 1 else intrinsics[1:]
    rgbd = torch.cat([frames[:-1], disparity[:-1]], dim=1)
    warped, mask = warp_rgbd(rgbd, cam_from_world[:-1], cam_from_world[1:], K, K_tgt)
    coverage = mask.sqrt()  # warp_rgbd returns (rgbd * m, m * m)
    known = (coverage > min_mask).to(frames.dtype)
    rgb = warped[:, :3] / coverage.clamp_min(1e-6)
    total = ((rgb - frames[1:]).abs() * known).sum(dim=(1, 2, 3))
    count = known.sum(dim=(1, 2, 3)) * 3
    return torch.where(count > 0, total / count.clamp_min(1), torch.nan)


def frame_change(frames: Tensor, disparity: Tensor | None = None) -> Tensor:
    """``[N - 1]`` change between consecutive frames: the larger of the mean absolute RGB difference
    and, when given, the mean absolute disparity difference.
    """
    sizes = _check_frames(frames, min_size=1)
    change = raw_flicker(frames)
    if disparity is not None:
        _check_disparity(disparity, sizes)
        change = torch.maximum(change, (disparity[1:] - disparity[:-1]).abs().mean(dim=(1, 2, 3)))
    return change


def frozen_runs(frames: Tensor, disparity: Tensor | None = None, *, epsilon: float = 1e-3,
                min_length: int = 10) -> list[tuple[int, int]]:
    """Runs of frozen content: ``(first, end)`` frame ranges (``end`` exclusive) of at least
    ``min_length`` frames in which every consecutive change (:func:`frame_change`) is below ``epsilon``.

    A flight whose picture became a fixed point from frame 300 on gives ``[(300, N)]``.
    """
    if min_length < 2:
        raise ValueError(f"min_length must be at least 2 frames, got {min_length}")
    still = (frame_change(frames, disparity) < epsilon).tolist()
    runs, start = [], None
    for index, is_still in enumerate([*still, False]):
        if is_still and start is None:
            start = index
        elif not is_still and start is not None:
            if index + 1 - start >= min_length:
                runs.append((start, index + 1))
            start = None
    return runs
