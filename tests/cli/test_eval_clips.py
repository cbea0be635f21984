"""``viewgen eval --clips``: protocol (a) on posed clips writes its block, section and plots; reruns are
identical; it joins the synthetic cases under ``--protocol short``; bad options are one line and write nothing."""

import json

import pytest

from tests.helpers.perceptual import without_weight_files
from viewgen.cli.main import main
from viewgen.data.synthetic.export import export_clips

CLIPS_WRITTEN = ("metrics.json", "report.md", "clips_psnr.png", "clips_ssim.png", "clips_sharpness.png",
                 "clips_contact_sheet.png")
TINY = ["--frames", "2", "--clip-stride", "2", "--size", "64x96"]


@pytest.fixture(scope="module", autouse=True)
def no_weights(tmp_path_factory):
    yield from without_weight_files(tmp_path_factory)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    export_clips(root, num_clips=2, num_frames=5, height=64, width=96, seed=1, split="test")
    return root


@pytest.fixture(scope="module")
def clips_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval"
    assert main(["eval", "--protocol", "clips", "--clips", str(dataset), *TINY, "--out", str(out)]) == 0
    return out


def test_clips_alone_write_their_block_section_and_plots(clips_run, dataset):
    assert sorted(p.name for p in clips_run.iterdir()) == sorted(CLIPS_WRITTEN)
    metrics = json.loads((clips_run / "metrics.json").read_text())
    assert metrics["protocols"] == ["posed_clips"] and "headline" not in metrics
    block = metrics["posed_clips"]
    assert block["num_cases"] == 2 and block["frames"] == 2 and block["stride"] == 2
    assert block["root"] == str(dataset) and block["resolution"] == [64, 96]
    assert [case["clip"] for case in block["cases"]] == sorted(p.stem for p in (dataset / "test").glob("*.txt"))
    assert {case["scale_source"] for case in block["cases"]} == {"metadata"}
    assert all(case["scale_gain"] is None for case in block["cases"])
    assert all(len(case["scores"]["flight"]["psnr"]) == 2 for case in block["cases"])
    assert set(block["headline"]) == {"flight", "warp_nearest_fill", "repeat_start_frame"}
    report = (clips_run / "report.md").read_text()
    assert "## Protocol (a) on posed clips" in report and "![contact sheet](clips_contact_sheet.png)" in report


def test_a_second_run_is_identical_and_ends_with_a_summary(clips_run, dataset, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["eval", "--protocol", "clips", "--clips", str(dataset), *TINY, "--out", str(out)]) == 0
    assert (out / "metrics.json").read_bytes() == (clips_run / "metrics.json").read_bytes()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("posed clips: evaluated 2 clip(s) in ") and "flight" in last and "wrote" in last


def test_clips_join_the_synthetic_cases_of_protocol_a(dataset, tmp_path):
    out = tmp_path / "both"
    assert main(["eval", "--protocol", "short", "--presets", "hills", "--clips", str(dataset), "--max-clips", "1",
                 *TINY, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["protocols"] == ["short_range", "posed_clips"] and metrics["posed_clips"]["num_cases"] == 1
    assert {"psnr.png", "clips_psnr.png"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("args, needle", [
    (["--protocol", "clips"], "--protocol clips needs --clips DIR"),
    (["--protocol", "clips", "--clips", "{tmp}/nowhere"], "nowhere is not a folder"),
    (["--protocol", "clips", "--clips", "{data}", "--frames", "40"], "no clip with 81 frames"),
    (["--protocol", "clips", "--clips", "{data}", "--clip-stride", "0"], "--clip-stride must be between 1 and"),
    (["--protocol", "clips", "--clips", "{data}", "--max-clips", "0"], "--max-clips must be between 1 and"),
    (["--protocol", "clips", "--clips", "{data}", "--split", "val"], "does not exist"),
    (["--protocol", "short", "--clip-stride", "3"], "--clip-stride only apply to posed clips: add --clips DIR"),
    (["--protocol", "long", "--clips", "{data}"], "--clips belongs to protocol (a)"),
])
def test_bad_options_are_one_line_and_write_nothing(dataset, tmp_path, capsys, args, needle):
    args = [arg.replace("{tmp}", str(tmp_path)).replace("{data}", str(dataset)) for arg in args]
    (tmp_path / "out").mkdir()
    assert main(["eval", *TINY, *args, "--out", str(tmp_path / "out" / "eval")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert list((tmp_path / "out").iterdir()) == []
