"""Image files: atomic PNG output of ``[C, H, W]`` tensors in [0, 1] and 16-bit disparity PNGs.

Every writer here goes through a temporary file in the destination folder (``.NAME.XXXX.png``)
that is renamed over ``path`` only once it is complete, so a crash or Ctrl-C never leaves a
truncated PNG and never destroys an existing file. Missing parent folders are created.

Disparity PNGs are single-channel 16-bit: pixel value ``round(d * 65535)`` for ``d`` in [0, 1]
(values outside are clamped, NaN is written as 0), so a round trip is exact to ``1 / 65535``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.errors import InputError, one_line
from viewgen.io.limits import MAX_ARRAY_PIXELS, MAX_IMAGE_PIXELS, fit_long_side, size_problem
from viewgen.io.paths import require_regular_file
from viewgen.staging import write_file_atomic

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
    """:func:`viewgen.staging.write_file_atomic` for any path-like: ``write(stream)`` on a hidden file
    beside ``path``, renamed to ``path`` when done; ``path`` is left as it was on any failure."""
    return write_file_atomic(Path(path), write, suffix)


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
    check_shape(disparity, ("H", "W"), "disparity", hint=f" (or [1, H, W], [1, 1, H, W]; given {shape})")
    check_min_size(disparity, 1, "disparity")
    return disparity


def write_disparity_png16(path: str | Path, disparity: Tensor) -> Path:
    """Write disparity in [0, 1] as a 16-bit grayscale PNG with value ``round(d * 65535)``, atomically.

    ``disparity`` is ``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]``; values are clamped to [0, 1]
    and NaN is written as 0. Returns ``path``.
    """
    from PIL import Image

    values = _disparity_hw(disparity).detach().cpu()
    array = np.empty(tuple(values.shape), np.uint16)
    for top in range(0, array.shape[0], 256):  # in bands of rows, so a big map needs no float64 copy of itself
        band = torch.nan_to_num(values[top:top + 256].double(), nan=0.0).clamp(0, 1)
        array[top:top + 256] = (band * DISPARITY_PNG_SCALE).round().numpy()
    pixels = Image.fromarray(array)  # mode "I;16": written as a 16-bit grayscale PNG
    return save_atomic(path, lambda stream: pixels.save(stream, format="PNG"), suffix=".png")


def read_disparity_png16(path: str | Path) -> Tensor:
    """Read a disparity PNG written by :func:`write_disparity_png16`: ``[1, 1, H, W]`` float32 in [0, 1].

    16-bit grayscale PNGs are divided by 65535; 8-bit grayscale ones by 255. Anything else
    (color, alpha, other formats, more than :data:`~viewgen.io.limits.MAX_ARRAY_PIXELS`) raises
    ``ValueError``; a missing file raises ``OSError``.
    """
    from PIL import Image

    path = require_regular_file(Path(path), ImageFileError, "a 16-bit disparity image")
    with _pillow_errors(path, MAX_ARRAY_PIXELS), Image.open(path) as image:
        problem = size_problem(path.name, image.height, image.width, MAX_ARRAY_PIXELS)  # before decoding
        if problem:
            raise ImageFileError(problem)
        image.load()
        mode = image.mode
        array = np.array(image)
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

__all__ += ["ImageFileError", "load_image", "load_image_with_size", "resize_image", "resize_input"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_RESIZABLE_MODES = ("L", "RGB", "I", "F", *_SIXTEEN_BIT_MODES)


class ImageFileError(InputError):
    """An image file that cannot be used (corrupt, truncated, unsupported, too large); one-line message."""


def _image_array(image, name: str) -> np.ndarray:
    """A Pillow image -> ``[H, W, 3]`` float32 in [0, 1] (alpha dropped, grey repeated)."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
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


def _bomb_message(name: str, error: Exception, max_pixels: int) -> str:
    """Pillow refused to open a huge image: say how big in our own words (its text never reaches users)."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(found.group(1)) / 1e6:.3g} Mpx" if found else "too many pixels"
    return f"{name} has {size}; the limit is {max_pixels / 1e6:.3g} Mpx: downscale it first"


@contextlib.contextmanager
def _pillow_errors(path: Path, max_pixels: int):
    """Turn whatever Pillow raises for a bad file into one-line :class:`ImageFileError` / ``OSError``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # our own size check replaces Pillow's bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise ImageFileError(f"cannot read {path.name}: not an image format Pillow can read "
                             f"(PNG, JPEG, WebP, BMP, TIFF, ...)") from None
    except Image.DecompressionBombError as error:
        raise ImageFileError(_bomb_message(path.name, error, max_pixels)) from None
    except ImageFileError:
        raise
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    except MemoryError:
        raise ImageFileError(f"cannot read {path.name}: not enough memory to decode it; downscale it first") from None
    except Exception as error:  # noqa: BLE001 - Pillow's many error types for truncated/corrupt data
        reason = one_line(error)
        raise ImageFileError(f"cannot read {path.name}: corrupt or truncated image ({reason[:120]})") from None


