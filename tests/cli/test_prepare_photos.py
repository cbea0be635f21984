"""``viewgen prepare-photos``: every photo's disparity written as midas-disp/<stem>.npy with a summary line; a second
run skips what is done and never touches a written file; bad input is one line; the prepared folder loads. With
``--sky``, a (tiny) SegFormer writes sky_mask/<stem>.png the same way."""

import numpy as np
import pytest
import torch
from PIL import Image

from tests.segmentation.tiny_segformer import sky_on_top, tiny_segformer, top_half
from viewgen.cli.main import main
from viewgen.data.datasets import PhotoFolder
from viewgen.data.photo_folders import read_sky_mask

SIZES = {"a": (24, 40), "b": (32, 32), "c": (40, 24)}


class Slope:
    """A stand-in depth backend: disparity growing down the image (near ground at the bottom), min-max normalised."""

    name = "slope"

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, image, size=None, normalization="minmax"):
        self.asked += 1
        height, width = size
        return torch.linspace(0, 1, height).view(1, 1, height, 1).expand(1, 1, height, width).clone()


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "lhq"
    (root / "images").mkdir(parents=True)
    for number, (stem, (height, width)) in enumerate(SIZES.items()):
        pixels = np.random.default_rng(number).integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{stem}{'.jpg' if stem == 'c' else '.png'}")
    return root


@pytest.fixture
def backend(monkeypatch):
    """The backend every ``get_estimator`` call builds here (``built`` lists the names asked for)."""
    slope = Slope()
    slope.built = []
    monkeypatch.setattr("viewgen.depth.get_estimator", lambda name, **options: slope.built.append(name) or slope)
    return slope


