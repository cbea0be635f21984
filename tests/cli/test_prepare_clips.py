"""``viewgen prepare-clips``: every frame's disparity and the clip's units cached with a summary line; a second run
skips what is done; bad input is one line; the prepared clips train."""

import shutil

import pytest
import torch
from PIL import Image

from viewgen.cli.main import main
from viewgen.data.posed_clips import read_clips
from viewgen.data.synthetic.export import export_clips


class Slope:
    """A stand-in depth backend: disparity growing down the image (near ground at the bottom), min-max normalised."""

    name = "slope"

    def __call__(self, image, size=None, normalization="minmax"):
        height, width = size
        return torch.linspace(0, 1, height).view(1, 1, height, 1).expand(1, 1, height, width).clone()


@pytest.fixture
def real_clips(tmp_path):
    synthetic = tmp_path / "synthetic"
    export_clips(synthetic, num_clips=1, num_frames=5, height=48, width=80, seed=2, split="train")
    root = tmp_path / "real"
    for clip in read_clips(synthetic, "train"):
        folder = root / "train" / clip.name
        folder.mkdir(parents=True)
        shutil.copy(synthetic / "train" / f"{clip.name}.txt", folder.parent)
        for path in clip.frame_paths:
            Image.open(path).convert("RGB").save(folder / f"{path.stem}.jpg")
    (root / "train" / "no-frames.txt").write_text((synthetic / "train" / f"{clip.name}.txt").read_text())
    return root


def test_prepare_clips_caches_disparity_resumes_and_trains(real_clips, tmp_path, capsys, monkeypatch):
    built = []
    monkeypatch.setattr("viewgen.depth.get_estimator", lambda name, **options: built.append(name) or Slope())
    assert main(["prepare-clips", str(real_clips), "--depth", "midas-v21-small"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"prepared 1 clip(s) of {real_clips} with midas-v21-small (5 frames in ")
    assert "0 already prepared or synthetic, 1 without frames" in line and built == ["midas-v21-small"]
    folder = next(path for path in (real_clips / "train").iterdir() if path.is_dir())
    assert len(list(folder.glob("*_disparity.png"))) == 5 and (folder / "prepared.json").is_file()
    assert main(["prepare-clips", str(real_clips), "--depth", "midas-v21-small"]) == 0
    assert "prepared 0 clip(s)" in capsys.readouterr().out  # the second run finds it done
    command = ["train", "infinite-nature", "--preset", "tiny", "--data", str(real_clips), "--clip-stride", "2",
               "--out", str(tmp_path / "run"), "--accelerator", "cpu"]
    assert main(command) == 0
    assert "trained Infinite Nature (tiny) to step 2" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere"], "dataset root"),
    (["{clips}", "--depth", "file:x.png"], "prepare-clips needs a backend that estimates every frame"),
    (["{clips}", "--depth", "no-such-backend"], "no-such-backend"),
    (["{clips}", "--split", "val"], "does not exist"),
])
def test_bad_input_is_one_line_and_writes_nothing(real_clips, tmp_path, capsys, args, message):
    args = [arg.replace("{tmp}", str(tmp_path)).replace("{clips}", str(real_clips)) for arg in args]
    before = sorted(path.name for path in real_clips.rglob("*"))
    assert main(["prepare-clips", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(path.name for path in real_clips.rglob("*")) == before


def test_training_on_clips_not_prepared_says_what_to_run(real_clips, tmp_path, capsys):
    command = ["train", "infinite-nature", "--preset", "tiny", "--data", str(real_clips), "--out",
               str(tmp_path / "run")]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "0 with known disparity (run viewgen prepare-clips on real clips)" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