def _decode_small(image, name: str, max_side: int | None):
    """Decode an opened Pillow image, upright (EXIF), shrunk to ``max_side`` while still 8/16-bit.

    Returns ``(image, (height, width))``: a Pillow image in a mode :func:`_image_array` reads, and
    the upright size of the full image. JPEGs are decoded at a reduced scale when that is enough.
    """
    from PIL import Image, ImageOps

    width, height = image.size
    target_h, target_w = fit_long_side(height, width, max_side)
    if (target_w, target_h) != (width, height) and image.format == "JPEG":
        image.draft(None, (target_w, target_h))  # decodes at 1/2, 1/4 or 1/8 scale, never below the target
    image.load()
    loaded_size = image.size
    image = ImageOps.exif_transpose(image) or image
    upright = (height, width) if image.size == loaded_size else (width, height)
    if image.mode not in _RESIZABLE_MODES:  # palette, 1-bit, alpha, CMYK, ...: 8-bit RGB (or grey)
        image = image.convert("L" if image.mode in ("1", "LA", "La") else "RGB")
    target = fit_long_side(*upright, max_side)
    if image.size != (target[1], target[0]):
        image = image.resize((target[1], target[0]), Image.Resampling.LANCZOS)
    if min(image.size) < 1:
        raise ImageFileError(f"cannot read {name}: empty image")
    return image, upright


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """``[B, C, H, W]`` in [0, 1] resized to ``size = (H', W')``: bilinear, antialiased when shrinking, clamped to
    [0, 1]. For frames and disparity maps read from files (posed clips, their windows and evaluation)."""
    resized = torch.nn.functional.interpolate(image, size=tuple(size), mode="bilinear", antialias=True,
                                              align_corners=False)
    return resized.clamp(0.0, 1.0)


def resize_input(rgbd: Tensor, size: tuple[int, int]) -> Tensor:
    """``[B, C, H, W]`` resized to ``size = (H', W')`` as a flight resizes its input frame: bilinear without
    antialiasing (as the original Infinite Nature's ``tf.image.resize``; at 2x down it is the mean of each 2x2
    block), not clamped. The ground truth of a flight from a built-in sample is resized so too
    (:func:`~viewgen.evaluation.sample_worlds.render_truth`), so it is formed as frame 0 was."""
    if tuple(rgbd.shape[-2:]) == tuple(size):
        return rgbd
    return torch.nn.functional.interpolate(rgbd, size=tuple(size), mode="bilinear", align_corners=False)


def load_image_with_size(path: str | Path, *, max_side: int | None = None,
                         max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[Tensor, tuple[int, int]]:
    """:func:`load_image`, also returning the upright ``(height, width)`` of the full-size photo."""
    from PIL import Image

    path = require_regular_file(Path(path).expanduser(), ImageFileError, "an image")
    with _pillow_errors(path, max_pixels), Image.open(path) as image:
        problem = size_problem(path.name, image.height, image.width, max_pixels)  # header only, nothing decoded
        if problem:
            raise ImageFileError(problem)
        small, upright = _decode_small(image, path.name, max_side)
        array = _image_array(small, path.name)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None], upright


def load_image(path: str | Path, *, max_side: int | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> Tensor:
    """Read a photo as RGB ``[1, 3, H, W]`` float32 in [0, 1].

    Anything Pillow reads (PNG, JPEG, WebP, BMP, TIFF, GIF's first frame, ...). The EXIF
    orientation is applied, so the tensor looks like the photo does in a viewer; alpha is
    dropped; greyscale (8- or 16-bit) is repeated to three channels; 16-bit greyscale is
    divided by 65535.

    The size in the file's header is checked before any pixel is decoded: above ``max_pixels``
    (:data:`~viewgen.io.limits.MAX_IMAGE_PIXELS`, 50 Mpx) the file is refused. With
    ``max_side``, the photo is shrunk (Lanczos, aspect kept) so its longer side is at most
    that, while its pixels are still 8- or 16-bit integers (JPEGs are even decoded at a
    reduced scale), so only the small image is ever converted to float.

    A missing file raises ``FileNotFoundError``; a folder, an unreadable, corrupt, truncated or
    too large file raises :class:`ImageFileError` (a ``ValueError``), one line each.
    """
    return load_image_with_size(path, max_side=max_side, max_pixels=max_pixels)[0]