def _run(root, capsys, *options) -> str:
    assert main(["prepare-photos", str(root), "--depth", "midas-v21-small", *map(str, options)]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_prepare_photos_writes_every_disparity_and_the_folder_loads(photos, backend, capsys):
    line = _run(photos, capsys)
    assert line.startswith(f"prepared 3 photos (0 skipped, already prepared) in {photos / 'midas-disp'} in ")
    assert line.endswith(" s") and backend.built == ["midas-v21-small"] and backend.asked == 3
    for stem, size in SIZES.items():
        disparity = np.load(photos / "midas-disp" / f"{stem}.npy")
        assert disparity.dtype == np.float32 and disparity.shape == size
        assert disparity[0, 0] == 0.0 and disparity[-1, 0] == 1.0
    assert sorted(path.name for path in (photos / "midas-disp").iterdir()) == ["a.npy", "b.npy", "c.npy"]
    item = PhotoFolder(photos, size=16)[2]
    assert item["rgbd"].shape == (4, 16, 16) and item["rgbd_full"].shape == (4, 24, 24)


def test_a_second_run_resumes_and_keeps_what_is_written(photos, backend, capsys):
    (photos / "midas-disp").mkdir()
    kept = np.full(SIZES["a"], 0.25, dtype=np.float32)
    np.save(photos / "midas-disp" / "a.npy", kept)
    line = _run(photos, capsys)
    assert line.startswith("prepared 2 photos (1 skipped, already prepared) in ") and backend.asked == 2
    assert np.array_equal(np.load(photos / "midas-disp" / "a.npy"), kept)
    line = _run(photos, capsys)
    assert line.startswith("prepared 0 photos (3 skipped, already prepared) in ") and backend.asked == 2


def test_a_split_folder_is_prepared_in_place(tmp_path, backend, capsys):
    root = tmp_path / "root"
    (root / "train" / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "train" / "images" / "x.png")
    _run(root, capsys)
    assert (root / "train" / "midas-disp" / "x.npy").is_file() and not (root / "midas-disp").exists()


def test_an_unreadable_photo_stops_the_run_but_keeps_the_photos_before_it(photos, backend, capsys):
    (photos / "images" / "b.png").write_bytes(b"not a png")
    assert main(["prepare-photos", str(photos)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: cannot read the photo ") and "b.png" in err and err.count("\n") == 1
    assert sorted(path.name for path in (photos / "midas-disp").iterdir()) == ["a.npy"]  # no partial file either


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere"], "photo folder"),
    (["{tmp}"], "no images in"),
    (["{photos}", "--depth", "file:x.png"], "prepare-photos needs a backend that estimates every photo"),
    (["{photos}", "--depth", "no-such-backend"], "no-such-backend"),
    (["{photos}", "--sky", "deeplab"], "--sky deeplab: prepare-photos needs a sky segmentation backend"),
    (["{photos}", "--sky-weights", "{tmp}"], "--sky-weights needs --sky NAME"),
])
def test_bad_input_is_one_line_and_writes_nothing(photos, tmp_path, capsys, args, message):
    args = [arg.replace("{tmp}", str(tmp_path)).replace("{photos}", str(photos)) for arg in args]
    before = sorted(path.name for path in tmp_path.rglob("*"))
    assert main(["prepare-photos", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(path.name for path in tmp_path.rglob("*")) == before


# ----------------------------------------------------------------------------- sky masks


@pytest.fixture(scope="module")
def segformer(tmp_path_factory):
    pytest.importorskip("transformers")
    return tiny_segformer(tmp_path_factory.mktemp("segformer") / "tiny")


def test_sky_masks_are_written_resumed_and_read_by_the_dataset(photos, backend, segformer, monkeypatch, capsys):
    sky_on_top(monkeypatch)
    (photos / "sky_mask").mkdir()
    kept = np.zeros(SIZES["b"], np.uint8)
    Image.fromarray(kept).save(photos / "sky_mask" / "b.png")  # b's mask is there already: kept
    line = _run(photos, capsys, "--sky", segformer)
    assert line.startswith("prepared 3 photos (0 skipped, already prepared) in ")
    assert line.endswith(f" s; 2 sky masks with {segformer} (1 already there) in {photos / 'sky_mask'}")
    for stem in ("a", "c"):
        with Image.open(photos / "sky_mask" / f"{stem}.png") as image:
            values = np.asarray(image)
        assert values.dtype == np.uint8 and values.shape == SIZES[stem] and set(np.unique(values)) == {0, 255}
        assert np.array_equal(read_sky_mask(photos / "sky_mask" / f"{stem}.png"), top_half(*SIZES[stem]).numpy())
    assert np.array_equal(np.asarray(Image.open(photos / "sky_mask" / "b.png")), kept)
    folder = PhotoFolder(photos, size=16)  # reads the masks: b's (no sky) leaves it without sky, a's top half is sky
    assert float(folder[0]["sky_offset"]) > 0 and float(folder[1]["sky_offset"]) == 0
    line = _run(photos, capsys, "--sky", "segformer-b0-ade", "--sky-weights", segformer)
    assert line.startswith("prepared 0 photos (3 skipped")
    assert "0 sky masks with segformer-b0-ade (3 already there)" in line
    assert backend.asked == 3


def test_a_sky_backend_missing_offline_is_one_line_and_writes_nothing(photos, tmp_path, backend, monkeypatch, capsys):
    pytest.importorskip("transformers")
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    assert main(["prepare-photos", str(photos), "--sky", "segformer-b0-ade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: sky segmentation model nvidia/segformer-b0-finetuned-ade-512-512 ") and \
        err.count("\n") == 1 and str(tmp_path / "home" / "weights" / "segformer-b0-ade") in err, err
    assert not (photos / "midas-disp").exists() and not (photos / "sky_mask").exists()


def test_only_the_missing_sky_masks_are_made_for_a_prepared_folder(photos, backend, segformer, capsys):
    _run(photos, capsys)
    line = _run(photos, capsys, "--sky", segformer)
    assert line.startswith("prepared 0 photos (3 skipped") and "3 sky masks" in line and backend.asked == 3
    assert sorted(path.name for path in (photos / "sky_mask").iterdir()) == ["a.png", "b.png", "c.png"]
