"""``viewgen fly DIR --out OUT --batch N``: every input of a folder flown, N flights sharing each network call."""

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_fly import assert_one_line_error, fly
from tests.helpers.interrupts import interrupt_on_call
from tests.helpers.scenes import scene_rgbd
from viewgen.io.rgbd_files import save_rgbd_npz
from viewgen.pipelines.flight_batch import FlightBatch

SIZE = "48x80"
NAMES = ("a", "b", "c")


@pytest.fixture
def inputs(tmp_path):
    """A folder of three small RGBD inputs and a file that is no input."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for seed, name in enumerate(NAMES):
        save_rgbd_npz(folder / f"{name}.npz", scene_rgbd(40, 64, seed=seed))
    (folder / "notes.txt").write_text("not an input")
    return folder


def _pngs(folder) -> list[np.ndarray]:
    return [np.asarray(Image.open(path), dtype=int) for path in sorted(folder.glob("frame_*.png"))]


def test_a_folder_flies_every_input_as_png_frames_and_gifs(inputs, tmp_path, capsys):
    out = tmp_path / "flights"
    assert fly(inputs, "--batch", 2, "--frames", 3, "--size", SIZE, "--format", "png", "--out", out) == 0
    assert capsys.readouterr().out.startswith("wrote 3 flights of 3 frames (48x80, 24 fps) to ")
    assert sorted(path.name for path in out.iterdir()) == list(NAMES)  # notes.txt skipped
    for name in NAMES:
        frames = _pngs(out / name)
        assert len(frames) == 3 and frames[0].shape == (48, 80, 3)
        assert (out / name / "cameras.json").is_file()

    gifs = tmp_path / "gifs"
    assert fly(inputs, "--batch", 2, "--frames", 3, "--size", SIZE, "--format", "gif", "--out", gifs) == 0
    assert capsys.readouterr().out.rstrip().endswith("frames/s, 2 at a time)")
    for name in NAMES:
        with Image.open(gifs / f"{name}.gif") as image:
            assert image.n_frames == 3 and image.size == (80, 48)
    assert not list(tmp_path.rglob(".*partial*"))


def test_a_flight_of_the_folder_is_the_input_flown_alone(inputs, tmp_path):
    out, one = tmp_path / "flights", tmp_path / "one"
    assert fly(inputs, "--batch", 2, "--frames", 3, "--size", SIZE, "--format", "png", "--out", out) == 0
    assert fly(inputs / "b.npz", "--frames", 3, "--size", SIZE, "--out", f"{one}/") == 0
    batched, alone = _pngs(out / "b"), _pngs(one)
    assert len(batched) == len(alone) == 3
    assert max(np.abs(x - y).max() for x, y in zip(batched, alone)) <= 1


@pytest.mark.parametrize(("extra", "needle"), [
    (["--batch", 2], "--batch applies to a folder of inputs only"),
    (["--format", "gif"], "--format applies to a folder of inputs only"),
])
def test_folder_options_are_refused_for_one_input(extra, needle, inputs, tmp_path, capsys):
    out = tmp_path / "f.mp4"
    assert fly(inputs / "a.npz", "--frames", 2, "--out", out, *extra) == 2
    assert_one_line_error(capsys, needle)
    assert not out.exists()


@pytest.mark.parametrize(("extra", "needle"), [
    (["--batch", 0, "--out", "flights"], "--batch"),
    (["--batch", 65, "--out", "flights"], "--batch"),
    ([], "is a folder of inputs"),
    (["--out", "flights", "--save-world", "world"], "--save-world is a single-flight option"),
    (["--out", "flights", "--save-disparity"], "--save-disparity is a single-flight option"),
    (["--out", "flights", "--model", "infinite-nature-zero"], "--model infinite-nature-zero is a single-flight"),
    (["--out", "flights.mp4"], "is a folder of inputs"),
])
def test_bad_folder_options_are_refused_in_one_line(extra, needle, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert fly(inputs, "--frames", 2, "--size", SIZE, *extra) == 2
    assert_one_line_error(capsys, needle)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_folder_without_inputs_is_refused_naming_the_suffixes(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an input")
    assert fly(empty, "--out", tmp_path / "flights") == 2
    assert_one_line_error(capsys, str(empty), ".jpg", ".npz", ".pkl")
    assert not (tmp_path / "flights").exists()


def test_a_bad_destination_fails_before_any_flight(inputs, tmp_path, capsys):
    out = tmp_path / "flights"
    (out / "b").mkdir(parents=True)
    (out / "b" / "mine.txt").write_text("mine")  # a PNG destination holding other files is refused
    assert fly(inputs, "--frames", 2, "--size", SIZE, "--format", "png", "--out", out) == 2
    assert_one_line_error(capsys, "mine.txt")
    assert sorted(path.name for path in out.rglob("*")) == ["b", "mine.txt"]


def test_ctrl_c_keeps_the_complete_flights_and_the_frames_so_far(inputs, tmp_path, monkeypatch, capsys):
    interrupt_on_call(monkeypatch, FlightBatch, "step", 2)  # the first group (a, b) stops after frame 1
    out = tmp_path / "flights"
    assert fly(inputs, "--batch", 2, "--frames", 3, "--size", SIZE, "--format", "png", "--out", out) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("viewgen: interrupted: 0 of 3 flights were complete") and "of 2 more" in err[-1]
    assert [len(_pngs(out / name)) for name in ("a", "b")] == [2, 2] and not (out / "c").exists()

    interrupt_on_call(monkeypatch, FlightBatch, "step", 3)  # --batch 1: flight a complete, b stops at frame 1
    assert fly(inputs, "--batch", 1, "--frames", 3, "--size", SIZE, "--format", "gif", "--out", out) == 130
    assert "1 of 3 flights were complete" in capsys.readouterr().err
    with Image.open(out / "a.gif") as a, Image.open(out / "b.gif") as b:
        assert (a.n_frames, b.n_frames) == (3, 1)
    assert not (out / "c.gif").exists() and not list(tmp_path.rglob(".*partial*"))


def test_weights_fly_the_folder_at_their_size_as_each_input_alone(inputs, tmp_path, capsys):
    from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline

    weights = tiny_pipeline().save_pretrained(tmp_path / "w")
    out, one = tmp_path / "flights", tmp_path / "one"
    assert fly(inputs, "--frames", 3, "--weights", weights, "--format", "png", "--out", out) == 0
    assert f"({TINY_SIZE[0]}x{TINY_SIZE[1]}, 24 fps)" in capsys.readouterr().out
    assert fly(inputs / "c.npz", "--frames", 3, "--weights", weights, "--out", f"{one}/") == 0
    assert max(np.abs(x - y).max() for x, y in zip(_pngs(out / "c"), _pngs(one))) <= 1
    capsys.readouterr()
    assert fly(inputs, "--frames", 3, "--weights", weights, "--size", SIZE, "--out", tmp_path / "other") == 2
    assert_one_line_error(capsys, f"{TINY_SIZE[0]}x{TINY_SIZE[1]}")
    assert not (tmp_path / "other").exists()
