"""``viewgen fly --memory world --save-world DIR``: a flight that remembers, its world exported, one-line refusals."""

import json

import plyfile
import pytest

from tests.cli.test_fly import assert_one_line_error, fly
from viewgen import devices


def test_a_world_flight_writes_its_frames_and_its_world(tmp_path, capsys):
    out, world = tmp_path / "frames", tmp_path / "world"
    assert fly("sample:2", "--size", "160x256", "--frames", 6, "--path", "circle", "--memory", "world",
               "--save-world", world, "--world-every", 2, "--out", out) == 0
    lines = capsys.readouterr()
    assert "remembering world" in lines.err
    assert "wrote the world of 4 frames to" in lines.out  # frames 0, 2, 4 and the last, 5
    assert len(list(out.glob("frame_*.png"))) == 6
    points = plyfile.PlyData.read(str(world / "points.ply"))["vertex"]
    assert points.count > 1000
    transforms = json.loads((world / "transforms.json").read_text())
    assert len(transforms["frames"]) == 4 and (world / "cameras.txt").read_text().count("\n") == 5


@pytest.mark.parametrize(("extra", "needle"), [
    (["--memory", "last-frame", "--model", "infinite-nature-zero", "--weights", "."],
     "--memory last-frame does not apply to --model infinite-nature-zero"),
    (["--world-every", "0", "--save-world", "w"], "--world-every must be >= 1"),
    (["--precision", "fast", "--model", "infinite-nature-zero", "--weights", "."],
     "--precision fast applies to --model infinite-nature only"),
])
def test_bad_world_options_are_refused_in_one_line(extra, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fly("sample:1", "--frames", 2, "--out", tmp_path / "f.mp4", *extra) == 2
    assert_one_line_error(capsys, needle)
    assert not (tmp_path / "f.mp4").exists()


def test_fast_precision_is_refused_on_a_cpu_without_native_bfloat16(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(devices, "native_bfloat16", lambda device: device.type == "cuda")  # an AVX2 CPU
    assert fly("sample:1", "--frames", 2, "--out", tmp_path / "f.mp4", "--precision", "fast") == 2
    assert_one_line_error(capsys, "--precision 'fast' (bfloat16) needs a CUDA device or a CPU with native bfloat16")
    assert not (tmp_path / "f.mp4").exists()


def test_a_folder_that_is_not_a_world_export_is_refused_before_flying(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert fly("sample:1", "--frames", 2, "--out", tmp_path / "f.mp4", "--save-world", taken) == 2
    assert_one_line_error(capsys)
    assert (taken / "notes.txt").read_text() == "mine" and not (tmp_path / "f.mp4").exists()


def test_a_png_flight_is_a_record_that_export_world_reads(tmp_path, capsys):
    from viewgen.cli.main import main
    from viewgen.io.world_record import read_flight_record

    out = tmp_path / "flight"
    assert fly("sample:1", "--size", "160x256", "--frames", 4, "--save-disparity", "--out", out) == 0
    record = read_flight_record(out)
    assert record.rgbd.shape == (4, 4, 160, 256) and record.cam_from_world.shape == (4, 3, 4)
    assert fly("sample:1", "--size", "160x256", "--frames", 3, "--save-disparity", "--out", out) == 0  # replaced
    assert read_flight_record(out).rgbd.shape[0] == 3
    assert main(["export-world", str(out), "--out", str(tmp_path / "world")]) == 0
    assert "points" in capsys.readouterr().out and (tmp_path / "world" / "splats.ply").is_file()
