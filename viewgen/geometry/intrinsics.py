"""Resolution-independent intrinsics and their pixel-unit matrices.

Intrinsics are ``[..., 4]`` tensors ``[fx, fy, cx, cy]`` expressed as if the image spanned
(0, 0)-(1, 1): ``u = fx * X / Z + cx`` with ``u`` in image widths. Pixel ``i`` (column) has its
centre at ``u = (i + 0.5) / W``. The pixel matrix ``K`` here uses *continuous* pixel coordinates
whose origin is the image's top-left corner (centre of pixel 0 at 0.5); OpenCV puts the centre
of pixel 0 at 0, so ``cx_opencv = cx * W - 0.5``. See ``docs/conventions.md``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def default_intrinsics(height: int, width: int, fx: float = 0.8, dtype=torch.float32, device=None) -> Tensor:
    """The original Infinite Nature default ``[fx, fx * W / H, 0.5, 0.5]`` (square pixels), ``[4]``.

    With ``fx = 0.8`` the horizontal field of view is ``2 atan(0.5 / 0.8)`` = 64.0 degrees.
    """
    return torch.tensor([fx, fx * width / height, 0.5, 0.5], dtype=dtype, device=device)


def focal_from_fov_deg(fov_deg: float) -> float:
    """Normalized focal length for a field of view across the image (0.5 for 90 degrees)."""
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"field of view must lie in (0, 180) degrees, got {fov_deg}")
    return 0.5 / math.tan(math.radians(fov_deg) / 2)


def fov_deg_from_focal(focal: float) -> float:
    """Field of view in degrees across the image for a normalized focal length."""
    return math.degrees(2 * math.atan(0.5 / focal))


def intrinsics_to_pixel_matrix(intrinsics: Tensor, height: int, width: int) -> Tensor:
    """``[..., 4]`` normalized -> ``[..., 3, 3]`` ``K`` in pixels (corner origin, see module doc)."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    zeros = torch.zeros_like(fx)
    ones = torch.ones_like(fx)
    rows = [
        torch.stack([fx * width, zeros, cx * width], dim=-1),
        torch.stack([zeros, fy * height, cy * height], dim=-1),
        torch.stack([zeros, zeros, ones], dim=-1),
    ]
    return torch.stack(rows, dim=-2)


def integer_pixel_matrix(intrinsics: Tensor, height: int, width: int) -> Tensor:
    """Normalized ``[..., 4]`` ``[fx, fy, cx, cy]`` -> ``[..., 3, 3]`` ``K`` in integer pixel coordinates.

    Pixel ``(row j, col i)`` has its centre at ``(i, j)`` under this ``K`` (the original Zero's and
    OpenCV's convention), where :func:`intrinsics_to_pixel_matrix` puts it at
    ``(i + 0.5, j + 0.5)``; so the principal point is 0.5 smaller and the focal lengths are the same.
    """
    matrix = intrinsics_to_pixel_matrix(intrinsics, height, width).clone()
    matrix[..., :2, 2] -= 0.5
    return matrix


def pixel_matrix_to_intrinsics(pixel_matrix: Tensor, height: int, width: int) -> Tensor:
    """``[..., 3, 3]`` ``K`` in pixels (corner origin) -> ``[..., 4]`` normalized intrinsics."""
    return torch.stack(
        [
            pixel_matrix[..., 0, 0] / width,
            pixel_matrix[..., 1, 1] / height,
            pixel_matrix[..., 0, 2] / width,
            pixel_matrix[..., 1, 2] / height,
        ],
        dim=-1,
    )


def crop_intrinsics(intrinsics: Tensor, height: int, width: int, top: int, left: int,
                    crop_height: int, crop_width: int) -> Tensor:
    """Intrinsics of the window ``[top:top+crop_height, left:left+crop_width]`` of an ``H x W`` image."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    return torch.stack(
        [
            fx * width / crop_width,
            fy * height / crop_height,
            (cx * width - left) / crop_width,
            (cy * height - top) / crop_height,
        ],
        dim=-1,
    )


def crop_image_and_intrinsics(image: Tensor, intrinsics: Tensor, top: int, left: int,
                              crop_height: int, crop_width: int) -> tuple[Tensor, Tensor]:
    """Crop ``[B, C, H, W]`` and update ``[B, 4]`` (or ``[4]``) intrinsics to match."""
    height, width = image.shape[-2:]
    if top < 0 or left < 0 or top + crop_height > height or left + crop_width > width:
        raise ValueError(f"crop window {top, left, crop_height, crop_width} exceeds the {height}x{width} image")
    cropped = image[..., top:top + crop_height, left:left + crop_width]
    return cropped, crop_intrinsics(intrinsics, height, width, top, left, crop_height, crop_width)


def resize_image_and_intrinsics(image: Tensor, intrinsics: Tensor, size: tuple[int, int],
                                mode: str = "area") -> tuple[Tensor, Tensor]:
    """Resize ``[B, C, H, W]`` to ``size = (H', W')``.

    A resize maps the image extent onto itself, so normalized intrinsics stay the same; they are
    returned (as a copy) for symmetry with :func:`crop_image_and_intrinsics`. ``mode`` is any
    ``torch.nn.functional.interpolate`` mode ("area" averages when shrinking).
    """
    kwargs = {} if mode in ("area", "nearest") else {"align_corners": False}
    resized = torch.nn.functional.interpolate(image, size=size, mode=mode, **kwargs)
    return resized, intrinsics.clone()
