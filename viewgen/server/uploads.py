"""Uploaded photos: check, decode and frame them for a flight (no web framework here).

:func:`decode_upload` turns the bytes a browser sent into an ``[H, W, 3]`` uint8 array, or
raises :class:`UploadError` with a message meant for the page (never Pillow's own text, which
names internal objects). Only PNG and JPEG are accepted,
recognised by their content (the file name and the browser's content type are not trusted),
and only up to a byte size and a pixel count that are checked *before* any pixel is decoded.
EXIF orientation is applied; transparency is composited onto white; greyscale, palette,
CMYK and 16-bit images become 8-bit RGB.

:func:`frame_rgb` crops the photo to the flight's aspect ratio (centred, like a "cover"
fit, so nothing is stretched) and returns it at the size the depth backend gets and at the
flight size.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.errors import ViewgenError, one_line

__all__ = ["UploadError", "decode_upload", "describe_bytes", "frame_rgb", "rgbd_from_upload"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MIN_SIDE = 16  # pixels; smaller images are refused


class UploadError(ViewgenError, ValueError):
    """An upload the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def format_bytes(count: int) -> str:
    """``15728640`` -> ``"15 MB"`` (binary megabytes, at most one decimal)."""
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    value = count / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"


def format_pixels(count: int) -> str:
    """``40_000_000`` -> ``"40 megapixels"``; small counts in plain pixels."""
    if count >= 1_000_000:
        value = count / 1e6
        return f"{value:.0f} megapixels" if value == round(value) else f"{value:.1f} megapixels"
    return f"{count:,} pixels"


def describe_bytes(data: bytes) -> str:
    """A short guess of what a refused file is, from its first bytes (for error messages)."""
    head = data[:64]
    known = (
        (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"BM", "a BMP image"),
        (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "a gzip archive"), (b"\x00\x00\x01\x00", "an icon file"),
    )
    for magic, name in known:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF image"
    if not data:
        return "an empty file"
    try:
        head.decode("utf-8")
        return "a text file" if b"\x00" not in head else "a binary file"
    except UnicodeDecodeError:
        return "a binary file"


def decode_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Check and decode an uploaded PNG/JPEG -> ``[H, W, 3]`` uint8 RGB (EXIF orientation applied).

    Raises :class:`UploadError` (status 413 for too large, 415 for not a PNG/JPEG, 400 for a
    broken or too small image) with a one-line message for the user.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > max_bytes:
        raise UploadError(f"The file is {format_bytes(len(data))}; the limit is {format_bytes(max_bytes)}.", 413)
    if not (data.startswith(PNG_MAGIC) or data.startswith(JPEG_MAGIC)):
        raise UploadError(f"Only PNG and JPEG images can be uploaded; this looks like {describe_bytes(data)}.", 415)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ("PNG", "JPEG"):
                raise UploadError(f"Only PNG and JPEG images can be uploaded, not {image.format}.", 415)
            width, height = image.size
            if width * height > max_pixels:
                raise UploadError(f"The image is {width}x{height} = {format_pixels(width * height)}; "
                                  f"the limit is {format_pixels(max_pixels)}.", 413)
            if min(width, height) < MIN_SIDE:
                raise UploadError(f"The image is {width}x{height} pixels; it needs at least "
                                  f"{MIN_SIDE} pixels on each side.", 400)
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb_array(image)
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadError(f"The image is too large to decode safely; the limit is {format_pixels(max_pixels)}.",
                          413) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        # Pillow's own text names internals (the buffer object, its attack warnings): not for the page.
        kind = "PNG" if data.startswith(PNG_MAGIC) else "JPEG"
        raise UploadError(f"The {kind} image could not be decoded: the file is damaged or truncated. "
                          "Save it again as PNG or JPEG and retry.", 400) from error


