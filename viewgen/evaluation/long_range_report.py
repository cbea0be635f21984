"""Protocol (b)'s part of ``viewgen eval``'s output: the ``long_range`` block of ``metrics.json``, its
section of ``report.md`` and its plots.

* :func:`long_range_metrics`: the setting, :data:`TARGETS` read off the flights (``headline``), the
  per-window statistics of every sample and their mean over samples, the patch distances with their
  floors and ratios, attitude extremes of the autopilot and the steered flights, FID / KID (or
  ``null`` and the reason). Floats have 6 significant digits, non-finite ones are ``null``.
* :func:`write_long_range_report`: ``long_range_windows.png`` (per-window curves, one line per
  sample), ``long_range_sheet_<name>.png`` (per sample: about 8 frames spread over the flight,
  flight above the truth at the same frame: :data:`TRUTH_TEXT`), and the report section (markdown).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from viewgen.evaluation.long_range import LongRangeConfig, LongRangeResult
from viewgen.evaluation.long_range_stats import WINDOW_STATS
from viewgen.evaluation.sample_worlds import SAMPLE_NAMES
from viewgen.evaluation.truth_flight import SIBLING_SEED_OFFSET

__all__ = ["LONG_RANGE_FILES", "TARGETS", "TRUTH_TEXT", "long_range_metrics", "write_long_range_report"]

LONG_RANGE_FILES = ("long_range_windows.png", *(f"long_range_sheet_{name}.png" for name in SAMPLE_NAMES))
# name -> (what, target as text, test of the value or None); "steered_*" are read off the steered flights
TARGETS = {
    "min_sharpness_ratio": ("smallest window sharpness, flight / truth", ">= 0.5", lambda v: v >= 0.5),
    "max_patch_ratio": ("largest patch distance / noise floor (truth vs its other stretch)", "<= 2",
                        lambda v: v <= 2.0),
    "max_patch_ratio_adjacent": ("the same / adjacent-views floor (strict reading)", "<= 2", lambda v: v <= 2.0),
    "max_patch_ratio_sibling": ("the same / a sibling world's truth flight (family reading; --sibling-floor)", "<= 2",
                                lambda v: v <= 2.0),
    "min_sky_fraction": ("smallest window sky fraction", ">= 0.005 (sky in every window)", lambda v: v >= 0.005),
    "longest_frozen_run": ("longest run of still frames", "< 10 frames", lambda v: v < 10),
    "min_new_content": ("smallest window new-content fraction (truth's beside it)", "> 0", lambda v: v > 0),
    "max_abs_pitch_deg": ("largest absolute pitch (degrees)", "<= 45", lambda v: v <= 45.0),
    "max_abs_roll_deg": ("largest absolute roll (degrees)", "<= 5", lambda v: v <= 5.0),
    "upside_down_frames": ("upside-down frames", "0", lambda v: v == 0),
    "min_shown_clearance": ("lowest height above the ground the frame shows (units of s)", "> 0", lambda v: v > 0),
    "min_clearance": ("lowest height above the world's ground (units of s; the flight only knows its start)", "> 0",
                      lambda v: v > 0),
}
_ATTITUDE_TARGETS = ("max_abs_pitch_deg", "max_abs_roll_deg", "upside_down_frames", "min_shown_clearance",
                     "min_clearance")
_PLOTTED = (("sharpness_ratio", None, 0.5), ("high_frequency_ratio", None, None),
            ("sky_fraction", "truth_sky_fraction", None), ("new_content", "truth_new_content", None),
            ("frame_change", None, None), ("shown_clearance_min", "clearance_min", 0.0))
_DASHED = {"truth_sky_fraction": "truth", "truth_new_content": "truth", "clearance_min": "over the world's ground"}


def _number(value) -> float | None:
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _numbers(values) -> list[float | None]:
    return [_number(value) for value in torch.as_tensor(values).tolist()]


def _extremes(attitude: dict) -> dict:
    """Attitude extremes of one flight (per-frame :func:`attitude_stats`), or ``{}`` when it has no frames."""
    if not attitude or not len(attitude.get("pitch_deg", [])):
        return {}
    return {"max_abs_pitch_deg": _number(attitude["pitch_deg"].abs().max()),
            "pitch_min_deg": _number(attitude["pitch_deg"].min()),
            "pitch_max_deg": _number(attitude["pitch_deg"].max()),
            "max_abs_roll_deg": _number(attitude["roll_deg"].abs().max()),
            "upside_down_frames": int(attitude["upside_down"].sum()),
            "min_clearance": _number(attitude["clearance"].min()),
            "min_clearance_m": _number(attitude["clearance_m"].min()),
            "below_ground_frames": int((attitude["clearance_m"] < 0).sum()),
            "min_shown_clearance": _number(_nanmin(attitude["shown_clearance"]))}


def _nanmin(values) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.min()) if finite.numel() else math.nan


def _case(result: LongRangeResult) -> dict:
    steered = {key: value for key, value in result.steered.items() if key != "sky_fraction"}
    sky = result.steered.get("sky_fraction", torch.zeros(0))
    return {"sample": result.sample.index, "name": result.sample.name,
            "disparity_scale_m": _number(result.sample.disparity_scale),
            "start_truth_error": _number(result.start_truth_error),
            "windows": {name: _numbers(values) for name, values in result.windows.items()},
            "distances": [{key: (_number(value) if isinstance(value, float) else value) for key, value in row.items()}
                          for row in result.distances],
            "longest_frozen_run": result.longest_frozen_run, "longest_skyless_run": result.longest_skyless_run,
            "attitude": {"autopilot": _extremes(result.attitude),
                         "steered": {**_extremes(steered),
                                     **({"min_sky_fraction": _number(sky.min())} if len(sky) else {})}}}


def _worst(values, pick) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return _number(pick(finite)) if finite else None


def _headline(cases: list[dict], flight: str) -> dict:
    """The :data:`TARGETS` over all samples' windows and ranges (attitude ones for ``flight``)."""
    def window(name: str) -> list:
        return [v for case in cases for v in case["windows"][name]]

    attitude = [case["attitude"][flight] for case in cases if case["attitude"][flight]]
    values = {
        "min_sharpness_ratio": _worst(window("sharpness_ratio"), min),
        "max_patch_ratio": _worst([row["ratio"] for case in cases for row in case["distances"]], max),
        "max_patch_ratio_adjacent": _worst([row["ratio_adjacent"] for case in cases for row in case["distances"]], max),
        "max_patch_ratio_sibling": _worst([row.get("ratio_sibling") for case in cases for row in case["distances"]],
                                          max),
        "min_sky_fraction": _worst(window("sky_fraction"), min),
        "longest_frozen_run": max(case["longest_frozen_run"] for case in cases),
        "min_new_content": _worst(window("new_content"), min),
        "max_abs_pitch_deg": _worst([a["max_abs_pitch_deg"] for a in attitude], max),
        "max_abs_roll_deg": _worst([a["max_abs_roll_deg"] for a in attitude], max),
        "upside_down_frames": sum(a["upside_down_frames"] for a in attitude) if attitude else None,
        "min_shown_clearance": _worst([a["min_shown_clearance"] for a in attitude], min),
        "min_clearance": _worst([a["min_clearance"] for a in attitude], min),
    }
    if flight != "autopilot":
        values = {name: values[name] for name in _ATTITUDE_TARGETS}
    return {name: {"value": value, "target": TARGETS[name][1],
                   "met": None if value is None else bool(TARGETS[name][2](value))} for name, value in values.items()}


