"""Huge inputs in tiny files: refused from their headers (one line), or shrunk before float conversion."""

import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests.helpers.bad_inputs import npy_header, run_cli_measured, write_sparse_npy, write_zero_npz, write_zero_png
from viewgen.cli.main import main
from viewgen.io.images import ImageFileError, load_image, load_image_with_size, read_disparity_png16
from viewgen.io.limits import DEFAULT_MESH_SIDE, MAX_ARRAY_PIXELS, MAX_IMAGE_PIXELS, fit_long_side
from viewgen.io.rgbd_files import InputError, load_rgbd_file

PEAK_LIMIT_MB = 1024  # the CLI itself (torch imported) takes ~250 MB; the hard limit is 2 GB


def assert_size_refusal(message: str, name: str) -> None:
    assert message.startswith(name) and "\n" not in message, message
    assert "the limit is" in message and "downscale it first" in message, message
    assert "bomb" not in message.lower() and "DOS" not in message, message  # Pillow's words never reach users


# ----------------------------------------------------------------------------- photos


def test_a_huge_png_is_refused_from_its_header(tmp_path):
    path = write_zero_png(tmp_path / "photo.png", 12000, 12000)  # 144 Mpx in ~20 KB
    with pytest.raises(ImageFileError) as caught:
        load_image(path)
    assert_size_refusal(str(caught.value), "photo.png is 12000x12000 (144 Mpx)")


@pytest.mark.parametrize("width, height, start", [
    (20000, 10000, "vast.png has 200 Mpx"),  # Pillow itself refuses it before we see the size
    (10000, 9500, "vast.png is 10000x9500 (95 Mpx)"),  # Pillow only warns about it
])
def test_pillows_own_bomb_messages_never_show(tmp_path, width, height, start):
    path = write_zero_png(tmp_path / "vast.png", width, height)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ImageFileError) as refused:
        warnings.simplefilter("always")
        load_image(path)
    assert_size_refusal(str(refused.value), start)
    assert not caught, [str(item.message) for item in caught]


@pytest.mark.parametrize("suffix, mode", [(".png", "RGB"), (".jpg", "RGB"), (".png", "I;16"), (".png", "P")])
def test_max_side_shrinks_the_photo_and_reports_the_full_size(tmp_path, suffix, mode):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (300, 500), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)).convert(mode)
    image.save(tmp_path / f"photo{suffix}")
    small, full_size = load_image_with_size(tmp_path / f"photo{suffix}", max_side=100)
    assert small.shape == (1, 3, 60, 100) and small.dtype == torch.float32
    assert full_size == (300, 500)
    assert 0.0 <= float(small.min()) and float(small.max()) <= 1.0
    full = load_image(tmp_path / f"photo{suffix}")
    assert full.shape == (1, 3, 300, 500)
    torch.testing.assert_close(small.mean(), full.mean(), atol=0.02, rtol=0)  # same picture, smaller


def test_max_side_with_exif_rotation_keeps_the_upright_shape(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    array = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "rotated.jpg", exif=exif)
    small, full_size = load_image_with_size(tmp_path / "rotated.jpg", max_side=100)
    assert small.shape == (1, 3, 100, 60) and full_size == (500, 300)


def test_a_huge_disparity_png_is_refused(tmp_path):
    path = write_zero_png(tmp_path / "disparity.png", 5000, 5000, bit_depth=16)
    with pytest.raises(ValueError) as caught:
        read_disparity_png16(path)
    assert_size_refusal(str(caught.value), "disparity.png is 5000x5000")


def test_the_documented_limits():
    assert 12000 * 12000 > MAX_IMAGE_PIXELS >= 8000 * 6000  # a 48 Mpx camera photo is accepted
    assert MAX_ARRAY_PIXELS == 4096 * 4096
    assert fit_long_side(300, 500, 100) == (60, 100) and fit_long_side(30, 50, 100) == (30, 50)


# ----------------------------------------------------------------------------- RGBD arrays


def test_a_huge_npz_is_refused_before_its_data_is_read(tmp_path):
    path = tmp_path / "scene.npz"  # declares 8000 x 8000 x 4 but holds little data: quick to write
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rgbd.npy", npy_header((8000, 8000, 4)) + bytes(1 << 16))
    with pytest.raises(InputError) as caught:
        load_rgbd_file(path)
    assert_size_refusal(str(caught.value), "scene.npz: rgbd [8000, 8000, 4] is 8000x8000 (64 Mpx)")


def test_a_huge_sparse_npy_is_refused(tmp_path):
    path = write_sparse_npy(tmp_path / "scene.npy", (8000, 8000, 4))
    with pytest.raises(InputError) as caught:
        load_rgbd_file(path)
    assert_size_refusal(str(caught.value), "scene.npy: rgbd [8000, 8000, 4]")