def _to_rgb_array(image) -> np.ndarray:
    """Any Pillow mode -> ``[H, W, 3]`` uint8; alpha over white; 16-bit scaled, not clipped."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode != "F" and values.max(initial=0) > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max(initial=0)), 1e-12)
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _crop_to_aspect(rgb: np.ndarray, size: tuple[int, int]):
    """``rgb [H, W, 3]`` uint8 cropped (centred) to the aspect ratio of ``size`` ``(h, w)``, as a PIL image."""
    from PIL import Image

    height, width = rgb.shape[:2]
    target_h, target_w = size
    aspect = target_w / target_h
    if width / height > aspect:  # too wide: crop the sides
        crop_w = max(1, round(height * aspect))
        left = (width - crop_w) // 2
        rgb = rgb[:, left:left + crop_w]
    else:  # too tall: crop top and bottom
        crop_h = max(1, round(width / aspect))
        top = (height - crop_h) // 2
        rgb = rgb[top:top + crop_h]
    return Image.fromarray(np.ascontiguousarray(rgb))


def fit_rgb(rgb: np.ndarray, size: tuple[int, int]) -> Tensor:
    """``rgb [H, W, 3]`` uint8 cropped to the aspect of ``size`` and resized to it (antialiased, still 8-bit, so a
    large upload is never held in float): ``[1, 3, *size]`` float in [0, 1]."""
    from PIL import Image

    return _to_tensor(_crop_to_aspect(rgb, size).resize((size[1], size[0]), Image.Resampling.LANCZOS))


def frame_rgb(rgb: np.ndarray, flight_size: tuple[int, int], depth_max_side: int = 1024) -> tuple[Tensor, Tensor]:
    """Crop ``rgb [H, W, 3]`` uint8 to the flight's aspect ratio (centred) and resize it.

    Returns ``(for_depth, for_flight)``: ``[1, 3, h, w]`` float in [0, 1] with the longer side
    at most ``depth_max_side`` (never upscaled), and ``[1, 3, *flight_size]`` (antialiased).
    """
    from PIL import Image

    image = _crop_to_aspect(rgb, flight_size)
    scale = min(1.0, depth_max_side / max(image.size))
    depth_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    for_depth = image if depth_size == image.size else image.resize(depth_size, Image.Resampling.LANCZOS)
    for_flight = image.resize((flight_size[1], flight_size[0]), Image.Resampling.LANCZOS)
    return _to_tensor(for_depth), _to_tensor(for_flight)


def _to_tensor(image) -> Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0)


def rgbd_from_upload(for_depth: Tensor, for_flight: Tensor, depth_estimator) -> Tensor:
    """Run ``depth_estimator`` on ``for_depth`` and return the flight-size RGBD ``[1, 4, H, W]``.

    The estimate is resized to the flight size (antialiased); an estimate outside [0, 1] is
    min-max normalized, a non-finite or misshapen one raises :class:`UploadError` (500).
    """
    with torch.inference_mode():
        disparity = depth_estimator(for_depth)
    if not isinstance(disparity, Tensor):
        disparity = torch.as_tensor(np.asarray(disparity))
    disparity = disparity.detach().to("cpu", torch.float32)
    while disparity.dim() < 4:
        disparity = disparity.unsqueeze(0)
    try:
        check_shape(disparity, (1, 1, "H", "W"), "disparity")
    except ValueError as error:
        raise UploadError(f"The depth backend returned an unexpected disparity: {one_line(error)}.", 500) from None
    if not bool(torch.isfinite(disparity).all()):
        raise UploadError("The depth backend returned non-finite disparity for this image.", 500)
    low, high = float(disparity.min()), float(disparity.max())
    if low < -1e-3 or high > 1 + 1e-3:
        disparity = (disparity - low) / max(high - low, 1e-12)
    size = tuple(for_flight.shape[-2:])
    if tuple(disparity.shape[-2:]) != size:
        disparity = F.interpolate(disparity, size=size, mode="bilinear", align_corners=False, antialias=True)
    return torch.cat([for_flight, disparity.clamp(0.0, 1.0)], dim=1)
