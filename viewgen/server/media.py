"""Frames as the page gets them: JPEG bytes, a colored disparity, and the flight as an MP4."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["disparity_to_uint8", "encode_jpeg", "encode_mp4", "rgb_to_uint8"]

# A perceptually ordered dark-to-bright color map (anchors of matplotlib's "magma").
_MAGMA_ANCHORS = np.array([
    [0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122],
    [229, 80, 100], [251, 135, 97], [254, 194, 135], [252, 253, 191],
], dtype=np.float64)
_POSITIONS = np.linspace(0.0, 1.0, len(_MAGMA_ANCHORS))
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), _POSITIONS, _MAGMA_ANCHORS[:, c]) for c in range(3)],
                axis=1).round().astype(np.uint8)


def rgb_to_uint8(rgb: Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` (or ``[3, H, W]``) in [0, 1] -> ``[H, W, 3]`` uint8 (rounded)."""
    rgb = rgb.detach().to("cpu", torch.float32)
    if rgb.dim() == 4:
        rgb = rgb[0]
    array = (rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(array.numpy())


def disparity_to_uint8(disparity: Tensor) -> np.ndarray:
    """``[1, 1, H, W]`` disparity in [0, 1] -> ``[H, W, 3]`` uint8 through a magma color map (near = bright)."""
    disparity = disparity.detach().to("cpu", torch.float32).reshape(disparity.shape[-2:])
    index = (disparity.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.long).numpy()
    return _LUT[index]


def encode_jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    """``[H, W, 3]`` uint8 -> JPEG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _decode_jpeg(data: bytes) -> Tensor:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0)


def encode_mp4(jpeg_frames: Sequence[bytes], fps: float) -> bytes:
    """Encode JPEG frames (all the same size) into H.264 MP4 bytes (``viewgen.io.video``)."""
    from viewgen.io.video import open_frame_writer

    if not jpeg_frames:
        raise ValueError("no frames to encode")
    first = _decode_jpeg(jpeg_frames[0])
    size = tuple(first.shape[-2:])
    with tempfile.TemporaryDirectory(prefix="viewgen-serve-") as folder:
        path = Path(folder) / "flight.mp4"
        with open_frame_writer(path, fps, size=size) as writer:
            writer.write(first)
            for data in jpeg_frames[1:]:
                writer.write(_decode_jpeg(data))
        return path.read_bytes()


def encode_png(array: np.ndarray) -> bytes:
    """``[H, W, 3]`` uint8 -> PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
