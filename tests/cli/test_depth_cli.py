"""``viewgen depth`` and ``viewgen download``: outputs, and one-line errors with exit status 2."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.depth import random_midas, save_checkpoint
from tests.helpers.offline import isolated_cache  # noqa: F401 - autouse: an empty VIEWGEN_HOME, offline
from viewgen.cli.main import main
from viewgen.depth.midas import MIDAS_VARIANTS
from viewgen.depth.midas_net import MIDAS_V21_SMALL
from viewgen.io.images import read_disparity_png16

H, W = 36, 52


def viewgen_home() -> Path:
    """The empty VIEWGEN_HOME that :func:`isolated_cache` set for this test."""
    return Path(os.environ["VIEWGEN_HOME"])


@pytest.fixture
def photo(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(array).save(path)
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("viewgen: error: ") or lines[0].startswith("viewgen depth: error: "), err
    return lines[0]


def test_depth_from_a_disparity_file_with_preview(tmp_path, photo, capsys):
    np.save(tmp_path / "given.npy", np.linspace(0, 3, 12 * 16, dtype=np.float32).reshape(12, 16))
    out, preview = tmp_path / "out" / "d.png", tmp_path / "p.png"
    assert main(["depth", str(photo), "--backend", f"file:{tmp_path / 'given.npy'}", "--out", str(out),
                 "--preview", str(preview)]) == 0
    assert f"{out}: {H}x{W} disparity of photo.jpg" in capsys.readouterr().out
    with Image.open(out) as png:
        assert png.mode.startswith("I") and png.size == (W, H)
    disparity = read_disparity_png16(out)
    assert disparity.shape == (1, 1, H, W) and float(disparity.min()) == 0.0
    with Image.open(preview) as png:
        assert png.mode == "RGB" and png.size == (W, H)


def test_depth_with_the_official_small_architecture_from_the_cache(photo, tmp_path, capsys):
    spec = MIDAS_VARIANTS["midas-v21-small"].weights
    save_checkpoint(random_midas(MIDAS_V21_SMALL), viewgen_home() / "weights" / spec.filename)
    out = tmp_path / "d.npy"
    assert main(["depth", str(photo), "--backend", "midas-v21-small", "--out", str(out), "--size", "20x30",
                 "--normalization", "percentile"]) == 0
    assert "from midas-v21-small at 192x256" in capsys.readouterr().out
    array = np.load(out)
    assert array.shape == (20, 30) and array.dtype == np.float32
    assert 0 <= array.min() and array.max() <= 1 and array.std() > 0


def test_missing_weights_offline(photo, tmp_path, capsys):
    assert main(["depth", str(photo), "--out", str(tmp_path / "d.png")]) == 2
    line = error_line(capsys)
    spec = MIDAS_VARIANTS["midas-v21"].weights
    assert spec.urls[0] in line and str(viewgen_home() / "weights" / spec.filename) in line
    assert not (tmp_path / "d.png").exists()


@pytest.mark.parametrize(("args", "pattern"), [
    (["--backend", "midas-v9"], "unknown depth backend 'midas-v9'"),
    (["--out", "d.jpg"], "must end in .png or .npy"),
    (["--backend", "file:nothing.npy"], "nothing.npy does not exist"),
    (["--device", "tpu"], "unknown device"),
])
def test_bad_arguments(photo, tmp_path, capsys, args, pattern, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["depth", str(photo), *args]) == 2
    assert pattern in error_line(capsys)


def test_bad_images(tmp_path, capsys):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["depth", str(tmp_path / "broken.png"), "--backend", "file:x.npy"]) == 2
    assert "broken.png" in error_line(capsys)
    assert main(["depth", str(tmp_path / "none.jpg")]) == 2
    assert "no such file" in error_line(capsys)


def test_bad_size_is_a_usage_error(photo, capsys):
    assert main(["depth", str(photo), "--size", "12by5"]) == 2
    err = capsys.readouterr().err
    assert "size must look like HxW" in err and err.count("\n") == 1


def test_download(capsys):
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    assert "midas-v21 " in out and "midas_v21-f6b98070.pt" in out and "depth-anything-v2-large" in out
    assert main(["download", "midas-v21"]) == 2
    assert "offline" in error_line(capsys)
    assert main(["download", "file"]) == 2
    assert "nothing to download" in error_line(capsys)


def test_cuda_device_when_missing(photo, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    np.save(tmp_path / "given.npy", np.ones((4, 4), np.float32))
    assert main(["depth", str(photo), "--backend", f"file:{tmp_path / 'given.npy'}", "--device", "cuda"]) == 2
    assert "CUDA is not available" in error_line(capsys)


def test_fly_a_photo_with_a_tiny_stand_in_depth_model(photo, tmp_path, capsys):
    spec = MIDAS_VARIANTS["midas-v21-small"].weights
    save_checkpoint(random_midas(MIDAS_V21_SMALL), viewgen_home() / "weights" / spec.filename)
    out = tmp_path / "frames"
    assert main(["fly", str(photo), "--depth", "midas-v21-small", "--frames", "3", "--size", "32x48",
                 "--out", f"{out}/", "--save-disparity"]) == 0
    assert "photo.jpg + midas-v21-small depth" in capsys.readouterr().err
    disparity = read_disparity_png16(out / "disparity_00000.png")
    assert disparity.shape == (1, 1, 32, 48) and float(disparity.std()) > 0
    assert len(list(out.glob("frame_*.png"))) == 3


def test_fly_a_photo_without_depth_weights_names_the_download(photo, tmp_path, capsys):
    assert main(["fly", str(photo), "--out", str(tmp_path / "f.mp4")]) == 2
    line = error_line(capsys)
    assert MIDAS_VARIANTS["midas-v21"].weights.urls[0] in line
    assert not (tmp_path / "f.mp4").exists()


def test_a_photo_wider_than_the_working_size_gives_disparity_at_its_full_size(tmp_path, capsys):
    from viewgen.io.limits import WORKING_MAX_SIDE

    width = WORKING_MAX_SIDE + 52
    array = np.random.default_rng(2).integers(0, 256, (20, width, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "wide.png")
    np.save(tmp_path / "given.npy", np.linspace(0, 1, 5 * 40, dtype=np.float32).reshape(5, 40))
    out, preview = tmp_path / "d.png", tmp_path / "p.png"
    assert main(["depth", str(tmp_path / "wide.png"), "--backend", f"file:{tmp_path / 'given.npy'}",
                 "--out", str(out), "--preview", str(preview)]) == 0
    assert f"{out}: 20x{width} disparity of wide.png (20x{width})" in capsys.readouterr().out
    assert read_disparity_png16(out).shape == (1, 1, 20, width)
    with Image.open(preview) as png:
        assert max(png.size) == WORKING_MAX_SIDE


def test_a_huge_photo_is_refused_in_one_line(tmp_path, capsys):
    from tests.helpers.bad_inputs import write_zero_png

    write_zero_png(tmp_path / "huge.png", 12000, 12000)
    assert main(["depth", str(tmp_path / "huge.png"), "--backend", "file:x.npy", "--out", str(tmp_path / "d.png")]) == 2
    assert error_line(capsys).startswith("viewgen: error: huge.png is 12000x12000 (144 Mpx); the limit is")