TRUTH_TEXT = {  # LongRangeConfig.truth -> what the truth is, and what the flight is compared with
    "flight": ("the same autopilot flying the sample's world itself (a flight that knows the world)",
               "the truth flight at the same frame"),
    "poses": ("the sample's world rendered at the flight's own poses", "the truth at the same pose"),
}


def long_range_metrics(config: LongRangeConfig, results: list[LongRangeResult], refiner: str,
                       seed: int, perceptual: dict) -> dict:
    """The ``long_range`` block of ``metrics.json`` (see the module doc).

    seed: the pipeline's seed; perceptual: ``{"fid": ..., "kid_mean": ..., "kid_std": ..., "images": ...}``
    or ``{"fid": None, "kid": None, "fid_reason": ...}``.
    """
    cases = [_case(result) for result in results]
    mean = {name: _numbers(torch.stack([r.windows[name] for r in results]).nanmean(dim=0)) for name in WINDOW_STATS}
    return {
        "protocol": "long_range",
        "description": "autopilot flights of N frames from the built-in samples; statistics per window of W frames "
                       f"against {TRUTH_TEXT[config.truth][0]}",
        "truth": config.truth, "truth_resolution": config.truth_resolution,
        "resolution": [config.height, config.width], "samples": list(config.samples),
        "sample_names": [SAMPLE_NAMES[i - 1] for i in config.samples], "frames": config.num_frames,
        "window": config.window, "truth_stride": config.truth_stride, "new_content_lag": config.new_content_lag,
        "distance_ranges": [list(r) for r in config.distance_ranges], "steer_frames": config.steer_frames,
        "sibling_floor": (f"a sibling world (the sample's world config with seed + {SIBLING_SEED_OFFSET}) flown by the "
                          "same autopilot" if config.sibling_floor else None),
        "steering": "8 equal phases: hard right, straight, hard left, straight, hard up, straight, hard down, straight",
        "refiner": refiner, "seeds": {"pipeline": seed, "patch_distance": 0, "kid_subsets": 0},
        "stats": dict(WINDOW_STATS),
        "headline": {"autopilot": _headline(cases, "autopilot"), "steered": _headline(cases, "steered")},
        "windows_mean": mean,
        "cases": cases,
        **{key: (_number(value) if isinstance(value, float) else value) for key, value in perceptual.items()},
    }


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _targets_table(block: dict) -> list[str]:
    lines = ["| quantity | target | autopilot | steered |", "|---|---|---|---|"]
    for name, (what, target, _) in TARGETS.items():
        cells = []
        for flight in ("autopilot", "steered"):
            entry = block["headline"][flight].get(name)
            verdict = "" if entry is None or entry["met"] is None else ("ok" if entry["met"] else "**missed**")
            cells.append("" if entry is None else f"{_cell(entry['value'])} {verdict}")
        lines.append(f"| {what} | {target} | {cells[0].strip()} | {cells[1].strip() or 'n/a'} |")
    return lines


