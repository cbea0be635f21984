"""Backend ``file``: a disparity map the user already has (``file:PATH``, or ``weights=PATH``).

Accepted files: ``.npy`` (a float or integer ``[H, W]``, ``[1, H, W]``, ``[H, W, 1]`` or
``[1, 1, H, W]`` array of at most :data:`~viewgen.io.limits.MAX_ARRAY_PIXELS` values, checked in
its header before the data is read) and PNG (16-bit grayscale, value /
65535, as ``viewgen depth`` writes; 8-bit grayscale, value / 255). Values are disparity
(larger = nearer), at any size: the map is resized to the image, and normalized like every
backend's output (``normalization="none"`` keeps values that are already in [0, 1]).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.depth.base import DepthError, DepthEstimatorBase
from viewgen.io.limits import MAX_ARRAY_PIXELS, size_problem
from viewgen.io.numpy_files import load_npy_checked, numpy_file_kind
from viewgen.io.paths import require_regular_file

__all__ = ["FileDisparity", "read_disparity_file"]

SUFFIXES = (".npy", ".png")


def read_disparity_file(path: str | Path) -> Tensor:
    """Read a disparity file as ``[1, 1, H, W]`` float32. One-line ``DepthError`` / ``OSError`` on problems."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"disparity file {path} does not exist")
    require_regular_file(path, DepthError, "a .npy or .png disparity file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _read_npy(path)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise DepthError(f"{path.name} holds {array.dtype} values, expected numbers")
        squeezed = array.reshape([n for n in array.shape if n != 1]) if array.ndim > 2 else array
        check_shape(squeezed, ("H", "W"), path.name, what="disparity map",
                    hint=f" (or [1, H, W] / [H, W, 1]; the file holds {list(array.shape)})", error=DepthError)
        check_min_size(squeezed, 1, path.name, error=DepthError)
        disparity = torch.from_numpy(np.ascontiguousarray(squeezed, dtype=np.float32))[None, None]
    elif suffix == ".png":
        from viewgen.io.images import read_disparity_png16

        disparity = read_disparity_png16(path)
    else:
        raise DepthError(f"cannot read {path.name}: disparity files must be .npy or .png (16-bit grayscale)")
    if not bool(torch.isfinite(disparity).all()):
        raise DepthError(f"{path.name} contains NaN or infinite values")
    return disparity


def _check_npy(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Refuse a disparity array above ``MAX_ARRAY_PIXELS`` from its header, before reading it."""
    if math.prod(shape) > MAX_ARRAY_PIXELS:
        height, width = (shape[-2], shape[-1]) if len(shape) >= 2 else (math.prod(shape), 1)
        raise DepthError(size_problem(f"{name} {list(shape)}", height, width, MAX_ARRAY_PIXELS)
                         or f"{name} {list(shape)} is too large")


def _read_npy(path: Path) -> np.ndarray:
    """The array of a disparity ``.npy`` (signature, header and size checked first)."""
    if numpy_file_kind(path, DepthError) != "npy":
        raise DepthError(f"cannot read {path.name}: it is an .npz archive; save the map with numpy.save")
    return load_npy_checked(path, lambda _key, shape, dtype: _check_npy(path.name, shape, dtype), DepthError)


class FileDisparity(DepthEstimatorBase):
    """Returns the disparity stored in ``path`` for any image (resized to it, normalized)."""

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        if path is None:
            raise DepthError("the file backend needs a disparity file: use 'file:PATH' (e.g. --backend file:disp.png)")
        self.name = "file"
        self.device = torch.device(device)
        self.path = Path(path).expanduser()
        self.disparity = read_disparity_file(self.path).to(self.device)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return tuple(self.disparity.shape[-2:])

    def predict_raw(self, image: Tensor) -> Tensor:
        return self.disparity.expand(image.shape[0], -1, -1, -1)
