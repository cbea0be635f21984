"""Rotations of Equivariant Neural Rendering's scene volumes from camera azimuth and elevation (degrees).

ENR's frame (Apple's convention; docs/conventions.md has the figure): the scene volume's axes
``(D, H, W)`` are ``(x, y, z)``; the camera looks along ``x`` (depth), ``y`` runs down the image
and ``z`` to its right (Apple calls its rotations left-handed). A view is the camera's azimuth (about ``y``)
and elevation (about ``z``) on a sphere around the object. Positive azimuth shifts move the
camera right, positive elevation shifts move it up.

* :func:`rotation_x`, :func:`rotation_y`, :func:`rotation_z`: ``[B] -> [B, 3, 3]`` (about one axis);
* :func:`scene_rotation`: the rotation that turns the scene as seen from a view,
  ``R(az, el) = (R_y(-az) R_z(-el))^T`` (the transpose of the camera's rotation);
* :func:`source_to_target_rotation`: ``R(az_t, el_t) R(az_s, el_s)^T``, turning the scene inferred
  from a source view into the scene seen from a target view (apply with
  :func:`viewgen.rendering.volume.rotate_volume`).

Angles are tensors ``[B]`` (or numbers, a batch of one, or ``[1]``, repeated) in degrees; the result
takes their dtype and device (numbers follow the tensors given with them; float32 on the CPU
for numbers alone, as Apple's).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["finite_degrees", "rotation_x", "rotation_y", "rotation_z", "scene_rotation", "source_to_target_rotation"]


def _degrees(angle, like: Tensor | None = None) -> Tensor:
    """``[B]`` degrees; a number takes ``like``'s dtype and device (float32 on the CPU without it)."""
    if not isinstance(angle, Tensor):
        angle = torch.tensor(angle, dtype=like.dtype if like is not None else torch.float32,
                             device=like.device if like is not None else None)
    angle = angle if angle.is_floating_point() else angle.float()
    if angle.dim() > 1:
        raise ValueError(f"angles must be a number or a [B] tensor of degrees, got shape {tuple(angle.shape)}")
    return angle.reshape(-1)


def _batch(*angles) -> list[Tensor]:
    """The angles as ``[B]`` tensors of one dtype and device (numbers follow the first tensor; size-1 ones are
    repeated); one-line ``ValueError`` for batches that disagree."""
    like = next((angle for angle in angles if isinstance(angle, Tensor)), None)
    tensors = [_degrees(angle, like) for angle in angles]
    dtype = tensors[0].dtype
    for tensor in tensors[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    sizes = {tensor.numel() for tensor in tensors} - {1}
    if len(sizes) > 1:
        raise ValueError(f"the angles' batch sizes disagree: {[tensor.numel() for tensor in tensors]}")
    count = sizes.pop() if sizes else 1
    return [tensor.to(tensors[0].device, dtype).expand(count) for tensor in tensors]


def _radians(angle_deg) -> Tensor:
    """Degrees to radians as Apple rounds it: times pi, then divided by 180 (not one multiply by pi / 180)."""
    return _degrees(angle_deg) * math.pi / 180.0


def _matrices(cos: Tensor, sin: Tensor, rows) -> Tensor:
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    values = {"c": cos, "s": sin, "-s": -sin, "0": zero, "1": one}
    return torch.stack([torch.stack([values[name] for name in row], dim=-1) for row in rows], dim=-2)


def rotation_x(angle_deg) -> Tensor:
    """``[B, 3, 3]``: rotation by ``angle_deg`` about ``x``, ``[[1, 0, 0], [0, c, -s], [0, s, c]]``."""
    radians = _radians(angle_deg)
    return _matrices(torch.cos(radians), torch.sin(radians), (("1", "0", "0"), ("0", "c", "-s"), ("0", "s", "c")))


def rotation_y(angle_deg) -> Tensor:
    """``[B, 3, 3]``: rotation by ``angle_deg`` about ``y``, ``[[c, 0, s], [0, 1, 0], [-s, 0, c]]``."""
    radians = _radians(angle_deg)
    return _matrices(torch.cos(radians), torch.sin(radians), (("c", "0", "s"), ("0", "1", "0"), ("-s", "0", "c")))


def rotation_z(angle_deg) -> Tensor:
    """``[B, 3, 3]``: rotation by ``angle_deg`` about ``z``, ``[[c, -s, 0], [s, c, 0], [0, 0, 1]]``."""
    radians = _radians(angle_deg)
    return _matrices(torch.cos(radians), torch.sin(radians), (("c", "-s", "0"), ("s", "c", "0"), ("0", "0", "1")))


def scene_rotation(azimuth_deg, elevation_deg) -> Tensor:
    """``[B, 3, 3]``: ``(R_y(-azimuth) R_z(-elevation))^T``, the scene's rotation for a camera at that view
    (in the wider of the two angles' dtypes)."""
    azimuth, elevation = _batch(azimuth_deg, elevation_deg)
    return (rotation_y(-azimuth) @ rotation_z(-elevation)).transpose(1, 2)


def source_to_target_rotation(azimuth_source_deg, elevation_source_deg, azimuth_target_deg,
                              elevation_target_deg) -> Tensor:
    """``[B, 3, 3]``: ``R(target) R(source)^T`` (:func:`scene_rotation`): source view's scene -> target's."""
    az_s, el_s, az_t, el_t = _batch(azimuth_source_deg, elevation_source_deg, azimuth_target_deg, elevation_target_deg)
    source, target = scene_rotation(az_s, el_s), scene_rotation(az_t, el_t)
    return target @ source.transpose(1, 2)


def finite_degrees(value, name: str, limit: float = 1e6) -> float:
    """``value`` (a number, or text of one) as float degrees; one-line ``ValueError`` naming ``name`` unless it is
    finite and within ``+-limit`` (far beyond any useful turn; float32 keeps every angle up to it)."""
    import math

    try:
        degrees = float(value)
    except (TypeError, ValueError):
        degrees = math.nan
    if not math.isfinite(degrees) or abs(degrees) > limit:
        raise ValueError(f"{name} must be a number of degrees within +-{limit:g}, got {value!r}")
    return degrees
