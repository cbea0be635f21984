import json

import pytest
import torch

from tests.helpers.interrupts import interrupt_on_call
from viewgen.cli.main import main
from viewgen.data.posed_clips import read_clips
from viewgen.io.images import read_disparity_png16


def test_synth_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "dataset"
    assert main(["synth", "--clips", "2", "--frames", "3", "--out", str(out), "--size", "16x24", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2]" in printed and "[2/2]" in printed and "wrote 2 clips, 6 frames of 16x24" in printed
    clips = read_clips(out, "train")
    assert [clip.name for clip in clips] == ["0000-coast", "0001-hills"]
    for clip in clips:
        assert len(clip) == 3 and clip.url.startswith("viewgen-synth://")
        assert clip.timestamps.tolist() == [0, 33333, 66667]
        assert clip.intrinsics[0].tolist() == [0.8, 0.8 * 24 / 16, 0.5, 0.5]
        assert clip.has_frames and all(path.is_file() for path in clip.disparity_paths)
        assert clip.disparity_scales is not None and bool((clip.disparity_scales > 0).all())
        disparity = read_disparity_png16(clip.disparity_paths[0])
        assert disparity.shape == (1, 1, 16, 24) and float(disparity.max()) == 1.0
        meta = json.loads((clip.frame_paths[0].parent / "metadata.json").read_text())
        assert meta["height"] == 16 and meta["width"] == 24 and meta["preset"] == clip.name.split("-")[1]
        centres = -clip.cam_from_world[:, :, :3].transpose(1, 2) @ clip.cam_from_world[:, :, 3:]
        assert float(centres.diff(dim=0).norm(dim=1).min()) > 1.0  # the camera moves
    from PIL import Image
    with Image.open(clips[0].frame_paths[1]) as image:
        assert image.size == (24, 16) and image.mode == "RGB"


@pytest.mark.parametrize("argv, message", [
    (["--clips", "0", "--frames", "2"], "--clips must be at least 1"),
    (["--clips", "1", "--frames", "0"], "--frames must be at least 1"),
    (["--clips", "1", "--frames", "2", "--size", "5000x64"], "out of range"),
    (["--clips", "1", "--frames", "2", "--size", "big"], "HxW"),
])
def test_synth_bad_arguments(tmp_path, capsys, argv, message):
    assert main(["synth", *argv, "--out", str(tmp_path / "d")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("viewgen: error:") and message in error and error.count("\n") == 1


def test_synth_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["synth", "--clips", "1", "--frames", "1", "--out", str(blocker / "sub")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("viewgen: error: cannot write to") and error.count("\n") == 1


def test_export_clips_api_errors(tmp_path):
    from viewgen.data.synthetic.export import export_clips

    with pytest.raises(ValueError, match="number of clips"):
        export_clips(tmp_path, 0, 2)
    with pytest.raises(ValueError, match="frame size"):
        export_clips(tmp_path, 1, 2, height=4097, width=64)
    with pytest.raises(ValueError, match="split"):
        export_clips(tmp_path, 1, 2, split="../x")
    assert torch.get_num_threads() >= 1


def test_export_clips_publishes_nothing_on_an_interrupt_by_default(tmp_path, monkeypatch):
    from viewgen.data.synthetic import export

    first = export.export_clips(tmp_path, 1, 1, 16, 16)
    assert first[0].frames_dir == tmp_path / "train" / "0000-coast" and first[0].camera_file.is_file()
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    interrupt_on_call(monkeypatch, export, "render_rgbd", 2)  # the second clip is interrupted
    with pytest.raises(KeyboardInterrupt):
        export.export_clips(tmp_path, 2, 2, 16, 16, seed=3)
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train"]
