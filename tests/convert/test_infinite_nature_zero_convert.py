"""``viewgen convert infinite-nature-zero``: the original checkpoint to a release folder that flies as the ``.tar``.

The round trip flies the fixture checkpoint (65M parameters, see ``tests/cli/test_fly_zero.py``) twice for 2
frames, once from the ``.tar`` and once from the converted folder, and compares every written file byte for byte.
"""

from __future__ import annotations

import json

import pytest
import torch

from tests.helpers.shared import shared_path
from viewgen.cli.main import main
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline


@pytest.fixture(scope="module")
def checkpoint():
    return shared_path("fixtures", "infinite_nature_zero", "checkpoints", "inz_seed0_latest.tar")


def convert(*args) -> int:
    return main(["convert", "infinite-nature-zero", *map(str, args)])


def test_converted_folder_flies_bit_for_bit_as_the_tar(checkpoint, tmp_path, capsys, one_thread):
    release = tmp_path / "release"
    assert convert(checkpoint, release) == 0
    out = capsys.readouterr().out
    assert out == f"converted 165 tensors (65,240,163 values; 128x128 frames) from {checkpoint.name} to {release}\n"
    assert sorted(path.name for path in release.iterdir()) == ["generator", "infinite_nature_zero.json",
                                                               "manifest.json"]
    assert sorted(path.name for path in (release / "generator").iterdir()) == ["config.json", "model.safetensors"]
    saved = json.loads((release / "infinite_nature_zero.json").read_text())
    assert saved["refiner"]["truncation"] == 0.7 and saved["seed"] == 0
    assert InfiniteNatureZeroPipeline.from_pretrained(release).config == InfiniteNatureZeroConfig()

    flights = {}
    source = shared_path("real_inputs", "autocruise_input3.pkl")
    for name, weights in (("tar", checkpoint), ("release", release)):
        folder = tmp_path / f"frames_{name}"
        assert main(["fly", str(source), "--model", "infinite-nature-zero", "--weights", str(weights), "--frames", "2",
                     "--out", f"{folder}/", "--save-disparity", "--seed", "3"]) == 0
        flights[name] = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert len(flights["tar"]) == 5 and flights["tar"] == flights["release"]  # 2 frames, 2 disparities, cameras


def test_a_mismatched_checkpoint_lists_every_key_and_writes_nothing(tmp_path, capsys):
    state = {"G_mapping.bogus": torch.zeros(3), "style_encoder.also_bogus": torch.zeros(2)}
    torch.save({"global_step": 1, "epoch": 1, "netG_ema": state}, tmp_path / "bad_latest.tar")
    assert convert(tmp_path / "bad_latest.tar", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    assert "missing keys (165)" in err and "unexpected keys (2)" in err and "G_mapping.bogus" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make, needle", [
    (lambda path: path, "no Infinite Nature Zero checkpoint at"),
    (lambda path: path.mkdir() or path, "no *latest.tar in"),
    (lambda path: (path.write_text("hello"), path)[1], "cannot read"),
    (lambda path: torch.save({"netG": {}}, path) or path, "expected a dict whose 'netG_ema'"),
])
def test_bad_sources_are_one_line(tmp_path, capsys, make, needle):
    source = make(tmp_path / "source_latest.tar")
    assert convert(source, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "out").exists()


def test_an_occupied_output_folder_is_refused(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert convert(checkpoint, out) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert [path.name for path in out.iterdir()] == ["notes.txt"]
