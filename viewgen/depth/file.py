"""Backend ``file``: a disparity map the user already has (``file:PATH``, or ``weights=PATH``).

Accepted files: ``.npy`` (a float or integer ``[H, W]``, ``[1, H, W]``, ``[H, W, 1]`` or
``[1, 1, H, W]`` array, read with ``allow_pickle=False``) and PNG (16-bit grayscale, value /
65535, as ``viewgen depth`` writes; 8-bit grayscale, value / 255). Values are disparity
(larger = nearer), at any size: the map is resized to the image, and normalised like every
backend's output (``normalization="none"`` keeps values that are already in [0, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from viewgen.depth.base import DepthError, DepthEstimatorBase

__all__ = ["FileDisparity", "read_disparity_file"]

SUFFIXES = (".npy", ".png")


def read_disparity_file(path: str | Path) -> Tensor:
    """Read a disparity file as ``[1, 1, H, W]`` float32. One-line ``DepthError`` / ``OSError`` on problems."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"disparity file {path} does not exist")
    if path.is_dir():
        raise DepthError(f"disparity path {path} is a folder, not a .npy or .png file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise DepthError(f"cannot read {path.name}: {' '.join(str(error).split())}") from None
        except (OSError, EOFError) as error:
            raise DepthError(f"cannot read {path.name}: corrupt or not a .npy file ({type(error).__name__})") from None
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise DepthError(f"{path.name} holds {array.dtype} values, expected numbers")
        squeezed = array.reshape([n for n in array.shape if n != 1]) if array.ndim > 2 else array
        if squeezed.ndim != 2 or min(squeezed.shape, default=0) < 1:
            raise DepthError(f"{path.name} must be an [H, W] disparity map (or [1, H, W] / [H, W, 1]), "
                             f"got shape {list(array.shape)}")
        disparity = torch.from_numpy(np.ascontiguousarray(squeezed, dtype=np.float32))[None, None]
    elif suffix == ".png":
        from viewgen.io.images import read_disparity_png16

        disparity = read_disparity_png16(path)
    else:
        raise DepthError(f"cannot read {path.name}: disparity files must be .npy or .png (16-bit grayscale)")
    if not bool(torch.isfinite(disparity).all()):
        raise DepthError(f"{path.name} contains NaN or infinite values")
    return disparity


class FileDisparity(DepthEstimatorBase):
    """Returns the disparity stored in ``path`` for any image (resized to it, normalised)."""

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
