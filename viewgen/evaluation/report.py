"""What ``viewgen eval`` writes: ``metrics.json``, ``report.md`` and its PNG plots.

* :func:`short_range_metrics`: protocol (a)'s numbers as a JSON-ready dict, each block with its
  protocol, resolution, number of cases, presets, seeds, frames, refiner and viewgen version.
  Floats are rounded to 6 significant digits (non-finite ones become ``null``), so two runs of
  the same setting give identical files.
* LPIPS, when measured, is one more metric everywhere (``lpips.png`` too); when not,
  ``metrics.json`` has ``"lpips": null`` and ``"lpips_reason"``.
* :func:`write_report`: ``report.md`` with the headline table, and ``psnr.png``, ``ssim.png``,
  ``sharpness.png`` (and ``lpips.png``; mean score over frame index, flight and baselines) and ``contact_sheet.png``
  (the first case of each preset, up to 3: ground truth above the flight at a few frames), drawn
  with matplotlib (the ``eval`` extra) on its Agg canvas (``Figure`` objects, not pyplot: no
  global backend or figure state is touched).
* Protocol (a) on posed clips: :func:`posed_clip_metrics` (``metrics.json["posed_clips"]``) and, when
  :func:`write_report` is given its config and results, its section with ``clips_psnr.png``, ... and
  ``clips_contact_sheet.png``.
* Protocol (b), long range, adds its section and plots (:mod:`viewgen.evaluation.long_range_report`)
  when :func:`write_report` is given its config and results; so does the loop-closure protocol
  (:mod:`viewgen.evaluation.loop_protocol`: its table and ``loop_<path>.png`` strips) given its results.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from torch import Tensor

from viewgen.evaluation.long_range_report import LONG_RANGE_FILES, write_long_range_report
from viewgen.evaluation.loop_protocol import LOOP_FILES, write_loop_report
from viewgen.evaluation.posed_clip_truth import ClipTruth, PosedClipsConfig
from viewgen.evaluation.protocols import (
    LPIPS_METRIC,
    METHODS,
    METRICS,
    CaseResult,
    ShortRangeConfig,
    mean_curves,
    scored_metrics,
)

__all__ = ["METHOD_LABELS", "OUTPUT_FILES", "check_report_folder", "posed_clip_metrics", "publish_report",
           "short_range_metrics", "write_metrics", "write_report"]

CLIPS_PREFIX = "clips_"  # the posed clips' plots: clips_psnr.png, ...
METHOD_LABELS = {"flight": "flight", "warp_nearest_fill": "warp + nearest fill",
                 "repeat_start_frame": "repeat start frame"}
METRIC_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "sharpness": "sharpness / ground truth's",
                 LPIPS_METRIC: "LPIPS (AlexNet)"}
PLOTS = tuple(f"{prefix}{metric}.png" for prefix in ("", CLIPS_PREFIX) for metric in (*METRICS, LPIPS_METRIC)) + (
    "contact_sheet.png", f"{CLIPS_PREFIX}contact_sheet.png")
OUTPUT_FILES = ("metrics.json", "report.md") + PLOTS + LONG_RANGE_FILES + LOOP_FILES  # all viewgen eval writes in --out


def check_report_folder(out: Path) -> None:
    """Refuse (one line) an ``--out`` that holds anything but an earlier report: before any work."""
    from viewgen.staging import check_replaceable

    check_replaceable(out, lambda entry: entry.is_file() and entry.name in OUTPUT_FILES, "an evaluation report",
                      "choose an empty or new folder with --out")


def publish_report(out: Path, fill) -> None:
    """``fill(folder)`` a hidden folder beside ``out``, then swap it in whole (:mod:`viewgen.staging`)."""
    from viewgen.staging import build_and_publish

    build_and_publish(out, fill, "the evaluation report", out)


def _number(value: float) -> float | None:
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _numbers(curve: Tensor) -> list[float | None]:
    return [_number(value) for value in curve.tolist()]


def _metric_notes(measured: tuple[str, ...], lpips_reason: str | None) -> dict:
    notes = {"psnr": "dB, higher is better", "ssim": "higher is better, 1 = identical",
             "sharpness": "variance of the Laplacian relative to the ground truth's, 1 = as sharp"}
    if LPIPS_METRIC in measured:
        notes[LPIPS_METRIC] = "LPIPS v0.1, AlexNet, lower is better, 0 = identical"
    return {"metrics": notes, **({} if LPIPS_METRIC in measured else
                                 {LPIPS_METRIC: None, "lpips_reason": lpips_reason or "not measured"})}


def _scored_block(config, results: list[CaseResult], refiner: str, version: str, lpips_reason: str | None) -> dict:
    """What every protocol (a) block holds: version, resolution, counts, metric notes, headline and curves."""
    curves = mean_curves(results)
    measured = scored_metrics(results)
    frames = config.report_frames
    return {
        "viewgen_version": version,
        "resolution": [config.height, config.width],
        "num_cases": len(results),
        "frames": config.num_frames,
        "refiner": refiner,
        "methods": list(METHODS),
        **_metric_notes(measured, lpips_reason),
        "headline_frames": list(frames),
        "headline": {method: {metric: {str(k): _number(curves[method][metric][k - 1]) for k in frames}
                              for metric in measured} for method in METHODS},
        "curves": {method: {metric: _numbers(curves[method][metric]) for metric in measured} for method in METHODS},
    }


def _case_scores(result: CaseResult, measured: tuple[str, ...]) -> dict:
    return {method: {metric: _numbers(result.scores[method][metric]) for metric in measured} for method in METHODS}


def short_range_metrics(config: ShortRangeConfig, results: list[CaseResult], refiner: str, version: str,
                        lpips_reason: str | None = None) -> dict:
    """Protocol (a)'s ``metrics.json`` content (see the module doc).

    ``headline[method][metric][k]``: mean over cases at frame ``k`` (``config.report_frames``);
    ``curves[method][metric]``: the mean at every frame 1..N; ``cases``: every case's own curves.
    lpips_reason: why LPIPS was not measured (kept as ``lpips_reason`` when the cases lack it).
    """
    block = _scored_block(config, results, refiner, version, lpips_reason)
    measured = scored_metrics(results)
    return {
        "protocol": "short_range",
        "description": "generated frame k vs the synthetic world's ground truth along the same poses (k = 1..N)",
        "presets": list(config.presets),
        "seeds": list(config.seeds),
        **block,
        "cases": [{"preset": r.preset, "seed": r.seed, "scores": _case_scores(r, measured)} for r in results],
    }


def posed_clip_metrics(config: PosedClipsConfig, truths: list[ClipTruth], results: list[CaseResult], refiner: str,
                       version: str, lpips_reason: str | None = None) -> dict:
    """Protocol (a) on posed clips, for ``metrics.json["posed_clips"]``: as :func:`short_range_metrics`, with
    the dataset (root, split, stride) and every clip's name, scale (flight units per pose unit), its source and,
    for a fitted one, its gain over a still camera."""
    block = _scored_block(config, results, refiner, version, lpips_reason)
    measured = scored_metrics(results)
    return {
        "protocol": "short_range_posed_clips",
        "description": "generated frame k vs the clip's frame k * stride, flown along the clip's own poses "
                       "scaled into frame 0's depth unit (k = 1..N)",
        "root": str(config.root),
        "split": config.split,
        "stride": config.stride,
        **block,
        "cases": [{"clip": truth.name, "scale": _number(truth.scale), "scale_source": truth.scale_source,
                   "scale_gain": None if truth.scale_gain is None else _number(truth.scale_gain),
                   "scores": _case_scores(result, measured)} for truth, result in zip(truths, results)],
    }


def write_metrics(metrics: dict, folder: Path) -> None:
    """``folder/metrics.json``, keys in a fixed order, newline-terminated."""
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1, allow_nan=False) + "\n")


def _measured(metrics: dict) -> tuple[str, ...]:
    return tuple(metric for metric in (*METRICS, LPIPS_METRIC) if metric in metrics["metrics"])


def _headline_table(metrics: dict) -> list[str]:
    frames = metrics["headline_frames"]
    lines = ["| metric | method | " + " | ".join(f"frame {k}" for k in frames) + " |",
             "|---|---|" + "---|" * len(frames)]
    for metric in _measured(metrics):
        for method in METHODS:
            values = metrics["headline"][method][metric]
            cells = ["-" if values[str(k)] is None else f"{values[str(k)]:.3f}" for k in frames]
            name = f"**{METHOD_LABELS[method]}**" if method == "flight" else METHOD_LABELS[method]
            lines.append(f"| {METRIC_LABELS[metric]} | {name} | " + " | ".join(cells) + " |")
    return lines


def _markdown(metrics: dict, title: str = "# viewgen eval: short range") -> str:
    height, width = metrics["resolution"]
    intro = [
        title,
        "",
        f"Protocol (a): {metrics['num_cases']} case(s) (presets {', '.join(metrics['presets'])}; "
        f"seeds {', '.join(map(str, metrics['seeds']))}), {metrics['frames']} generated frames each at "
        f"{height}x{width}; refiner: {metrics['refiner']}; viewgen {metrics['viewgen_version']}.",
        "Every number is the mean over cases of generated frame k scored against the synthetic world's "
        "ground truth from the same camera. The baselines fly the same poses.",
    ]
    return _scored_section(metrics, intro, "", "Contact sheet (the first case of each preset; ground truth above "
                                               "the flight):")


def _clips_markdown(block: dict) -> str:
    height, width = block["resolution"]
    sources = sorted({case["scale_source"] for case in block["cases"]})
    intro = [
        "## Protocol (a) on posed clips",
        "",
        f"{block['num_cases']} clip(s) of {block['root']}" + (f" (split {block['split']})" if block["split"] else "")
        + f", {block['frames']} generated frames each, every {block['stride']} clip frame(s), at {height}x{width}; "
        f"refiner: {block['refiner']}. Each flight and baseline flies the clip's own poses from its frame 0 "
        f"and is scored against the clip's frames. Scale of the poses: {', '.join(sources)} (docs/evaluation.md).",
    ]
    return _scored_section(block, intro, CLIPS_PREFIX, "Contact sheet (the first clips; the clip above the flight):")


def _scored_section(block: dict, intro: list[str], prefix: str, sheet_caption: str) -> str:
    lines = [
        *intro,
        "",
        *_headline_table(block),
        *([] if LPIPS_METRIC in block["metrics"] else ["", f"LPIPS not measured: {block['lpips_reason']}."]),
        "",
        *[f"![{METRIC_LABELS[metric]} over frame index]({prefix}{metric}.png)" for metric in _measured(block)],
        "",
        sheet_caption,
        "",
        f"![contact sheet]({prefix}contact_sheet.png)",
        "",
        "All numbers, per frame and per case: `metrics.json`. How to read them: docs/evaluation.md.",
        "",
    ]
    return "\n".join(lines)


def _plot_curves(new_figure, metrics: dict, metric: str, path: Path) -> None:
    figure = new_figure(figsize=(6, 3.6), dpi=100)
    axes = figure.subplots()
    for method in METHODS:
        curve = [math.nan if v is None else v for v in metrics["curves"][method][metric]]
        axes.plot(range(1, len(curve) + 1), curve, marker="o" if len(curve) <= 20 else None, markersize=3,
                  label=METHOD_LABELS[method], linewidth=2.0 if method == "flight" else 1.2)
    axes.set_xlabel("frame index")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel(METRIC_LABELS[metric])
    axes.set_title(f"{METRIC_LABELS[metric]}, mean of {metrics['num_cases']} case(s)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})


def _plot_contact_sheet(new_figure, config: ShortRangeConfig | PosedClipsConfig, results: list[CaseResult],
                        path: Path, max_cases: int = 3, clips: bool = False) -> None:
    first_of_preset: dict[str, CaseResult] = {}
    for result in results:
        first_of_preset.setdefault(result.preset, result)
    chosen = list(first_of_preset.values())
    shown = (chosen + [result for result in results if result not in chosen])[:max_cases]  # presets first
    columns = len(config.sheet_indices)
    figure = new_figure(figsize=(2.2 * columns * config.width / config.height, 2.2 * 2 * len(shown)), dpi=100)
    axes = figure.subplots(2 * len(shown), columns, squeeze=False)
    for row, result in enumerate(shown):
        for column, frame in enumerate(config.sheet_indices):
            for offset, (images, what) in enumerate(((result.sheet_truth, "truth"), (result.sheet_flight, "flight"))):
                axis = axes[2 * row + offset][column]
                axis.imshow(images[column].permute(1, 2, 0).numpy())
                axis.set_xticks([])
                axis.set_yticks([])
                name = result.preset if clips else f"{result.preset} s{result.seed}"
                axis.set_title(f"{name} {what} k={frame}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})


def _agg_figure(**options):
    """A matplotlib ``Figure`` on its own Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**options)
    FigureCanvasAgg(figure)
    return figure


