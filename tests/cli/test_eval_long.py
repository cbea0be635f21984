"""``viewgen eval --protocol long``: a tiny run writes its block, report section and plots; reruns are
identical; bad options are one line and write nothing. No FID Inception weights here (empty homes)."""

import json

import pytest

from tests.helpers.perceptual import without_weight_files
from viewgen.cli.main import main

TINY = ["--protocol", "long", "--samples", "2", "--long-frames", "12", "--window", "4", "--size", "64x96"]


@pytest.fixture(scope="module", autouse=True)
def no_weights(tmp_path_factory):
    yield from without_weight_files(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval"
    assert main(["eval", *TINY, "--out", str(out)]) == 0
    return out


def test_long_range_alone_writes_its_block_and_section(tiny_run):
    assert sorted(p.name for p in tiny_run.iterdir()) == sorted(
        ["metrics.json", "report.md", "long_range_windows.png", "long_range_sheet_hills.png"])
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["protocols"] == ["long_range"] and "headline" not in metrics
    block = metrics["long_range"]
    assert block["samples"] == [2] and block["frames"] == 12 and block["window"] == 4
    assert block["truth_stride"] == 1 and block["steer_frames"] == 12 and block["refiner"] == "weight-free"
    assert block["fid"] is None and "viewgen download fid-inception" in block["fid_reason"]
    assert block["truth"] == "flight" and block["truth_resolution"] == "input"
    assert block["cases"][0]["start_truth_error"] < 2e-3  # the truth is formed as frame 0 was
    assert len(block["cases"][0]["windows"]["sharpness_ratio"]) == 3
    assert [row["ratio"] for row in block["cases"][0]["distances"]] == [None, None]  # frames 100+ not flown
    report = (tiny_run / "report.md").read_text()
    assert report.startswith("# viewgen eval: long range") and "## Long range (protocol b)" in report


def test_a_second_run_is_identical_and_ends_with_a_summary(tiny_run, tmp_path, capsys):
    assert main(["eval", *TINY, "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "metrics.json").read_bytes() == (tiny_run / "metrics.json").read_bytes()
    captured = capsys.readouterr()
    assert captured.out.startswith("long range: 1 sample(s) x 12 frames in ") and captured.out.count("\n") == 1
    assert "min sharpness ratio" in captured.out and "viewgen: note: FID / KID not scored" in captured.err
    assert "sibling" not in captured.out  # measured only with --sibling-floor


def test_the_truth_at_the_flights_own_poses_is_an_option(tiny_run, tmp_path):
    assert main(["eval", *TINY, "--truth", "poses", "--out", str(tmp_path / "poses")]) == 0
    flight = json.loads((tiny_run / "metrics.json").read_text())["long_range"]
    posed = json.loads((tmp_path / "poses" / "metrics.json").read_text())["long_range"]
    assert posed["truth"] == "poses" and "rendered at the flight's own poses" in posed["description"]
    assert posed["headline"]["autopilot"]["max_abs_pitch_deg"] == flight["headline"]["autopilot"]["max_abs_pitch_deg"]
    assert posed["cases"][0]["windows"]["sharpness_ratio"] != flight["cases"][0]["windows"]["sharpness_ratio"]


def test_the_truth_at_the_flights_resolution_is_an_option(tiny_run, tmp_path):
    assert main(["eval", *TINY, "--truth-resolution", "flight", "--out", str(tmp_path / "direct")]) == 0
    formed = json.loads((tiny_run / "metrics.json").read_text())["long_range"]
    direct = json.loads((tmp_path / "direct" / "metrics.json").read_text())["long_range"]
    assert direct["truth_resolution"] == "flight"
    case, formed_case = direct["cases"][0], formed["cases"][0]
    assert case["start_truth_error"] > 5 * formed_case["start_truth_error"]  # its own pixels, not frame 0's
    assert case["windows"]["sharpness_ratio"] != formed_case["windows"]["sharpness_ratio"]  # another truth ...
    pitch = [block["headline"]["autopilot"]["max_abs_pitch_deg"] for block in (direct, formed)]
    assert pitch[0] == pitch[1]  # ... of the same flight


def test_the_sibling_floor_is_an_option(tiny_run, tmp_path, capsys):
    plain = json.loads((tiny_run / "metrics.json").read_text())["long_range"]
    assert plain["sibling_floor"] is None
    ranges = ["--long-frames", "24", "--window", "8"]  # --quick's distance ranges end at frame 24
    assert main(["eval", *TINY, *ranges, "--quick", "--sibling-floor", "--out", str(tmp_path / "sibling")]) == 0
    assert "(against a sibling world " in capsys.readouterr().out  # the closing summary line reads it too
    block = json.loads((tmp_path / "sibling" / "metrics.json").read_text())["long_range"]
    assert "seed + 1" in block["sibling_floor"]
    rows = block["cases"][0]["distances"]
    assert all(row["floor_sibling"] > 0 and row["ratio_sibling"] > 0 for row in rows)
    assert block["headline"]["autopilot"]["max_patch_ratio_sibling"]["value"] == max(r["ratio_sibling"] for r in rows)
    assert "| sibling floor | sibling ratio |" in (tmp_path / "sibling" / "report.md").read_text()


@pytest.mark.parametrize("args, needle", [
    (["--protocol", "sideways"], "argument --protocol: invalid choice: 'sideways'"),
    (["--samples", "0,4"], "--samples must be comma-separated built-in samples from 1,2,3"),
    (["--samples", ","], "--samples must be"),
    (["--window", "13"], "--window must be between 1 and --long-frames (12), got 13"),
    (["--long-frames", "0"], "--long-frames must be between 1 and 5000, got 0"),
    (["--fid", "require"], "--fid require: cannot score FID / KID"),
    (["--truth", "world"], "argument --truth: invalid choice: 'world'"),
    (["--truth-resolution", "native"], "argument --truth-resolution: invalid choice: 'native'"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    assert main(["eval", *TINY, *args, "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert list(tmp_path.iterdir()) == []
