"""Decoding and framing of uploaded photos (no web framework needed)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from viewgen.server.uploads import UploadError, decode_upload, describe_bytes, frame_rgb, rgbd_from_upload

LIMITS = {"max_bytes": 1 << 20, "max_pixels": 1_000_000}


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_rgba_is_composited_on_white_and_greyscale_becomes_rgb():
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, :15, 3] = 255  # left half opaque red, right half fully transparent
    out = decode_upload(encode(Image.fromarray(rgba, "RGBA")), **LIMITS)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert (out[:, :15] == [255, 0, 0]).all() and (out[:, 15:] == 255).all()
    grey = decode_upload(encode(Image.new("L", (20, 20), 77)), **LIMITS)
    assert (grey == 77).all() and grey.shape == (20, 20, 3)
    palette = decode_upload(encode(Image.new("RGB", (20, 20), (10, 200, 30)).quantize(8)), **LIMITS)
    assert np.abs(palette.astype(int) - [10, 200, 30]).max() <= 8


def test_sixteen_bit_png_is_scaled_not_clipped():
    values = np.full((20, 20), 32768, dtype=np.uint16)
    out = decode_upload(encode(Image.fromarray(values)), **LIMITS)
    assert abs(int(out[0, 0, 0]) - 128) <= 1


def test_exif_orientation_is_applied():
    image = np.zeros((20, 40, 3), dtype=np.uint8)
    image[:, :20] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    out = decode_upload(encode(Image.fromarray(image), "JPEG", exif=exif, quality=95), **LIMITS)
    assert out.shape == (40, 20, 3)
    assert out[:15].mean() > 200 and out[25:].mean() < 50  # the left half is now on top


@pytest.mark.parametrize("data, status, words", [
    (b"hello world", 415, "a text file"),
    (b"%PDF-1.7 ...", 415, "a PDF document"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", 415, "a WebP image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 400, "could not be decoded"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, 400, "could not be decoded"),
])
def test_refusals(data, status, words):
    with pytest.raises(UploadError) as refused:
        decode_upload(data, **LIMITS)
    assert refused.value.status == status and words in str(refused.value)


def test_limits_are_checked_before_decoding():
    big = encode(Image.new("RGB", (2000, 1000)))
    with pytest.raises(UploadError, match="2000x1000 = 2 megapixels; the limit is 1 megapixels") as refused:
        decode_upload(big, **LIMITS)
    assert refused.value.status == 413
    with pytest.raises(UploadError, match="limit is 1 KB"):
        decode_upload(big, max_bytes=1024, max_pixels=10**8)
    with pytest.raises(UploadError, match="at least 16 pixels"):
        decode_upload(encode(Image.new("RGB", (8, 100))), **LIMITS)
    assert describe_bytes(b"") == "an empty file"


def test_frame_rgb_crops_to_the_flight_aspect_without_stretching():
    wide = np.zeros((100, 400, 3), dtype=np.uint8)
    wide[:, 150:250] = 255  # a white band in the middle
    for_depth, for_flight = frame_rgb(wide, (64, 96), depth_max_side=120)
    assert tuple(for_flight.shape) == (1, 3, 64, 96)
    assert tuple(for_depth.shape) == (1, 3, 80, 120)  # 150x100 crop, longer side 120
    assert 0.0 <= float(for_flight.min()) and float(for_flight.max()) <= 1.0
    column_means = for_flight[0, 0].mean(dim=0)
    assert column_means[48] > 0.9 and column_means[0] < 0.1 and column_means[-1] < 0.1
    tall = np.zeros((400, 100, 3), dtype=np.uint8)
    for_depth, _ = frame_rgb(tall, (64, 96))
    assert tuple(for_depth.shape) == (1, 3, 67, 100)


def test_rgbd_from_upload_resizes_and_normalizes_the_estimate():
    for_depth, for_flight = torch.rand(1, 3, 30, 45), torch.rand(1, 3, 64, 96)
    rgbd = rgbd_from_upload(for_depth, for_flight, lambda image: torch.rand(1, 1, 30, 45) * 5 - 1)
    assert tuple(rgbd.shape) == (1, 4, 64, 96) and torch.equal(rgbd[:, :3], for_flight)
    assert float(rgbd[:, 3].min()) >= 0 and float(rgbd[:, 3].max()) <= 1 and float(rgbd[:, 3].max()) > 0.9
    with pytest.raises(UploadError, match="non-finite"):
        rgbd_from_upload(for_depth, for_flight, lambda image: torch.full((1, 1, 30, 45), float("nan")))
    with pytest.raises(UploadError, match="expected"):
        rgbd_from_upload(for_depth, for_flight, lambda image: torch.zeros(2, 1, 30, 45))


def test_refusals_do_not_show_pillow_internals(monkeypatch):
    from PIL import Image as PillowImage

    broken = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # a PNG signature, then nonsense
    with pytest.raises(UploadError) as refused:
        decode_upload(broken, **LIMITS)
    assert "BytesIO" not in str(refused.value) and " at 0x" not in str(refused.value)
    assert "damaged or truncated" in str(refused.value)
    # Pillow's decompression-bomb guard, tighter than the server's own limit.
    monkeypatch.setattr(PillowImage, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UploadError) as refused:
        decode_upload(encode(PillowImage.new("RGB", (100, 100))), **LIMITS)
    assert refused.value.status == 413
    message = str(refused.value)
    assert "DOS" not in message and "bomb" not in message and "too large to decode safely" in message