def test_a_pickle_larger_than_any_accepted_rgbd_is_refused_unread(tmp_path):
    path = tmp_path / "input.pkl"
    with open(path, "wb") as stream:
        stream.write(pickle.dumps({"input_rgbd": None})[:-1])
        stream.truncate(4 * MAX_ARRAY_PIXELS * 8 + (2 << 20))  # sparse: nothing of it is on disk
    with pytest.raises(InputError, match=r"input.pkl is \d+ MB, more than an RGBD input"):
        load_rgbd_file(path)


@pytest.mark.parametrize("layout", ["hwc", "nchw"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_max_side_area_averages_the_rgbd(tmp_path, layout, dtype):
    rgbd = torch.rand(1, 4, 40, 64, generator=torch.Generator().manual_seed(0))
    array = rgbd.numpy().astype(dtype)
    np.save(tmp_path / "scene.npy", array[0].transpose(1, 2, 0) if layout == "hwc" else array)
    loaded = load_rgbd_file(tmp_path / "scene.npy", max_side=16)
    expected = F.interpolate(torch.from_numpy(array.astype(np.float32)), size=(10, 16), mode="area")
    assert loaded.rgbd.shape == (1, 4, 10, 16) and loaded.rgbd.dtype == torch.float32
    torch.testing.assert_close(loaded.rgbd, expected, atol=2e-3, rtol=0)


def test_nan_is_refused_before_averaging(tmp_path):
    hwc = np.random.default_rng(0).random((40, 64, 4)).astype(np.float32)
    hwc[3, 5, 3] = np.nan
    np.save(tmp_path / "scene.npy", hwc)
    with pytest.raises(InputError, match="disparity contains 1 NaN"):
        load_rgbd_file(tmp_path / "scene.npy", max_side=16)


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_a_text_file_is_not_a_valid_numpy_file(tmp_path, suffix):
    (tmp_path / f"notes{suffix}").write_text("these are my notes\n")
    with pytest.raises(InputError) as caught:
        load_rgbd_file(tmp_path / f"notes{suffix}")
    message = str(caught.value)
    assert message == f"cannot read notes{suffix}: not a valid {suffix} file (it holds text, not an array saved " \
                      "by numpy.save / numpy.savez)"
    assert "allow_pickle" not in message


def test_an_npy_named_npz_still_loads(tmp_path):
    hwc = np.random.default_rng(0).random((8, 12, 4)).astype(np.float32)
    np.save(tmp_path / "scene.npy", hwc)
    (tmp_path / "scene.npy").rename(tmp_path / "scene.npz")
    assert load_rgbd_file(tmp_path / "scene.npz").rgbd.shape == (1, 4, 8, 12)


# ----------------------------------------------------------------------------- the CLI, measured


@pytest.mark.parametrize("make, args, needle", [
    (lambda d: write_zero_png(d / "photo.png", 12000, 12000), ["fly", "photo.png", "--frames", "2"],
     "photo.png is 12000x12000 (144 Mpx)"),
    (lambda d: write_zero_npz(d / "scene.npz", (4500, 4500, 4)), ["fly", "scene.npz", "--frames", "2"],
     "scene.npz: rgbd [4500, 4500, 4] is 4500x4500"),
    (lambda d: write_sparse_npy(d / "scene.npy", (8000, 8000, 4)), ["export-mesh", "scene.npy"],
     "scene.npy: rgbd [8000, 8000, 4] is 8000x8000"),
], ids=["png-144Mpx", "npz-20Mpx", "npy-64Mpx"])
def test_the_cli_refuses_huge_inputs_in_one_line_and_little_memory(tmp_path, make, args, needle):
    make(tmp_path)
    status, errors, peak_mb = run_cli_measured(*args, "--out", "out.mp4" if args[0] == "fly" else "out.ply",
                                               cwd=tmp_path)
    assert status == 2 and errors.count("\n") == 1, errors
    assert errors.startswith(f"viewgen: error: {needle}") and "downscale it first" in errors, errors
    assert peak_mb < PEAK_LIMIT_MB, f"peak {peak_mb} MB"
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.ply").exists()


def test_export_mesh_shrinks_a_large_input_to_a_bounded_mesh(tmp_path, capsys):
    hwc = np.zeros((300, 1200, 4), np.float32)
    hwc[..., 3] = np.linspace(0.2, 0.8, 1200, dtype=np.float32)  # a smooth slope: no depth edges
    np.save(tmp_path / "scene.npy", hwc)
    assert main(["export-mesh", str(tmp_path / "scene.npy"), "--out", str(tmp_path / "scene.ply")]) == 0
    captured = capsys.readouterr()
    assert f"from 1200x300 to {DEFAULT_MESH_SIDE}x256 for the mesh" in captured.err
    vertices = int(captured.out.split(": ")[1].split(" vertices")[0])
    assert 0 < vertices <= DEFAULT_MESH_SIDE * 256
    assert (tmp_path / "scene.ply").stat().st_size < 15 * vertices + 13 * 2 * vertices + 1000  # float xyz, uchar rgb
