"""``viewgen export-world``: a flight record folder in, one folder of PLYs and cameras out, or one error line."""

import json

import pytest
import torch

from viewgen.cli.main import main
from viewgen.data.posed_clips import read_camera_file
from viewgen.io.world_files import WorldRecord, write_flight_record

plyfile = pytest.importorskip("plyfile")

H, W = 6, 8


@pytest.fixture
def flight(tmp_path):
    """A two-frame flight record: a plane at depth 2 seen from two cameras 0.5 apart."""
    rgbd = torch.rand(2, 4, H, W, generator=torch.Generator().manual_seed(0))
    rgbd[:, 3] = torch.tensor([0.5, 0.5 / (1 - 0.5 * 0.5)])[:, None, None]  # depth 2, then 1.5
    poses = torch.eye(4, dtype=torch.float64)[:3].repeat(2, 1, 1)
    poses[1, 2, 3] = -0.5  # the second camera 0.5 further forward
    intrinsics = torch.tensor([0.8, 0.8 * W / H, 0.5, 0.5])
    return write_flight_record(tmp_path / "flight", WorldRecord(rgbd, poses, intrinsics))


def count(path, element="vertex") -> int:
    return plyfile.PlyData.read(str(path))[element].count


def test_export_world_writes_every_format(tmp_path, flight, capsys):
    out = tmp_path / "world"
    assert main(["export-world", str(flight), "--out", str(out), "--voxel", "0"]) == 0
    line = capsys.readouterr().out
    points, faces = count(out / "points.ply"), count(out / "mesh.ply", "face")
    assert points == 2 * H * W and faces == 2 * 2 * (H - 1) * (W - 1)
    assert line == (f"wrote {out}: {points} points, {faces} faces ({2 * H * W} vertices), {points} splats, 2 cameras "
                    f"from 2 frames (stride 1, voxel 0; points.ply mesh.ply splats.ply cameras.txt transforms.json "
                    f"images/)\n")
    assert count(out / "splats.ply") == points
    assert len(read_camera_file(out / "cameras.txt")) == 2
    transforms = json.loads((out / "transforms.json").read_text())
    paths = [frame["file_path"] for frame in transforms["frames"]]
    assert paths == ["images/frame_00000.png", "images/frame_00001.png"]
    assert all((out / path).is_file() for path in paths)


def test_formats_stride_and_the_default_voxel(tmp_path, flight, capsys):
    out = tmp_path / "world"
    assert main(["export-world", str(flight), "--out", str(out), "--formats", "points,cameras", "--stride", "2"]) == 0
    line = capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == ["cameras.txt", "images", "points.ply", "transforms.json"]
    assert 3 * 4 <= count(out / "points.ply") < 2 * 3 * 4  # the same plane twice: merged
    # the median footprint of the samples: 2 * 2 / 6.4 = 0.625 (depth 2) and 1.5 * 2 / 6.4 = 0.469 (depth 1.5)
    assert ", 2 cameras from 2 frames (stride 2, voxel 0.547; points.ply cameras.txt" in line

    assert main(["export-world", str(flight), "--out", str(out), "--formats", "mesh"]) == 0  # replaces the export
    assert sorted(path.name for path in out.iterdir()) == ["mesh.ply"]


@pytest.mark.parametrize("break_flight, args, message", [
    (None, ["nothere", "--out", "w"], "cannot read the flight nothere: no such folder"),
    ("cameras.json", ["flight", "--out", "w"], "has no cameras.json"),
    ("disparity_*.png", ["flight", "--out", "w"], "no disparity_00000.png ...: the export needs every frame's depth; "
                                                  "write the flight with `viewgen fly --out DIR --save-disparity`"),
    ("disparity_00001.png", ["flight", "--out", "w"], "has 2 frame PNGs but 1 disparity PNGs"),
    (None, ["flight", "--out", "w", "--formats", "points,video"], "--formats takes a comma-separated list"),
    (None, ["flight", "--out", "w", "--stride", "0"], "--stride must be a whole number >= 1"),
    (None, ["flight", "--out", "w", "--voxel", "-1"], "--voxel must be a size >= 0"),
    (None, ["flight", "--out", "flight"], "will not replace"),
    (None, ["flight", "--out", "."], "it is the current folder"),
    (None, ["flight"], "the following arguments are required: --out"),
])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, flight, capsys, monkeypatch, break_flight, args, message):
    monkeypatch.chdir(tmp_path)
    for path in flight.glob(break_flight or "-"):
        path.unlink()
    before = sorted(path.name for path in flight.iterdir())
    assert main(["export-world", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and message in err and err.count("\n") == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flight"]
    assert sorted(path.name for path in flight.iterdir()) == before


def test_an_existing_file_as_out_is_refused(tmp_path, flight, capsys):
    (tmp_path / "world").write_text("mine")
    assert main(["export-world", str(flight), "--out", str(tmp_path / "world")]) == 2
    assert "it is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "world").read_text() == "mine"
