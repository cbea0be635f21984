"""``viewgen download lpips-alexnet`` / ``fid-inception``: listed with status, offline one line, present file kept."""

import pytest

from viewgen.cli.main import main
from viewgen.evaluation.perceptual import ALEXNET_WEIGHTS, FID_INCEPTION_WEIGHTS


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    return tmp_path / "home" / "weights"


def test_list_shows_them_with_their_status(home, capsys):
    home.mkdir(parents=True)
    (home / ALEXNET_WEIGHTS.filename).write_bytes(b"x")
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    assert "lpips-alexnet " in out and "fid-inception " in out and "midas-v21 " in out
    assert f"{ALEXNET_WEIGHTS.filename}; {home / ALEXNET_WEIGHTS.filename}" in out
    assert f"{FID_INCEPTION_WEIGHTS.filename}; not downloaded" in out


@pytest.mark.parametrize("name, spec", [("lpips-alexnet", ALEXNET_WEIGHTS), ("fid-inception", FID_INCEPTION_WEIGHTS)])
def test_offline_download_is_one_line_naming_file_url_and_folder(home, capsys, name, spec):
    assert main(["download", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    assert "offline" in err and spec.urls[0] in err and str(home / spec.filename) in err
    assert f"viewgen download {name}" in err


def test_a_present_file_is_reported_as_such(home, tmp_path, capsys):
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / FID_INCEPTION_WEIGHTS.filename).write_bytes(b"x")
    home.mkdir(parents=True)
    (home / ALEXNET_WEIGHTS.filename).write_bytes(b"x")
    assert main(["download", "lpips-alexnet", "fid-inception"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"lpips-alexnet: already here: {home / ALEXNET_WEIGHTS.filename}",
                   f"fid-inception: already here: {checkpoints / FID_INCEPTION_WEIGHTS.filename}"]
