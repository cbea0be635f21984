"""``viewgen eval --lpips``: scored with (tiny random) AlexNet weights; without them null + a note, or an error."""

import json
import math

import pytest
import torch

from tests.helpers.perceptual import random_alexnet_state
from viewgen.cli.main import main
from viewgen.evaluation.perceptual import ALEXNET_WEIGHTS

pytest.importorskip("torchmetrics")
METHODS = ("flight", "warp_nearest_fill", "repeat_start_frame")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty offline VIEWGEN_HOME and TORCH_HOME; returns the weights folder."""
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    return tmp_path / "home" / "weights"


def _quick(out, *extra):
    return main(["eval", "--quick", "--protocol", "short", "--frames", "2", "--out", str(out), *extra])


def test_with_alexnet_weights_lpips_is_scored_per_frame_and_deterministic(home, tmp_path, capsys):
    home.mkdir(parents=True)
    torch.save(random_alexnet_state(), home / ALEXNET_WEIGHTS.filename)
    assert _quick(tmp_path / "a") == 0 and _quick(tmp_path / "b") == 0
    assert "note:" not in capsys.readouterr().err
    text = (tmp_path / "a" / "metrics.json").read_text()
    assert text == (tmp_path / "b" / "metrics.json").read_text()
    metrics = json.loads(text)
    assert "lpips" in metrics["metrics"] and "lpips_reason" not in metrics
    for method in METHODS:
        curve = metrics["curves"][method]["lpips"]
        assert len(curve) == 2 and all(value is not None and math.isfinite(value) and value >= 0 for value in curve)
        assert metrics["cases"][0]["scores"][method]["lpips"] == curve
    report = (tmp_path / "a" / "report.md").read_text()
    assert "| LPIPS (AlexNet) | **flight** |" in report and "![LPIPS (AlexNet) over frame index](lpips.png)" in report
    assert (tmp_path / "a" / "lpips.png").read_bytes()[:4] == b"\x89PNG"


def test_without_weights_lpips_is_null_with_a_reason_and_one_note(home, tmp_path, capsys):
    assert _quick(tmp_path / "eval") == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("viewgen: note: ")]
    assert len(notes) == 1 and "viewgen download lpips-alexnet" in notes[0], err
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["lpips"] is None and "viewgen download lpips-alexnet" in metrics["lpips_reason"]
    assert "lpips" not in metrics["curves"]["flight"]
    assert not (tmp_path / "eval" / "lpips.png").exists()
    assert "LPIPS not measured:" in (tmp_path / "eval" / "report.md").read_text()


def test_off_skips_it_without_a_note(home, tmp_path, capsys):
    assert _quick(tmp_path / "eval", "--lpips", "off") == 0
    assert "note:" not in capsys.readouterr().err
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["lpips_reason"] == "turned off (--lpips off)"


def test_require_without_weights_is_one_line_and_writes_nothing(home, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert _quick(out / "eval", "--lpips", "require") == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: --lpips require: ") and err.count("\n") == 1, err
    assert "viewgen download lpips-alexnet" in err
    assert list(out.iterdir()) == []
