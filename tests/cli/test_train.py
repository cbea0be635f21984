"""``viewgen train enr``: a run with its closing line, resuming, bad input in one line, export by ``convert``."""

import pytest

from tests.helpers.training import object_split
from viewgen.cli.main import main
from viewgen.networks.enr import EquivariantRenderer


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return object_split(tmp_path_factory.mktemp("objects"), scenes=2, views=4, size=32)


def test_train_reports_its_run_and_the_same_command_resumes(split, tmp_path, capsys):
    command = ["train", "enr", "--data", str(split), "--val-data", str(split), "--preset", "tiny",
               "--out", str(tmp_path / "run"), "--accelerator", "cpu"]
    assert main(command) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("trained ENR (tiny) to step 2 (2 steps in ") and "val PSNR" in line
    assert line.endswith(f"release weights in {tmp_path / 'run' / 'release'}")
    session = tmp_path / "run" / "logs" / "session_000"
    assert (session / "metrics.csv").is_file() and list(session.glob("events.out.tfevents.*"))  # CSV and TensorBoard
    assert main([*command, "--max-steps", "3"]) == 0
    assert "to step 3 (resumed at step 2, 1 steps in" in capsys.readouterr().out
    checkpoint = tmp_path / "run" / "checkpoints" / "step00000003.ckpt"
    assert main(["convert", "enr", str(checkpoint), str(tmp_path / "exported")]) == 0
    assert "converted" in capsys.readouterr().out
    assert EquivariantRenderer.from_pretrained(tmp_path / "exported").config.image_size == (32, 32)


@pytest.mark.parametrize("extra, message", [
    (["--data", "/no/such/split"], "ENR dataset split /no/such/split is not a folder"),
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--max-steps", "0"], "argument --max-steps: must be >= 1, got 0"),
    (["--devices", "two"], "--devices must be a number >= 1 or auto"),
])
def test_bad_input_is_one_line_and_writes_nothing(split, tmp_path, capsys, extra, message):
    command = ["train", "enr", "--data", str(split), "--preset", "tiny", "--out", str(tmp_path / "run"), *extra]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_run_folder_refuses_other_settings(split, tmp_path, capsys):
    command = ["train", "enr", "--data", str(split), "--preset", "tiny", "--out", str(tmp_path / "run"),
               "--accelerator", "cpu"]
    assert main(command) == 0
    capsys.readouterr()
    assert main([*command, "--lr", "0.01"]) == 2
    assert "holds a run with other settings (learning_rate differ)" in capsys.readouterr().err


def test_export_writes_a_runs_newest_or_chosen_checkpoint(split, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "enr", "--data", str(split), "--preset", "tiny", "--out", str(run), "--accelerator",
                 "cpu"]) == 0
    capsys.readouterr()
    assert main(["export", str(run), str(tmp_path / "newest")]) == 0
    assert capsys.readouterr().out.startswith("exported step00000002.ckpt of ")
    assert main(["export", str(run), str(tmp_path / "first"), "--step", "1"]) == 0
    first = EquivariantRenderer.from_pretrained(tmp_path / "first").state_dict()
    newest = EquivariantRenderer.from_pretrained(tmp_path / "newest").state_dict()
    assert any(not (first[key] == newest[key]).all() for key in first)
    assert main(["export", str(run), str(tmp_path / "x"), "--step", "7"]) == 2
    assert "has no check-point of step 7 (kept: 1, 2)" in capsys.readouterr().err
    assert main(["export", str(tmp_path), str(tmp_path / "x")]) == 2
    assert "is not a training run folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_sigterm_stops_a_run_that_the_same_command_resumes(split, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers.training import REPO_ROOT

    command = [sys.executable, "-m", "viewgen", "train", "enr", "--data", str(split), "--preset", "tiny", "--out",
               str(tmp_path / "run"), "--max-steps", "100000", "--accelerator", "cpu"]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "run" / "checkpoints").glob("step*.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err[-2000:]
    assert "viewgen: terminated: its newest check-point is step " in err and "the same command resumes it" in err


def test_infinite_nature_trains_resumes_exports_and_flies(tmp_path, capsys):
    from viewgen.pipelines import FlyThroughPipeline

    command = ["train", "infinite-nature", "--preset", "tiny", "--out", str(tmp_path / "run"), "--accelerator",
               "cpu"]
    assert main(command) == 0
    assert capsys.readouterr().out.startswith("trained Infinite Nature (tiny) to step 2 (2 steps in ")
    assert main([*command, "--max-steps", "3"]) == 0
    assert "to step 3 (resumed at step 2, 1 steps in" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "run" / "samples").glob("*.png"))[-1] == "step_00000003.png"
    from PIL import Image

    # real frames, the rollout, an autopilot flight: three rows of T + 1 = 3 frames of 32x48
    assert Image.open(tmp_path / "run" / "samples" / "step_00000003.png").size == (3 * 48, 3 * 32)
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "weights"), "--step", "2"]) == 0
    capsys.readouterr()
    pipe = FlyThroughPipeline.from_pretrained(tmp_path / "weights")
    assert tuple(pipe.config.image_size) == (32, 48)
    assert main(["fly", "sample:2", "--weights", str(tmp_path / "run" / "release"), "--frames", "3", "--out",
                 str(tmp_path / "flight.gif")]) == 0
    assert "wrote 3 frames (32x48" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--data", "/some/clips"], "is neither synthetic nor a folder"),
    (["--clip-stride", "0"], "argument --clip-stride: must be >= 1"),
    (["--pairs-per-batch", "2"], "--pairs-per-batch is not an option of infinite-nature training"),
    (["--val-data", "/x"], "--val-data is not an option of infinite-nature training"),
    (["--preset", "chairs"], "unknown infinite-nature preset 'chairs'"),
])
def test_infinite_nature_bad_options_are_one_line(tmp_path, capsys, extra, message):
    command = ["train", "infinite-nature", "--preset", "tiny", "--out", str(tmp_path / "run"), *extra]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_infinite_nature_trains_on_google_earth_infinite(tmp_path, capsys):
    from tests.helpers.training import google_earth_folder

    root = google_earth_folder(tmp_path / "google_earth")
    command = ["train", "infinite-nature", "--preset", "tiny", "--data", str(root), "--out", str(tmp_path / "run"),
               "--accelerator", "cpu"]
    assert main(command) == 0
    assert "trained Infinite Nature (tiny) to step 2" in capsys.readouterr().out
    import json

    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"] == {"train": str(root.resolve())}


def test_infinite_nature_fine_tunes_a_release_and_refuses_another_architecture(tmp_path, capsys):
    import json

    release = _tiny_release(tmp_path / "first", capsys)
    command = ["train", "infinite-nature", "--preset", "tiny", "--init", str(release), "--out", str(tmp_path / "run"),
               "--accelerator", "cpu", "--max-steps", "1"]
    assert main(command) == 0
    assert "trained Infinite Nature (tiny) to step 1" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["init"] == str(release.resolve())
    assert main([*command[:-1], "2"]) == 0 and "resumed at step 1" in capsys.readouterr().out
    other = ["train", "infinite-nature", "--preset", "small", "--init", str(release), "--out", str(tmp_path / "x")]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "its style encoder is not this preset's (image_size" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def _tiny_release(run, capsys):
    assert main(["train", "infinite-nature", "--preset", "tiny", "--out", str(run), "--accelerator", "cpu",
                 "--max-steps", "1"]) == 0
    capsys.readouterr()
    return run / "release"