def write_report(metrics: dict, config: ShortRangeConfig | None, results: list[CaseResult], folder: Path,
                 long_range: tuple | None = None, clips: tuple | None = None, loop: list | None = None) -> None:
    """``folder/report.md`` and its PNGs (see the module doc); ``metrics`` from :func:`short_range_metrics`.

    config None: no short-range part. long_range: ``(LongRangeConfig, [LongRangeResult])`` for protocol
    (b)'s section, its numbers in ``metrics["long_range"]``. clips: ``(PosedClipsConfig, [CaseResult])`` for
    the posed clips' section, its numbers in ``metrics["posed_clips"]``. loop: ``[LoopResult]`` for the
    loop-closure section, its numbers in ``metrics["loop"]``.
    """
    sections = []
    if config is not None:
        for metric in _measured(metrics):
            _plot_curves(_agg_figure, metrics, metric, folder / f"{metric}.png")
        _plot_contact_sheet(_agg_figure, config, results, folder / "contact_sheet.png")
        title = "# viewgen eval: short range" if long_range is None else "# viewgen eval: short and long range"
        sections.append(_markdown(metrics, title))
    elif clips is not None:
        sections.append(f"# viewgen eval: posed clips\n\nviewgen {metrics['viewgen_version']}.\n")
    if clips is not None:
        clips_config, clip_results = clips
        block = metrics["posed_clips"]
        for metric in _measured(block):
            _plot_curves(_agg_figure, block, metric, folder / f"{CLIPS_PREFIX}{metric}.png")
        _plot_contact_sheet(_agg_figure, clips_config, clip_results, folder / f"{CLIPS_PREFIX}contact_sheet.png",
                            clips=True)
        sections.append(_clips_markdown(block))
    if long_range is not None:
        if config is None and clips is None:
            sections.append(f"# viewgen eval: long range\n\nviewgen {metrics['viewgen_version']}.\n")
        long_config, long_results = long_range
        sections.append(write_long_range_report(metrics["long_range"], long_config, long_results, folder,
                                                _agg_figure))
    if loop is not None:
        if not sections:
            sections.append(f"# viewgen eval: loop closure\n\nviewgen {metrics['viewgen_version']}.\n")
        sections.append(write_loop_report(metrics["loop"], loop, folder, _agg_figure))
    (folder / "report.md").write_text("\n".join(sections))
