"""Image files: atomic PNG output of ``[C, H, W]`` tensors in [0, 1] and 16-bit disparity PNGs.

Every writer here goes through a temporary file in the destination folder (``.NAME.XXXX.png``)
that is renamed over ``path`` only once it is complete, so a crash or Ctrl-C never leaves a
truncated PNG and never destroys an existing file. Missing parent folders are created.

Disparity PNGs are single-channel 16-bit: pixel value ``round(d * 65535)`` for ``d`` in [0, 1]
(values outside are clamped, NaN is written as 0), so a round trip is exact to ``1 / 65535``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

__all__ = ["new_file_mode", "read_disparity_png16", "save_atomic", "to_uint8_hwc", "write_disparity_png16",
           "write_png_atomic"]

DISPARITY_PNG_SCALE = 65535


def to_uint8_hwc(image: Tensor) -> np.ndarray:
    """``[C, H, W]`` float in [0, 1] (C = 1 or 3) -> ``[H, W, C]`` uint8, rounded (``[H, W]`` for C = 1).

    Values are clamped to [0, 1]; NaN becomes 0.
    """
    image = torch.nan_to_num(image.detach().float(), nan=0.0)
    array = image.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


@functools.lru_cache(maxsize=1)
def new_file_mode() -> int:
    """Permission bits of a newly created file (``0o666`` less the umask, read once).

    ``tempfile.mkstemp`` creates files ``0o600``; atomic writers ``chmod`` their temporary file
    to this so the renamed result looks like one made with ``open(path, "w")``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: read the umask by setting it and restoring it at once
    os.umask(mask)
    return 0o666 & ~mask


def save_atomic(path: str | Path, write: Callable[[BinaryIO], None], suffix: str = "") -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, then rename it to ``path``.

    The parent folder is created if missing. On any failure (or KeyboardInterrupt) the
    temporary file is removed and ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.chmod(temporary, new_file_mode())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_png_atomic(path: str | Path, image: Tensor) -> Path:
    """Write ``[C, H, W]`` in [0, 1] to ``path`` via a temporary file in the same folder, then rename."""
    from PIL import Image

    pixels = Image.fromarray(to_uint8_hwc(image))
    return save_atomic(path, lambda stream: pixels.save(stream, format="PNG"), suffix=".png")


def _disparity_hw(disparity: Tensor) -> Tensor:
    if not isinstance(disparity, Tensor):
        raise TypeError(f"disparity must be a torch.Tensor, got {type(disparity).__name__}")
    shape = list(disparity.shape)
    while disparity.dim() > 2 and disparity.shape[0] == 1:
        disparity = disparity[0]
    if disparity.dim() != 2 or min(disparity.shape) < 1:
        raise ValueError(f"disparity must be [H, W], [1, H, W] or [1, 1, H, W] with H, W >= 1, got {shape}")
    return disparity


def write_disparity_png16(path: str | Path, disparity: Tensor) -> Path:
    """Write disparity in [0, 1] as a 16-bit grayscale PNG with value ``round(d * 65535)``, atomically.

    ``disparity`` is ``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]``; values are clamped to [0, 1]
    and NaN is written as 0. Returns ``path``.
    """
    from PIL import Image

    values = torch.nan_to_num(_disparity_hw(disparity).detach().double().cpu(), nan=0.0).clamp(0, 1)
    array = (values * DISPARITY_PNG_SCALE).round().numpy().astype(np.uint16)
    pixels = Image.fromarray(array)  # mode "I;16": written as a 16-bit grayscale PNG
    return save_atomic(path, lambda stream: pixels.save(stream, format="PNG"), suffix=".png")


def read_disparity_png16(path: str | Path) -> Tensor:
    """Read a disparity PNG written by :func:`write_disparity_png16`: ``[1, 1, H, W]`` float32 in [0, 1].

    16-bit grayscale PNGs are divided by 65535; 8-bit grayscale ones by 255. Anything else
    (colour, alpha, other formats) raises ``ValueError``; a missing file raises ``OSError``.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.array(image)
    except UnidentifiedImageError:
        raise ValueError(f"cannot read {path.name}: not an image file") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot read {path}: no such file") from None
    if mode == "L":
        scale = 255.0
    elif mode in ("I;16", "I;16B", "I;16L", "I") and array.ndim == 2:
        if array.size and (array.min() < 0 or array.max() > DISPARITY_PNG_SCALE):
            raise ValueError(f"cannot read {path.name}: values outside the 16-bit range")
        scale = float(DISPARITY_PNG_SCALE)
    else:
        raise ValueError(f"cannot read {path.name}: expected a 16-bit (or 8-bit) grayscale PNG, got mode {mode}")
    values = array.astype(np.float64) / scale
    return torch.from_numpy(values.astype(np.float32))[None, None]


# ----------------------------------------------------------------------------- reading photos

__all__ += ["ImageFileError", "load_image"]


class ImageFileError(ValueError):
    """An image file that cannot be used (corrupt, truncated, unsupported); one-line message."""


def _image_array(image, name: str) -> np.ndarray:
    """A Pillow image -> ``[H, W, 3]`` float32 in [0, 1] (alpha dropped, grey repeated)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        grey = np.asarray(image, dtype=np.float32) / 65535.0
    elif mode == "I":
        values = np.asarray(image, dtype=np.float64)
        top = 255.0 if values.size and values.max() <= 255 else 65535.0
        grey = (np.clip(values, 0, top) / top).astype(np.float32)
    elif mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if values.size and not np.isfinite(values).all():
            raise ImageFileError(f"cannot use {name}: it contains NaN or infinite values")
        grey = np.clip(values / (255.0 if values.size and values.max() > 1.0 else 1.0), 0, 1)
    else:
        rgb = image.convert("RGB") if mode != "RGB" else image
        return np.asarray(rgb, dtype=np.float32) / 255.0
    return np.repeat(grey[..., None], 3, axis=-1)


def load_image(path: str | Path) -> Tensor:
    """Read a photo as RGB ``[1, 3, H, W]`` float32 in [0, 1].

    Anything Pillow reads (PNG, JPEG, WebP, BMP, TIFF, GIF's first frame, ...). The EXIF
    orientation is applied, so the tensor looks like the photo does in a viewer; alpha is
    dropped; greyscale (8- or 16-bit) is repeated to three channels; 16-bit greyscale is
    divided by 65535. A missing file raises ``FileNotFoundError``; a folder, an unreadable,
    corrupt or truncated file raises :class:`ImageFileError` (a ``ValueError``), one line each.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise ImageFileError(f"cannot read {path}: it is a folder, not an image")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image) or image
            array = _image_array(image, path.name)
    except UnidentifiedImageError:
        raise ImageFileError(f"cannot read {path.name}: not an image format Pillow can read "
                             f"(PNG, JPEG, WebP, BMP, TIFF, ...)") from None
    except Image.DecompressionBombError as error:
        raise ImageFileError(f"cannot read {path.name}: too large ({' '.join(str(error).split())[:120]})") from None
    except ImageFileError:
        raise
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's errors for truncated/corrupt data
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ImageFileError(f"cannot read {path.name}: corrupt or truncated image ({reason[:120]})") from None
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageFileError(f"cannot read {path.name}: empty image")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
