"""``viewgen fly --model infinite-nature-zero``: the fixture checkpoint flown from real inputs, and one-line refusals.

The fixture's generator (``fixtures/infinite_nature_zero``) has seeded random weights, 65M parameters. With
the flight's own seeded style (not the fixture's recorded one) its refined frames are near everywhere, so
every flight from the real inputs fails the sky test at frame 1: the default flight stops there (2 frames,
exit 0) and ``--on-crash continue`` flies on. On one thread a CLI flight pays ~2 s to load, ~5 s for the
mean latent (50000 samples) and ~1 s per frame.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.interrupts import interrupt_on_call
from tests.helpers.scenes import scene_rgbd
from tests.helpers.shared import shared_path
from tests.helpers.zero import tiny_zero_release
from tests.segmentation.tiny_segformer import sky_on_top, tiny_segformer, top_half
from viewgen.cli.fly_zero import CHECKPOINT_URL, crash_note, read_sky_file
from viewgen.cli.main import main
from viewgen.io.images import read_disparity_png16
from viewgen.io.rgbd_files import load_rgbd_file, save_rgbd_npz
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline
from viewgen.pipelines.outputs import FlightEvent
from viewgen.pipelines.zero_inputs import prepare_zero_inputs

ZERO = ("--model", "infinite-nature-zero")


@pytest.fixture(scope="module")
def checkpoint():
    return shared_path("fixtures", "infinite_nature_zero", "checkpoints", "inz_seed0_latest.tar")


def real_input(index: int = 1):
    return shared_path("real_inputs", f"autocruise_input{index}.pkl")


def fly(*args) -> int:
    return main(["fly", *map(str, args)])


def summary(capsys) -> tuple[str, str]:
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1, captured.out  # one closing line
    return captured.out, captured.err


def test_gif_flies_on_after_crashes(checkpoint, tmp_path, capsys, one_thread):
    out = tmp_path / "flight.gif"
    assert fly(real_input(), *ZERO, "--weights", checkpoint, "--frames", 4, "--out", out, "--on-crash", "continue") == 0
    line, err = summary(capsys)
    assert "at 128x128 (Zero's autopilot) with Infinite Nature Zero's StyleGAN2 refiner" in err
    assert line.startswith("wrote 4 frames (128x128, 24 fps)")
    assert "crash event" in line and "flown on without their sky correction" in line
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.size == (128, 128)


def test_png_frames_stop_at_the_crash_and_keep_every_frame(checkpoint, tmp_path, capsys, one_thread):
    out = tmp_path / "frames"
    source = real_input(2)
    assert fly(source, *ZERO, "--weights", checkpoint.parent, "--frames", 5, "--out", f"{out}/",
               "--save-disparity") == 0
    line, _ = summary(capsys)
    assert line.startswith("wrote 2 frames (128x128")
    assert "the flight stopped at frame 1, a crash event: sky fraction" in line and "obstacle" in line
    assert sorted(path.name for path in out.iterdir()) == ["cameras.json", "disparity_00000.png",
                                                           "disparity_00001.png", "frame_00000.png", "frame_00001.png"]
    start = prepare_zero_inputs(load_rgbd_file(source).rgbd).rgbd[0]  # frame 0 is the prepared crop
    first = torch.from_numpy(np.asarray(Image.open(out / "frame_00000.png"), dtype=np.float32) / 255).permute(2, 0, 1)
    assert float((first - start[:3]).abs().max()) <= 0.5 / 255 + 1e-6
    disparity = read_disparity_png16(out / "disparity_00000.png")[0, 0]
    assert float((disparity - start[3]).abs().max()) <= 1e-4


def test_ctrl_c_keeps_the_frames_done_so_far(checkpoint, tmp_path, monkeypatch, capsys, one_thread):
    interrupt_on_call(monkeypatch, InfiniteNatureZeroPipeline, "step", 2)
    out = tmp_path / "frames"
    assert fly(real_input(), *ZERO, "--weights", checkpoint, "--frames", 5, "--out", f"{out}/",
               "--on-crash", "continue") == 130
    assert "saved the 2 frames done so far" in capsys.readouterr().err
    assert len(list(out.glob("frame_*.png"))) == 2


@pytest.mark.slow
@pytest.mark.parametrize("index", [1, 2, 3])
def test_100_frames_from_each_real_input(checkpoint, tmp_path, capsys, one_thread, index):
    """100 frames, flying on through the crash events: no NaN (the pipeline raises on one), no exception."""
    out = tmp_path / "frames"
    assert fly(real_input(index), *ZERO, "--weights", checkpoint, "--frames", 100, "--out", f"{out}/",
               "--on-crash", "continue") == 0
    line, _ = summary(capsys)
    assert line.startswith("wrote 100 frames (128x128")
    frames = [np.asarray(Image.open(out / f"frame_{i:05d}.png"), dtype=np.int16) for i in (1, 50, 99)]
    assert all(np.abs(a - b).mean() > 0 for a, b in zip(frames, frames[1:]))  # still moving


# ----------------------------------------------------------------------------- refusals


@pytest.fixture
def scene(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    save_rgbd_npz(tmp_path / "scene.npz", scene_rgbd(32, 48))
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    torch.save({"netG": {"w": torch.zeros(1)}}, tmp_path / "other_latest.tar")
    (tmp_path / "empty").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small_mask.png")
    return tmp_path


@pytest.mark.parametrize("args, needles", [
    (ZERO, ["--weights", CHECKPOINT_URL]),
    ((*ZERO, "--weights", "nowhere"), ["no Infinite Nature Zero weights at nowhere"]),
    ((*ZERO, "--weights", "notes.txt"), ["cannot read notes.txt"]),
    ((*ZERO, "--weights", "other_latest.tar"), ["not an Infinite Nature Zero checkpoint", "netG_ema"]),
    ((*ZERO, "--weights", "empty"), ["no Infinite Nature Zero weights in empty"]),
    ((*ZERO, "--weights", "other_latest.tar", "--size", "128x128"), ["--size does not apply"]),
    ((*ZERO, "--weights", "other_latest.tar", "--path", "circle"), ["--path circle does not apply"]),
    ((*ZERO, "--weights", "other_latest.tar", "--on-crash", "sometimes"), ["--on-crash"]),
    (("--on-crash", "continue"), ["--on-crash applies to --model infinite-nature-zero only"]),
    (("--weights", "other_latest.tar"), ["add --model infinite-nature-zero"]),
    (("--model", "infinite-nature-one"), ["--model"]),
    (("--sky", "segformer-b0-ade"), ["--sky applies to --model infinite-nature-zero only"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "deeplab"),
     ["--sky deeplab: no such segmentation backend (segformer-b0-ade, segformer-b5-ade), model folder or mask image"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", ""), ["--sky : no such segmentation backend"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky-weights", "empty"), ["--sky-weights needs --sky NAME"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "notes.txt", "--sky-weights", "empty"),
     ["--sky-weights goes with a segmentation backend name"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "notes.txt"), ["cannot read the sky mask notes.txt"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "small_mask.png"),
     ["the sky mask small_mask.png is 8x8 pixels but the input is 48x32"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "segformer-b5-ade"),
     ["nvidia/segformer-b5-finetuned-ade-640-640", "offline", "weights/segformer-b5-ade"]),
    ((*ZERO, "--weights", "other_latest.tar", "--sky", "empty"), ["cannot load the segformer-b0-ade model from empty"]),
])
def test_bad_input_is_one_line_and_writes_nothing(scene, capsys, args, needles):
    before = sorted(scene.rglob("*"))
    assert fly("scene.npz", "--frames", 3, "--out", "flight.gif", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    assert all(needle in err for needle in needles), err
    assert sorted(scene.rglob("*")) == before


# ----------------------------------------------------------------------------- sky masks


@pytest.fixture(scope="module")
def tiny_zero(tmp_path_factory):
    """A tiny Infinite Nature Zero release (16x16 frames) that never crashes."""
    return tiny_zero_release(tmp_path_factory.mktemp("zero") / "flying", -3.0, crash_below=0.0, crash_above=1.0)


@pytest.fixture(scope="module")
def segformer(tmp_path_factory):
    pytest.importorskip("transformers")
    return tiny_segformer(tmp_path_factory.mktemp("segformer") / "tiny")


@pytest.fixture
def given_sky(monkeypatch):
    """The ``sky_mask`` each ``InfiniteNatureZeroPipeline.prepare`` call is given (the CLI's call first, then
    ``reset``'s with the prepared inputs)."""
    seen = []
    prepare = InfiniteNatureZeroPipeline.prepare
    monkeypatch.setattr(InfiniteNatureZeroPipeline, "prepare",
                        lambda self, image, disparity=None, sky_mask=None: seen.append(sky_mask)
                        or prepare(self, image, disparity, sky_mask))
    return seen


def _sky_flight(scene, tiny_zero, capsys, *sky) -> str:
    assert fly("scene.npz", *ZERO, "--weights", tiny_zero, "--frames", 2, "--out", "flight.gif", *sky) == 0
    _, err = summary(capsys)
    return err


@pytest.mark.parametrize("how", ["folder", "name"])
def test_a_segmentation_backend_gives_the_flight_its_sky(scene, tiny_zero, segformer, given_sky, monkeypatch, capsys,
                                                          how):
    sky_on_top(monkeypatch)
    sky = ("--sky", segformer) if how == "folder" else ("--sky", "segformer-b0-ade", "--sky-weights", segformer)
    err = _sky_flight(scene, tiny_zero, capsys, *sky)
    assert f"; sky from {sky[1]} segmentation (50% of the input)" in err
    assert torch.equal(given_sky[0] != 0, top_half(32, 48))


@pytest.mark.parametrize("kind", ["binary", "1-bit", "coco-stuff"])
def test_a_mask_image_gives_the_flight_its_sky(scene, tiny_zero, given_sky, capsys, kind):
    values = np.zeros((32, 48), np.uint8)
    values[:8] = 156 if kind == "coco-stuff" else 255  # sky
    values[8:12] = 105 if kind == "coco-stuff" else 255  # clouds
    values[12:] = 7 if kind == "coco-stuff" else 0
    image = Image.fromarray(values)
    (image.convert("1") if kind == "1-bit" else image).save(scene / "mask.png")
    err = _sky_flight(scene, tiny_zero, capsys, "--sky", "mask.png")
    assert "; sky from the mask mask.png (38% of the input)" in err
    assert torch.equal(given_sky[0] != 0, torch.arange(32).view(32, 1).expand(32, 48) < 12)


def test_without_sky_the_disparity_decides(scene, tiny_zero, given_sky, capsys):
    assert "; sky from the disparity (no --sky)" in _sky_flight(scene, tiny_zero, capsys)
    assert given_sky[0] is None


def test_zero_flies_with_a_world_memory_and_exports_it(scene, tiny_zero, capsys):
    assert fly("scene.npz", *ZERO, "--weights", tiny_zero, "--frames", 4, "--out", "frames", "--memory", "world",
               "--save-world", "world", "--world-every", 1) == 0
    lines = capsys.readouterr()
    assert "remembering world" in lines.err
    assert lines.out.startswith("wrote 4 frames") and "\nwrote the world of 4 frames" in lines.out
    assert len(list((scene / "frames").glob("frame_*.png"))) == 4 and (scene / "world" / "points.ply").is_file()


def test_a_mask_of_the_full_photo_follows_an_input_shrunk_to_the_working_size(tmp_path):
    values = np.zeros((2100, 3000), np.uint8)
    values[:1050] = 255
    Image.fromarray(values).save(tmp_path / "mask.png")
    mask = read_sky_file(tmp_path / "mask.png", (1434, 2048))
    assert mask.shape == (1434, 2048) and mask.dtype == torch.bool
    assert bool(mask[:716].all()) and not bool(mask[718:].any())


def test_crash_notes():
    events = [FlightEvent("crash", index, 0.01, f"crash {index}") for index in range(1, 8)]
    assert crash_note((), True) == ""
    assert crash_note(events[:1], True) == "; the flight stopped at frame 1, a crash event: crash 1"
    assert crash_note(events[:1], False) == ("; 1 crash event (frame 1; first: crash 1), flown on without their "
                                             "sky correction")
    assert "7 crash events (frames 1, 2, 3, 4, 5, ...; first: crash 1)" in crash_note(events, False)
