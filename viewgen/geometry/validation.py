"""Cheap checks of camera inputs: tensors, float dtypes, finite rigid poses, positive focal lengths.

Renderers run these on every frame, so :func:`read_cameras` copies all the small pose and
intrinsics tensors (plus any extra values the caller wants, such as a disparity range) to the
host in one ``cat`` and one ``tolist`` (a single host-device sync) and checks them in plain
Python: a dozen float operations per pose, cheaper than a chain of tiny tensor operations.

A pose is valid when it is finite, its rotation part ``R`` is orthonormal within
``ROTATION_TOLERANCE`` (``max |R R^T - I|``) with determinant +1, and a 4x4 pose ends in the row
``[0, 0, 0, 1]`` (same tolerance); so NaN, all-zero, singular, scaled and mirrored poses are
refused. Intrinsics ``[fx, fy, cx, cy]`` are valid when finite with ``fx, fy > 0``. Supported
dtypes: ``SUPPORTED_FLOAT_DTYPES`` (float32 and float64). Errors are one line that names the
argument, what is wrong and what is expected.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from viewgen.checks import check_shape

SUPPORTED_FLOAT_DTYPES = (torch.float32, torch.float64)
ROTATION_TOLERANCE = 1e-3

_POSE_EXPECTED = ("a pose must be a finite world-to-camera [R | t] (3x4, or 4x4 ending in [0, 0, 0, 1]) "
                  "with R a rotation")
_INTRINSICS_EXPECTED = "intrinsics are normalized [fx, fy, cx, cy], e.g. [0.8, 0.8 * W / H, 0.5, 0.5]"


def require_tensor(value, name: str) -> Tensor:
    """``value`` if it is a ``torch.Tensor``; ``TypeError`` naming ``name`` otherwise (numpy arrays, lists)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__module__}.{type(value).__qualname__}; "
                        f"convert it with torch.as_tensor({name}, dtype=torch.float32)")
    return value


def require_float_dtype(tensor: Tensor, name: str) -> None:
    """``ValueError`` unless ``tensor.dtype`` is one of ``SUPPORTED_FLOAT_DTYPES``."""
    if tensor.dtype not in SUPPORTED_FLOAT_DTYPES:
        raise ValueError(f"{name} has dtype {tensor.dtype}; supported are float32 and float64 "
                         f"(convert it with {name}.float())")


POSE_SHAPES = {  # leading dimensions allowed -> the specs of viewgen.checks.check_shape
    "any": [("...", 3, 4), ("...", 4, 4)],
    "single": [(3, 4), (4, 4)],
    "optional batch": [(3, 4), (4, 4), ("B", 3, 4), ("B", 4, 4)],
}


def check_pose(pose, name: str, leading: str = "any", *, error: type[Exception] = ValueError) -> Tensor:
    """The one pose shape check: ``pose`` is ``[3|4, 4]`` with the leading dimensions ``leading`` allows
    (``"any"``: ``[..., 3|4, 4]``; ``"single"``: none; ``"optional batch"``: none or one). Returns ``pose``.

    Values (finite, rigid) are :func:`read_cameras`'s job, read once per frame.
    """
    check_shape(pose, POSE_SHAPES[leading], name, what="pose", error=error)
    return pose


def _dot(a: list[float], b: list[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def pose_problem(values: list[float], tolerance: float = ROTATION_TOLERANCE) -> str | None:
    """What is wrong with one pose given as its 12 (3x4) or 16 (4x4) row-major values, or None."""
    if not all(math.isfinite(v) for v in values):
        return "contains NaN or infinite values"
    rows = (values[0:3], values[4:7], values[8:11])
    gram_error = max(abs(_dot(rows[i], rows[j]) - (i == j)) for i in range(3) for j in range(i, 3))
    if not gram_error <= tolerance:  # NaN (overflow) fails too
        return f"has a rotation part R that is not orthonormal (max |R R^T - I| = {gram_error:.3g} > {tolerance:g})"
    (a0, a1, a2), (b0, b1, b2) = rows[0], rows[1]
    determinant = _dot([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], rows[2])
    if determinant < 0:
        return f"has a rotation part with determinant {determinant:.3g} (a reflection, not a rotation)"
    last_row = values[12:16]
    if last_row and not max(abs(v - e) for v, e in zip(last_row, (0.0, 0.0, 0.0, 1.0))) <= tolerance:
        return f"has a last row {last_row} instead of [0, 0, 0, 1]"
    return None


def intrinsics_problem(values: list[float]) -> str | None:
    """What is wrong with one ``[fx, fy, cx, cy]``, or None."""
    if not all(math.isfinite(v) for v in values):
        return f"contains NaN or infinite values ({values})"
    if not (values[0] > 0 and values[1] > 0):
        return f"must have positive focal lengths fx, fy ({values})"
    return None


def read_cameras(poses: dict[str, Tensor], intrinsics: dict[str, Tensor], extra: Tensor | None = None,
                 tolerance: float = ROTATION_TOLERANCE) -> list[float]:
    """Check named poses ``[..., 3|4, 4]`` and intrinsics ``[..., 4]``; return ``extra``'s values.

    All tensors are read with one host-device sync (in the dtype and on the device of ``extra``,
    or of the first pose). Raises ``ValueError`` with one line naming the first bad argument.
    Returns the flattened values of ``extra`` (``[]`` without it).
    """
    tensors = [*poses.values(), *intrinsics.values()] + ([] if extra is None else [extra])
    anchor = tensors[-1] if extra is not None else tensors[0]
    values = torch.cat([t.detach().reshape(-1).to(dtype=anchor.dtype, device=anchor.device)
                        for t in tensors]).tolist()
    offset = 0
    for name, pose in poses.items():
        size = pose.shape[-2] * 4
        for start in range(offset, offset + pose.numel(), size):
            problem = pose_problem(values[start:start + size], tolerance)
            if problem:
                raise ValueError(f"{name} {problem}; {_POSE_EXPECTED}")
        offset += pose.numel()
    for name, camera in intrinsics.items():
        for start in range(offset, offset + camera.numel(), 4):
            problem = intrinsics_problem(values[start:start + 4])
            if problem:
                raise ValueError(f"{name} {problem}; {_INTRINSICS_EXPECTED}")
        offset += camera.numel()
    return values[offset:]
