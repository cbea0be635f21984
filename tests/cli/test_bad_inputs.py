"""A corpus of bad inputs through ``viewgen fly``: each ends as one ``viewgen: error:`` line, exit 2.

And the odd-but-usable photos (16-bit, palette, alpha, EXIF-rotated, greyscale) fly. Every case
is a few kilobytes made in ``tmp_path``; photos get their disparity from a ``file:`` map so no
depth weights are needed.
"""

import pickle
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.helpers.bad_inputs import write_zero_png
from viewgen.cli.main import main


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No case may reach the network (a photo without a file: map would try to download MiDaS)."""
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")


def good_rgbd(height=12, width=16) -> np.ndarray:
    rgbd = np.random.default_rng(0).random((height, width, 4)).astype(np.float32)
    rgbd[..., 3] = np.linspace(0.1, 0.9, width, dtype=np.float32)
    return rgbd


def photo_array(height=12, width=16) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _pickle(path, content):
    path.write_bytes(pickle.dumps(content, protocol=2))
    return path


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def _png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


def _truncated_png(path):
    _png(path, photo_array(60, 80))
    path.write_bytes(path.read_bytes()[:200])
    return path


def _zip_of_text(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return path


def _nan_disparity(path):
    rgbd = good_rgbd()
    rgbd[2, 3, 3] = np.nan
    return _npz(path, rgbd=rgbd)


def _folder(path):
    path.mkdir()
    return path


# name -> (make(path) -> path to pass, file name, words the error line must contain)
BAD_INPUTS = {
    "corrupt-png": (lambda p: _bytes(p, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), "photo.png", "photo.png"),
    "truncated-png": (_truncated_png, "photo.png", "photo.png"),
    "empty-png": (lambda p: _bytes(p, b""), "photo.png", "photo.png"),
    "text-as-jpg": (lambda p: _bytes(p, b"hello\n"), "photo.jpg", "photo.jpg"),
    "folder": (_folder, "photos", "photos"),
    "missing": (lambda p: p, "absent.png", "absent.png"),
    "png-144Mpx": (lambda p: write_zero_png(p, 12000, 12000), "huge.png", "downscale it first"),
    "png-1x1": (lambda p: _png(p, photo_array(1, 1)), "dot.png", "dot.png"),
    "empty-npz": (lambda p: _bytes(p, b""), "scene.npz", "scene.npz: the file is empty"),
    "empty-npy": (lambda p: _bytes(p, b""), "scene.npy", "scene.npy: the file is empty"),
    "empty-pkl": (lambda p: _bytes(p, b""), "input.pkl", "input.pkl"),
    "text-npz": (lambda p: _bytes(p, b"rgbd = 1\n"), "scene.npz", "not a valid .npz file"),
    "text-npy": (lambda p: _bytes(p, b"rgbd = 1\n"), "scene.npy", "not a valid .npy file"),
    "zip-of-text-npz": (_zip_of_text, "scene.npz", "no 'rgbd' entry"),
    "npz-nan-disparity": (_nan_disparity, "scene.npz", "NaN"),
    "npz-three-channels": (lambda p: _npz(p, rgbd=good_rgbd()[..., :3]), "scene.npz", "[H, W, 4]"),
    "npz-integer-rgbd": (lambda p: _npz(p, rgbd=(good_rgbd() * 255).astype(np.uint8)), "scene.npz", "floating"),
    "npz-0-255-values": (lambda p: _npz(p, rgbd=good_rgbd() * 255), "scene.npz", "[0, 1]"),
    "npz-1x1": (lambda p: _npz(p, rgbd=good_rgbd(1, 1)), "scene.npz", "H, W >= 2"),
    "npz-object-array": (lambda p: _npz(p, rgbd=np.array([{"a": 1}], dtype=object)), "scene.npz", "Python objects"),
    "npz-huge-intrinsics": (lambda p: _npz(p, rgbd=good_rgbd(), intrinsics=np.ones(10**6)), "scene.npz",
                            "intrinsics"),
    "npy-5-dims": (lambda p: (np.save(p, good_rgbd()[None, None]), p)[1], "scene.npy", "[H, W, 4]"),
    "pkl-list": (lambda p: _pickle(p, [1, 2, 3]), "input.pkl", "expected a dict"),
    "pkl-no-rgbd": (lambda p: _pickle(p, {"rgb": good_rgbd()}), "input.pkl", "no 'input_rgbd'"),
    "pkl-text-rgbd": (lambda p: _pickle(p, {"input_rgbd": "pixels"}), "input.pkl", "floating-point array"),
    "pkl-text-file": (lambda p: _bytes(p, b"hello world\n"), "input.pkl", "input.pkl"),
    "unknown-sample": (None, "sample:9", "unknown sample"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_error_line(tmp_path, capsys, case):
    make, name, needle = BAD_INPUTS[case]
    spec = str(make(tmp_path / name)) if make is not None else name
    out = tmp_path / "out.mp4"
    assert main(["fly", spec, "--frames", "2", "--size", "16x16", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "allow_pickle" not in err and "DOS attack" not in err, err
    assert needle in err, err
    assert not out.exists()


@pytest.mark.parametrize("spec", ["scene.npz", "sample:1"])
def test_an_unknown_depth_backend_is_an_error_for_every_input(tmp_path, capsys, spec):
    if spec.endswith(".npz"):
        spec = str(_npz(tmp_path / spec, rgbd=good_rgbd()))
    assert main(["fly", spec, "--depth", "nosuch", "--frames", "2", "--out", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: unknown depth backend 'nosuch'; choose one of midas-v21") and \
        err.count("\n") == 1, err


def test_a_known_depth_backend_unused_for_an_rgbd_input_is_a_warning(tmp_path, capsys):
    spec = str(_npz(tmp_path / "scene.npz", rgbd=good_rgbd()))
    assert main(["fly", spec, "--depth", "midas-v21", "--frames", "2", "--size", "16x16",
                 "--out", str(tmp_path / "o.mp4")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == ["viewgen: warning: depth backend 'midas-v21' is not used: scene.npz has its own disparity "
                        "(it only applies to photos)"]


def test_an_input_warning_is_printed_once_in_our_words(tmp_path, capsys):
    rgbd = good_rgbd()
    rgbd[..., 3] = 0.5  # constant: a warning, not an error
    spec = str(_npz(tmp_path / "flat.npz", rgbd=rgbd))
    with warnings.catch_warnings(record=True) as raw:  # what Python would print with a source line
        warnings.simplefilter("always")
        assert main(["fly", spec, "--frames", "2", "--size", "16x16", "--out", str(tmp_path / "o.mp4")]) == 0
    assert not [str(item.message) for item in raw if "constant" in str(item.message)]
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "constant" in line] == [
        "viewgen: warning: flat.npz: rgbd disparity is constant (0.5): a flat scene, so the rendered views show "
        "no parallax"]
    assert "UserWarning" not in err and "InputWarning" not in err


def _exif_rotated(path):
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(photo_array(24, 32)).save(path, exif=exif)
    return path


ODD_PHOTOS = {
    "16-bit-grey": lambda p: _png(p, np.linspace(0, 65535, 24 * 32).astype(np.uint16).reshape(24, 32)),
    "palette": lambda p: (Image.fromarray(photo_array(24, 32)).convert("P").save(p), p)[1],
    "grey-alpha": lambda p: (Image.fromarray(photo_array(24, 32)).convert("LA").save(p), p)[1],
    "rgba": lambda p: (Image.fromarray(photo_array(24, 32)).convert("RGBA").save(p), p)[1],
    "1-bit": lambda p: write_zero_png(p, 32, 24),
    "exif-rotated-jpeg": _exif_rotated,
}


@pytest.mark.parametrize("case", sorted(ODD_PHOTOS))
def test_odd_but_valid_photos_fly(tmp_path, capsys, case):
    suffix = ".jpg" if "jpeg" in case else ".png"
    photo = ODD_PHOTOS[case](tmp_path / f"photo{suffix}")
    np.save(tmp_path / "disparity.npy", np.linspace(0.1, 0.9, 12 * 16, dtype=np.float32).reshape(12, 16))
    out = tmp_path / "frames"
    assert main(["fly", str(photo), "--depth", f"file:{tmp_path / 'disparity.npy'}", "--frames", "2",
                 "--out", f"{out}/"]) == 0, capsys.readouterr().err
    frames = sorted(out.glob("frame_*.png"))
    assert len(frames) == 2
    with Image.open(frames[0]) as first:
        assert first.size == ((24, 32) if "rotated" in case else (32, 24))  # (width, height)
