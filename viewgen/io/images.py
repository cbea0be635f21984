"""Image writing: atomic PNG output of ``[C, H, W]`` tensors in [0, 1]."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from torch import Tensor


def to_uint8_hwc(image: Tensor) -> np.ndarray:
    """``[C, H, W]`` float in [0, 1] (C = 1 or 3) -> ``[H, W, C]`` uint8, rounded."""
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def write_png_atomic(path: str | Path, image: Tensor) -> Path:
    """Write ``[C, H, W]`` in [0, 1] to ``path`` via a temporary file in the same folder, then rename."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            Image.fromarray(to_uint8_hwc(image)).save(stream, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