# the per-sample table's column of each target (TARGETS' order)
_CASE_COLUMNS = {"min_sharpness_ratio": "min sharpness", "max_patch_ratio": "max patch ratio",
                 "max_patch_ratio_adjacent": "(adjacent)", "max_patch_ratio_sibling": "(sibling)",
                 "min_sky_fraction": "min sky", "longest_frozen_run": "frozen run", "min_new_content": "new content",
                 "max_abs_pitch_deg": "max abs pitch", "max_abs_roll_deg": "max abs roll",
                 "upside_down_frames": "upside-down", "min_shown_clearance": "min shown clearance (s)",
                 "min_clearance": "min world clearance (s)"}


def _cases_table(block: dict) -> list[str]:
    columns = ["sample", *(_CASE_COLUMNS[name] for name in TARGETS), "frame 0 vs truth"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for case in block["cases"]:
        head = _headline([case], "autopilot")
        lines.append(f"| {case['sample']} {case['name']} | " + " | ".join(
            _cell(head[name]["value"]) for name in TARGETS) + f" | {_cell(case['start_truth_error'])} |")
    return lines


def _distances_table(block: dict) -> list[str]:
    lines = ["| sample | frames | truth frames | distance | floor | ratio | adjacent floor | adjacent ratio "
             "| sibling floor | sibling ratio |", "|---" * 10 + "|"]
    for case in block["cases"]:
        for row in case["distances"]:
            if row["ratio"] is None:
                lines.append(f"| {case['name']} | {row['frames'][0]}-{row['frames'][1]} | {row['truth_frames']} | "
                             f"{row.get('reason', '-')} | | | | | | |")
                continue
            lines.append(f"| {case['name']} | {row['frames'][0]}-{row['frames'][1]} | {row['truth_frames']} | "
                         + " | ".join(_cell(row.get(key)) for key in ("distance", "floor", "ratio", "floor_adjacent",
                                                                      "ratio_adjacent", "floor_sibling",
                                                                      "ratio_sibling")) + " |")
    return lines


def _markdown(block: dict) -> list[str]:
    height, width = block["resolution"]
    perceptual = (f"FID {_cell(block['fid'])}, KID {_cell(block['kid_mean'])} +- {_cell(block['kid_std'])} "
                  f"({block['images']} frames per set)" if block.get("fid") is not None
                  else f"FID / KID not measured: {block.get('fid_reason', 'not measured')}.")
    return [
        "## Long range (protocol b)", "",
        f"Autopilot flights of {block['frames']} frames at {height}x{width} from samples "
        f"{', '.join(f'{i} {n}' for i, n in zip(block['samples'], block['sample_names']))}; windows of "
        f"{block['window']} frames; the truth is {TRUTH_TEXT[block['truth']][0]}, every "
        f"{block['truth_stride']} frames; steered flights of {block['steer_frames']} frames; "
        f"refiner: {block['refiner']}.",
        "", "Targets (worst over samples and windows):", "", *_targets_table(block),
        "", "Per sample (autopilot):", "", *_cases_table(block),
        "", f"Patch distance of the flight to {TRUTH_TEXT[block['truth']][1]}; its noise floor (the truth's first "
        "half of the range vs its second half) and their ratio; the adjacent floor (truth at every other truth "
        "frame vs the rest: sampling noise only) and the stricter ratio; with `--sibling-floor`, the distance of a "
        "sibling world's truth flight (the same family, another seed) to the truth and the family ratio:", "",
        *_distances_table(block), "", perceptual, "",
        "![per-window statistics](long_range_windows.png)", "",
        *[f"![{name}: flight above {TRUTH_TEXT[block['truth']][1]}](long_range_sheet_{name}.png)"
          for name in block["sample_names"]], "",
        "All numbers: `metrics.json`. How to read them: docs/evaluation.md.", "",
    ]


def _plot_windows(new_figure, block: dict, path: Path) -> None:
    figure = new_figure(figsize=(12, 6.4), dpi=100)
    axes = figure.subplots(2, 3).ravel()
    window = block["window"]
    for axis, (name, beside, line) in zip(axes, _PLOTTED):
        for case in block["cases"]:
            values = [math.nan if v is None else v for v in case["windows"][name]]
            ends = [min((w + 1) * window, block["frames"]) for w in range(len(values))]
            drawn = axis.plot(ends, values, marker="o", markersize=3, label=case["name"])
            if beside:
                truth = [math.nan if v is None else v for v in case["windows"][beside]]
                axis.plot(ends, truth, linestyle="--", color=drawn[0].get_color(), linewidth=1.0)
        if line is not None:
            axis.axhline(line, color="red", linewidth=0.8, alpha=0.6)
        axis.set_title(name + (f" (dashed: {_DASHED[beside]})" if beside else ""), fontsize=9)
        axis.set_xlabel("last frame of the window", fontsize=8)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})


