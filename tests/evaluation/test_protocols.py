"""Protocol (a), short range: one case flown and scored beside the baselines; the config's checks; the report."""

import json

import pytest
import torch

from viewgen.evaluation.protocols import (
    METHODS,
    METRICS,
    ShortRangeConfig,
    mean_curves,
    run_short_range_case,
    short_range_cases,
)
from viewgen.evaluation.report import OUTPUT_FILES, short_range_metrics, write_metrics, write_report
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

TINY = ShortRangeConfig(presets=("hills",), seeds=(0,), num_frames=3, height=32, width=48, sheet_frames=2)


@pytest.fixture(scope="module")
def tiny_case():
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(TINY.height, TINY.width)))
    return run_short_range_case(pipe, "hills", 0, TINY)


def test_a_case_scores_every_method_at_every_frame(tiny_case):
    assert (tiny_case.preset, tiny_case.seed) == ("hills", 0)
    for method in METHODS:
        for metric in METRICS:
            scores = tiny_case.scores[method][metric]
            assert scores.shape == (3,) and scores.dtype == torch.float64 and bool(torch.isfinite(scores).all())
    assert tiny_case.sheet_truth.shape == tiny_case.sheet_flight.shape == (2, 3, 32, 48)


def test_a_case_is_deterministic_and_independent_of_the_cases_before_it(tiny_case):
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(TINY.height, TINY.width)))
    run_short_range_case(pipe, "coast", 1, TINY)  # the same pipeline, used before
    again = run_short_range_case(pipe, "hills", 0, TINY)
    for method in METHODS:
        for metric in METRICS:
            assert torch.equal(again.scores[method][metric], tiny_case.scores[method][metric])


def test_the_config_picks_headline_and_sheet_frames():
    assert ShortRangeConfig(num_frames=20).report_frames == (1, 5, 10, 20)
    assert ShortRangeConfig(num_frames=3).report_frames == (1,)
    assert ShortRangeConfig(num_frames=60).report_frames == (1, 5, 10, 20, 50)
    assert ShortRangeConfig(num_frames=20, sheet_frames=4).sheet_indices == (1, 7, 14, 20)
    assert ShortRangeConfig(num_frames=1).sheet_indices == (1,)
    assert short_range_cases(ShortRangeConfig(presets=("coast", "hills"), seeds=(0, 2))) == [
        ("coast", 0), ("coast", 2), ("hills", 0), ("hills", 2)]


@pytest.mark.parametrize("options, needle", [
    ({"presets": ("moon",)}, "presets must be some of"),
    ({"presets": ()}, "presets must be some of"),
    ({"seeds": (-1,)}, "seeds must be"),
    ({"num_frames": 0}, "number of frames"),
    ({"height": 8}, "at least 16x16"),
])
def test_bad_configs_are_refused_in_one_line(options, needle):
    with pytest.raises(ValueError, match=needle) as caught:
        ShortRangeConfig(**options)
    assert "\n" not in str(caught.value)


def test_metrics_and_report_of_a_case(tiny_case, tmp_path):
    metrics = short_range_metrics(TINY, [tiny_case, tiny_case], "weight-free", "0.0")
    assert metrics["num_cases"] == 2 and metrics["resolution"] == [32, 48] and metrics["headline_frames"] == [1]
    curves = mean_curves([tiny_case, tiny_case])
    assert torch.equal(curves["flight"]["psnr"], tiny_case.scores["flight"]["psnr"])
    assert metrics["headline"]["flight"]["psnr"]["1"] == pytest.approx(float(curves["flight"]["psnr"][0]), rel=1e-5)
    write_metrics(metrics, tmp_path)
    write_report(metrics, TINY, [tiny_case], tmp_path)
    other_protocols = ("long_range", "clips_", "loop_")
    written = {name for name in OUTPUT_FILES if name != "lpips.png" and not name.startswith(other_protocols)}
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(written)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["lpips"] is None and metrics["lpips_reason"] == "not measured"


def test_non_finite_numbers_are_null_in_the_metrics(tiny_case):
    scores = {m: {k: v.clone() for k, v in tiny_case.scores[m].items()} for m in METHODS}
    scores["repeat_start_frame"]["psnr"][0] = float("inf")
    case = type(tiny_case)("hills", 0, scores, tiny_case.sheet_truth, tiny_case.sheet_flight)
    metrics = short_range_metrics(TINY, [case], "weight-free", "0.0")
    assert metrics["headline"]["repeat_start_frame"]["psnr"]["1"] is None
    json.dumps(metrics, allow_nan=False)
