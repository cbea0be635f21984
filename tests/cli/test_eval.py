"""``viewgen eval``: --quick writes metrics.json, report.md and PNGs; reruns are identical; bad options one line;
the loop-closure protocol alone.

No AlexNet weights here (an empty VIEWGEN_HOME and TORCH_HOME): LPIPS is not scored (test_eval_lpips.py).
"""

import json

import pytest

from tests.helpers.perceptual import without_weight_files
from viewgen.cli.main import main

SHORT_WRITTEN = ("metrics.json", "report.md", "psnr.png", "ssim.png", "sharpness.png", "contact_sheet.png")
LOOP_WRITTEN = ("loop_circle.png", "loop_there-and-back.png")
WRITTEN = SHORT_WRITTEN + ("long_range_windows.png", "long_range_sheet_hills.png") + LOOP_WRITTEN  # long: sample 2


@pytest.fixture(scope="module", autouse=True)
def no_lpips_weights(tmp_path_factory):
    yield from without_weight_files(tmp_path_factory)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval"
    assert main(["eval", "--quick", "--out", str(out)]) == 0
    return out


def test_quick_writes_the_metrics_the_report_and_its_plots(quick_run):
    assert sorted(path.name for path in quick_run.iterdir()) == sorted(WRITTEN)
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["protocols"] == ["short_range", "long_range", "loop"]
    assert metrics["protocol"] == "short_range" and metrics["resolution"] == [96, 160]
    assert metrics["num_cases"] == 1 and metrics["presets"] == ["hills"] and metrics["seeds"] == [0]
    assert metrics["frames"] == 5 and metrics["refiner"] == "weight-free" and metrics["viewgen_version"]
    assert metrics["headline_frames"] == [1, 5]
    for method in ("flight", "warp_nearest_fill", "repeat_start_frame"):
        assert len(metrics["curves"][method]["psnr"]) == 5
        assert 0 < metrics["headline"][method]["ssim"]["1"] <= 1
    report = (quick_run / "report.md").read_text()
    assert "| PSNR (dB) | **flight** |" in report and "![contact sheet](contact_sheet.png)" in report
    for name in WRITTEN:
        if name.endswith(".png"):
            assert (quick_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_second_run_gives_an_identical_metrics_file(quick_run, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["eval", "--quick", "--out", str(out)]) == 0
    assert (out / "metrics.json").read_bytes() == (quick_run / "metrics.json").read_bytes()
    line = capsys.readouterr().out
    assert line.startswith("evaluated 1 case(s) in ") and "frame 5 PSNR / SSIM: flight" in line
    assert line.count("\n") == 3 and "long range: 1 sample(s) x 24 frames in " in line
    assert "\nloop closure: 2 path(s) x 1 sample(s) x 3 memories of 12 frames in " in line


def test_rerunning_into_its_own_folder_replaces_it(quick_run, capsys):
    before = (quick_run / "metrics.json").read_bytes()
    assert main(["eval", "--quick", "--protocol", "short", "--frames", "1", "--out", str(quick_run)]) == 0
    assert (quick_run / "metrics.json").read_bytes() != before
    assert sorted(path.name for path in quick_run.iterdir()) == sorted(SHORT_WRITTEN)
    assert json.loads((quick_run / "metrics.json").read_text())["frames"] == 1


@pytest.mark.parametrize("args, needle", [
    (["--presets", "moon"], "--presets: unknown preset moon; choose from coast,hills,mountains"),
    (["--frames", "0"], "--frames must be between 1 and 1000, got 0"),
    (["--size", "96by160"], "size must look like HxW"),
    (["--size", "8x8"], "out of range"),
    (["--seeds", "a,1"], "--seeds must be"),
    (["--weights", "{tmp}/no-weights"], "no-weights"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert main(["eval", "--quick", "--out", str(tmp_path / "eval"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_foreign_files_is_refused(tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["eval", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"viewgen: error: will not replace {out}: it holds files that are not an evaluation "
                          "report (notes.txt)") and err.count("\n") == 1, err
    assert [path.name for path in out.iterdir()] == ["notes.txt"]


def test_a_missing_extra_is_named_in_one_line(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    assert main(["eval", "--quick", "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib is missing" in err and "viewgen[eval]" in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_weights_fly_the_learned_refiner_at_its_own_size(tmp_path, capsys):
    from tests.helpers.tiny_pipeline import tiny_pipeline

    weights = tiny_pipeline().save_pretrained(tmp_path / "weights")
    out = tmp_path / "eval"
    assert main(["eval", "--quick", "--protocol", "short", "--frames", "2", "--weights", str(weights),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resolution"] == [80, 128] and metrics["refiner"] == "Infinite Nature SPADE (weights)"
    assert main(["eval", "--quick", "--protocol", "loop", "--loop-period", "4", "--loop-paths", "circle",
                 "--weights", str(weights), "--out", str(tmp_path / "loop")]) == 0
    loop = json.loads((tmp_path / "loop" / "metrics.json").read_text())["loop"]
    assert loop["memories"] == ["last-frame", "world"] and loop["resolution"] == [80, 128]  # its default: the last
    assert main(["eval", "--quick", "--size", "96x160", "--weights", str(weights), "--out", str(out)]) == 2
    assert "work at 80x128; drop --size or pass --size 80x128" in capsys.readouterr().err


def test_the_loop_protocol_alone_writes_its_block_strips_and_summary(tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("eval") / "loop"
    assert main(["eval", "--quick", "--protocol", "loop", "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(("metrics.json", "report.md") + LOOP_WRITTEN)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["protocols"] == ["loop"] and "headline" not in metrics and "long_range" not in metrics
    block = metrics["loop"]
    assert block["resolution"] == [96, 160] and block["period"] == 12 and block["samples"] == [1]
    assert block["paths"] == ["circle", "there-and-back"] and block["memories"] == ["default", "last-frame", "world"]
    assert block["refiner"] == "weight-free" and len(block["cases"]) == 6
    for path in block["paths"]:  # the persistent world comes back to what was there; the last frame does not
        assert block["means"][path]["world"]["psnr"] > block["means"][path]["last-frame"]["psnr"] + 4
    report = (out / "report.md").read_text()
    assert report.startswith("# viewgen eval: loop closure") and "| circle | world |" in report
    assert "![there-and-back: frame 0, then the returned frame of each memory](loop_there-and-back.png)" in report
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in LOOP_WRITTEN)
    line = capsys.readouterr().out
    assert line.startswith("loop closure: 2 path(s) x 1 sample(s) x 3 memories of 12 frames in ")
    assert "circle: default " in line and ", world " in line and line.count("\n") == 1
    assert line.rstrip().endswith(f"wrote {out}/report.md and metrics.json")


@pytest.mark.parametrize("args, needle", [
    (["--loop-period", "1"], "--loop-period must be between 2 and 1000, got 1"),
    (["--loop-paths", "circle,spiral"], "--loop-paths must be comma-separated names from circle,there-and-back"),
    (["--loop-samples", "4"], "--loop-samples must be comma-separated names from 1,2,3"),
    (["--protocol", "short", "--loop-period", "8"], "--loop-period only apply to the loop-closure protocol"),
    (["--clips", "{tmp}"], "--clips belongs to protocol (a)"),
])
def test_bad_loop_options_are_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    args = [arg.format(tmp=tmp_path) for arg in args]
    out = tmp_path / "out"
    out.mkdir()
    assert main(["eval", "--quick", "--protocol", "loop", *args, "--out", str(out / "eval")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert list(out.iterdir()) == []