def _plot_sheet(new_figure, config: LongRangeConfig, result: LongRangeResult, path: Path) -> None:
    columns = len(config.sheet_indices)
    figure = new_figure(figsize=(1.9 * columns * config.width / config.height, 2.0 * 2), dpi=100)
    axes = figure.subplots(2, columns, squeeze=False)
    for column, frame in enumerate(config.sheet_indices):
        for row, (images, what) in enumerate(((result.sheet_flight, "flight"), (result.sheet_truth, "truth"))):
            axis = axes[row][column]
            axis.imshow(images[column].clamp(0.0, 1.0).permute(1, 2, 0).numpy())
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{what} k={frame}", fontsize=8)
    figure.suptitle(f"{result.sample.index} {result.sample.name}: flight above {TRUTH_TEXT[config.truth][1]}",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})


def write_long_range_report(block: dict, config: LongRangeConfig, results: list[LongRangeResult],
                            folder: Path, new_figure) -> str:
    """Write the plots into ``folder``; return the report section (markdown). ``new_figure`` makes an
    Agg-backed matplotlib ``Figure`` (no pyplot state)."""
    _plot_windows(new_figure, block, folder / "long_range_windows.png")
    for result in results:
        _plot_sheet(new_figure, config, result, folder / f"long_range_sheet_{result.sample.name}.png")
    return "\n".join(_markdown(block))
