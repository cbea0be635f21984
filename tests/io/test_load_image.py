"""``viewgen.io.images.load_image``: photos in, ``[1, 3, H, W]`` in [0, 1] out, one-line errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from viewgen.io.images import ImageFileError, load_image

H, W = 6, 10


def rgb_array(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_rgb_png_is_exact(tmp_path):
    array = rgb_array()
    Image.fromarray(array).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.shape == (1, 3, H, W) and image.dtype == torch.float32
    torch.testing.assert_close(image[0].permute(1, 2, 0), torch.from_numpy(array).float() / 255)


def test_jpeg_rgba_grey_and_palette(tmp_path):
    array = rgb_array()
    Image.fromarray(array).save(tmp_path / "a.jpg", quality=95)
    assert load_image(tmp_path / "a.jpg").shape == (1, 3, H, W)
    rgba = np.concatenate([array, np.full((H, W, 1), 7, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    expected = torch.from_numpy(array.transpose(2, 0, 1)[None] / 255.0).float()
    torch.testing.assert_close(load_image(tmp_path / "rgba.png"), expected)  # alpha dropped
    grey = array[..., 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    image = load_image(tmp_path / "g.png")
    assert image.shape == (1, 3, H, W)
    torch.testing.assert_close(image[0, 0], image[0, 2])
    Image.fromarray(array).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (1, 3, H, W)


def test_sixteen_bit_grey(tmp_path):
    values = np.linspace(0, 65535, H * W).astype(np.uint16).reshape(H, W)
    Image.fromarray(values).save(tmp_path / "g16.png")
    image = load_image(tmp_path / "g16.png")
    assert float(image.max()) == 1.0 and float(image.min()) == 0.0
    torch.testing.assert_close(image[0, 1], torch.from_numpy(values / 65535.0).float())


def test_exif_orientation_is_applied(tmp_path):
    array = rgb_array()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(array).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "rot.jpg")
    assert image.shape == (1, 3, W, H)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageFileError, match="is a folder"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("not an image at all")
    with pytest.raises(ImageFileError, match="not an image format"):
        load_image(tmp_path / "notes.png")
    Image.fromarray(rgb_array()).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError) as caught:
        load_image(tmp_path / "cut.png")
    assert "cut.png" in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)
