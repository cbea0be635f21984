"""``viewgen fly``: every flag, every output kind decoded back, and one-line errors for bad input."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.interrupts import interrupt_on_call
from tests.helpers.scenes import scene_rgbd
from viewgen.cli import fly as fly_command
from viewgen.cli.main import main
from viewgen.errors import ViewgenRuntimeError
from viewgen.io.images import read_disparity_png16
from viewgen.io.rgbd_files import save_rgbd_npz
from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig, StyleEncoder, StyleEncoderConfig
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

SIZE = "32x48"


@pytest.fixture
def scene_npz(tmp_path):
    return str(save_rgbd_npz(tmp_path / "scene.npz", scene_rgbd(64, 96)))


def fly(*args) -> int:
    return main(["fly", *map(str, args)])


def assert_one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") or " error: " in err.splitlines()[0], err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_mp4_decodes_back_with_the_frame_count_and_no_black_holes(scene_npz, tmp_path, capsys):
    out = tmp_path / "flight.mp4"
    assert fly(scene_npz, "--frames", 6, "--size", SIZE, "--out", out, "--fps", 12) == 0
    captured = capsys.readouterr()
    assert "weight-free flight" in captured.err  # the choice is announced
    assert captured.out.startswith("wrote 6 frames (32x48, 12 fps)")
    frames = np.stack(list(iio.imiter(out)))
    assert frames.shape == (6, 32, 48, 3)
    assert all(np.abs(frames[i + 1].astype(int) - frames[i]).mean() > 0.2 for i in range(5))  # it moves
    dark = (frames.max(axis=-1) < 8).mean(axis=(1, 2))
    assert dark.max() < 0.01  # no black holes
    assert not list(tmp_path.glob(".*partial*"))


def test_gif_and_png_frames_with_disparity(scene_npz, tmp_path):
    gif = tmp_path / "flight.gif"
    assert fly(scene_npz, "--frames", 4, "--size", SIZE, "--out", gif) == 0
    with Image.open(gif) as image:
        assert image.n_frames == 4 and image.size == (48, 32)

    folder = tmp_path / "frames"
    assert fly(scene_npz, "--frames", 3, "--size", SIZE, "--out", f"{folder}/", "--save-disparity") == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "cameras.json", "disparity_00000.png", "disparity_00001.png", "disparity_00002.png",
        "frame_00000.png", "frame_00001.png", "frame_00002.png"]
    disparity = read_disparity_png16(folder / "disparity_00002.png")
    assert disparity.shape == (1, 1, 32, 48) and 0 <= disparity.min() and disparity.max() <= 1
    assert disparity.max() > 0.05


@pytest.mark.parametrize("path", fly_command.PATHS)
def test_every_camera_path(scene_npz, tmp_path, path):
    out = tmp_path / "frames"
    assert fly(scene_npz, "--frames", 3, "--size", SIZE, "--out", f"{out}/", "--path", path) == 0
    first, last = (np.asarray(Image.open(out / f"frame_0000{i}.png"), dtype=int) for i in (0, 2))
    assert np.abs(first - last).mean() > 0.1


def test_same_seed_same_flight(scene_npz, tmp_path):
    runs = []
    for name in ("a", "b"):
        assert fly(scene_npz, "--frames", 3, "--size", SIZE, "--out", f"{tmp_path / name}/", "--seed", 7) == 0
        runs.append(np.asarray(Image.open(tmp_path / name / "frame_00002.png")))
    np.testing.assert_array_equal(*runs)


def test_default_input_is_the_first_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert fly("--frames", 2, "--size", SIZE) == 0
    assert "sample 1 (coast)" in capsys.readouterr().err
    assert len(list(iio.imiter(tmp_path / "flight.mp4"))) == 2


def test_weights_use_the_spade_refiner(scene_npz, tmp_path, capsys):
    torch.manual_seed(0)
    size = (80, 128)  # the tiny networks need 6 stride-2 levels
    encoder = StyleEncoder(StyleEncoderConfig(image_size=size, channels=(4, 4, 8, 8, 8, 8), style_dim=6))
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=size, style_dim=6, base_channels=16,
                                                    up_channels=(8, 4, 4), spade_hidden_channels=8))
    weights = FlyThroughPipeline(encoder, generator, FlyThroughConfig(image_size=size)).save_pretrained(tmp_path / "w")
    out = tmp_path / "frames"
    assert fly(scene_npz, "--frames", 3, "--weights", weights, "--out", f"{out}/") == 0
    assert "SPADE refiner" in capsys.readouterr().err
    assert len(list(out.glob("frame_*.png"))) == 3
    assert fly(scene_npz, "--frames", 3, "--weights", weights, "--size", "64x96", "--out", f"{out}/") == 2
    assert_one_line_error(capsys, "80x128")


def test_ctrl_c_keeps_the_frames_done_so_far(scene_npz, tmp_path, monkeypatch, capsys):
    interrupt_on_call(monkeypatch, FlyThroughPipeline, "step", 3)
    out = tmp_path / "flight.mp4"
    assert fly(scene_npz, "--frames", 10, "--size", SIZE, "--out", out) == 130
    assert "saved the 3 frames done so far" in capsys.readouterr().err
    assert len(list(iio.imiter(out))) == 3


def _step_raises_on_call(monkeypatch, number: int, error: BaseException) -> None:
    real_step = FlyThroughPipeline.step
    calls = {"n": 0}

    def failing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise error
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(FlyThroughPipeline, "step", failing_step)


def _frame_count(out) -> int:
    if out.is_dir():
        return len(list(out.glob("frame_*.png")))
    return len(list(iio.imiter(out)))


@pytest.mark.parametrize("name", ["good.mp4", "good.gif", "good"])
def test_a_failing_flight_leaves_the_existing_output_untouched(scene_npz, tmp_path, monkeypatch, capsys, name):
    out = tmp_path / "out" / name
    assert fly(scene_npz, "--frames", 5, "--size", SIZE, "--out", out) == 0
    before = sorted((path.name, path.stat().st_size) for path in out.parent.rglob("*"))
    _step_raises_on_call(monkeypatch, 2, ViewgenRuntimeError("the refiner broke"))
    capsys.readouterr()
    assert fly(scene_npz, "--frames", 5, "--size", SIZE, "--out", out) == 2
    assert capsys.readouterr().err.splitlines()[1:] == ["viewgen: error: the refiner broke"]
    assert sorted((path.name, path.stat().st_size) for path in out.parent.rglob("*")) == before
    assert _frame_count(out) == 5


def test_ctrl_c_before_the_first_frame_writes_nothing(scene_npz, tmp_path, monkeypatch, capsys):
    def interrupted_reset(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(FlyThroughPipeline, "reset", interrupted_reset)
    out = tmp_path / "flight.mp4"
    assert fly(scene_npz, "--frames", 10, "--size", SIZE, "--out", out) == 130
    err = capsys.readouterr().err
    assert "nothing was written" in err and "saved the 0" not in err
    assert list(tmp_path.iterdir()) == [tmp_path / "scene.npz"]


def test_a_folder_with_other_files_is_refused_before_the_flight(scene_npz, tmp_path, capsys):
    out = tmp_path / "frames"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"mine")
    assert fly(scene_npz, "--frames", 3, "--size", SIZE, "--out", f"{out}/") == 2
    assert_one_line_error(capsys, "holiday.jpg", str(out))  # one line: refused before the flight began
    assert [path.name for path in out.iterdir()] == ["holiday.jpg"]


@pytest.mark.parametrize("args, needle", [
    (["missing.png"], "no such file"),
    (["corrupt.png"], "corrupt.png"),
    (["notes.txt"], "notes.txt"),
    (["scene.npz", "--frames", "0"], "--frames"),
    (["scene.npz", "--size", "100000x100000"], "out of range"),
    (["scene.npz", "--size", "banana"], "HxW"),
    (["scene.npz", "--out", "x.mp4", "--save-disparity"], "folder"),
    (["scene.npz", "--out", "x.avi"], "avi"),
    (["scene.npz", "--weights", "nowhere"], "viewgen convert infinite-nature"),
    (["scene.npz", "--fps", "0"], "--fps"),
    (["scene.npz", "--fps", "0.000001"], "--fps"),
    (["scene.npz", "--fps", "0.000001", "--out", "x.gif"], "--fps"),
    (["scene.npz", "--seed", str(2**64)], "--seed"),
    (["scene.npz", "--seed", "-1"], "--seed"),
    (["sample:9"], "sample"),
    (["nan.npz"], "NaN"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    save_rgbd_npz(tmp_path / "scene.npz", scene_rgbd(32, 48))
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (tmp_path / "notes.txt").write_text("not an image")
    nan_rgbd = scene_rgbd(32, 48).numpy()
    nan_rgbd[0, 3, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", rgbd=nan_rgbd)
    before = set(tmp_path.iterdir())
    assert fly(*args) == 2
    assert_one_line_error(capsys, needle)
    assert set(tmp_path.iterdir()) == before


def test_a_flight_larger_than_the_memory_cap_is_refused(tmp_path, capsys):
    from viewgen.cli.fly import MAX_PIXELS

    side = int(MAX_PIXELS**0.5) + 2
    assert main(["fly", "--size", f"{side}x{side}", "--out", str(tmp_path / "f.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"at most {MAX_PIXELS:,} pixels" in err
    assert not (tmp_path / "f.mp4").exists()


def test_a_video_name_that_is_an_existing_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "o.mp4"
    folder.mkdir()
    assert main(["fly", "--frames", "2", "--size", "32x48", "--out", str(folder)]) == 2
    assert "is an existing folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []
