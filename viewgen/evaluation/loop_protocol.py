"""The loop-closure protocol of ``viewgen eval``: fly away and come back, then compare with the start.

For each scripted path that returns to its start (``circle``, ``there-and-back``: :mod:`viewgen.control.scripted`)
x built-in sample (1 coast, 2 hills, 3 mountains) x memory, the pipeline flies exactly one period from the
sample; the frame it shows back at the start camera (frame ``period``) is compared with frame 0 by
:func:`~viewgen.evaluation.loop_closure.loop_closure_error`: PSNR of the RGB (dB) and the mean absolute disparity
difference. A flight that remembers the world shows on return what it showed at the start.

The memories (:data:`MEMORIES`), as ``viewgen fly --memory`` names them:

* ``default``: the pipeline's own memory (the weight-free flight: frame 0 set into its procedural world prior);
* ``last-frame``: every frame warps the previous one (:class:`~viewgen.memory.LastFrame`, the paper);
* ``world``: the persistent world (:class:`~viewgen.memory.world.WorldMemory`), with the pipeline's own world
  prior as its fallback when it has one (the weight-free flight), as ``viewgen fly --memory world`` does.

This module flies pipelines with those memories, so it imports :mod:`viewgen.memory` (``tests/test_layout.py``
lists it); the pipeline itself is handed in. :func:`loop_metrics` gives the ``loop`` block of ``metrics.json``
and :func:`write_loop_report` the report's section and its strips ``loop_<path>.png`` (per sample: frame 0
beside the returned frame of every memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from viewgen.data.samples import SAMPLE_NAMES, load_sample
from viewgen.evaluation.loop_closure import loop_closure_error
from viewgen.memory import WorldPrior
from viewgen.memory.world import memory_named

__all__ = ["LOOP_FILES", "MEMORIES", "PATHS", "LoopConfig", "LoopResult", "loop_cases", "loop_means", "loop_metrics",
           "make_memory", "run_loop_case", "run_loop_protocol", "write_loop_report"]

PATHS = ("circle", "there-and-back")  # the scripted paths that come back to their start after one period
MEMORIES = ("default", "last-frame", "world")
LOOP_FILES = tuple(f"loop_{path}.png" for path in PATHS)  # the strips the report shows
SCORES = {"psnr": "dB of the returned frame's RGB against frame 0's, higher is better (null: identical)",
          "disparity_error": "mean absolute disparity difference, returned frame vs frame 0; 0 = the same geometry"}


@dataclass(frozen=True)
class LoopConfig:
    """The loop-closure protocol's setting.

    paths: some of :data:`PATHS`; samples: built-in samples ``1..3``; memories: some of :data:`MEMORIES`;
    period: frames of one lap (the returned frame is frame ``period``); radius: the circle's (depth units);
    distance: how far out ``there-and-back`` flies (depth units); height, width: the flight's resolution.
    """

    paths: tuple[str, ...] = PATHS
    samples: tuple[int, ...] = (1, 2, 3)
    memories: tuple[str, ...] = MEMORIES
    period: int = 60
    radius: float = 0.5
    distance: float = 1.0
    height: int = 160
    width: int = 256

    def __post_init__(self) -> None:
        for name, chosen, valid in (("paths", self.paths, PATHS), ("memories", self.memories, MEMORIES),
                                    ("samples", self.samples, (1, 2, 3))):
            if not chosen or any(value not in valid for value in chosen):
                raise ValueError(f"loop {name} must be some of {', '.join(map(str, valid))}, got {chosen!r}")
        if isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 2:
            raise ValueError(f"the loop period must be a whole number of frames >= 2, got {self.period!r}")
        if not all(math.isfinite(value) and value != 0 for value in (self.radius, self.distance)):
            raise ValueError(f"the loop radius and distance must be finite and not 0, got {self.radius}, "
                             f"{self.distance}")
        if min(self.height, self.width) < 16:
            raise ValueError(f"the loop resolution must be at least 16x16, got {self.height}x{self.width}")

    def path_options(self, path: str) -> dict:
        """The scripted path's config fields: ``period`` and the circle's ``radius`` or the ``distance`` out."""
        return {"period": self.period, **({"radius": self.radius} if path == "circle" else {"distance": self.distance})}


@dataclass(frozen=True, eq=False)
class LoopResult:
    """One flight of the protocol: ``path`` x ``sample`` x ``memory``.

    psnr_db, disparity_error: the returned frame against frame 0 (:func:`loop_closure_error`).
    first_rgb, returned_rgb: ``[3, H, W]`` float32 RGB of frame 0 and frame ``period`` (CPU).
    """

    path: str
    sample: int
    memory: str
    psnr_db: float
    disparity_error: float
    first_rgb: Tensor = field(repr=False)
    returned_rgb: Tensor = field(repr=False)


def loop_cases(config: LoopConfig) -> list[tuple[str, int, str]]:
    """The flights of the protocol in the order they run: ``[(path, sample, memory), ...]``."""
    return [(path, sample, memory) for path in config.paths for sample in config.samples for memory in config.memories]


def make_memory(name: str, own):
    """The memory ``name`` (:data:`MEMORIES`) for a pipeline whose own memory is ``own``: ``viewgen fly --memory``'s
    choice (:func:`~viewgen.memory.world.memory_named`; ``own`` is the ``world`` memory's fallback when it is the
    weight-free flight's :class:`~viewgen.memory.WorldPrior`)."""
    return memory_named(name, own, weight_free=isinstance(own, WorldPrior))


@torch.no_grad()
def run_loop_case(pipeline, path: str, sample: int, memory: str, config: LoopConfig,
                  progress: Callable[[int], None] | None = None) -> LoopResult:
    """Fly ``pipeline`` (a :class:`~viewgen.pipelines.FlyThroughPipeline` at ``config``'s size) one period of
    ``path`` from built-in ``sample`` remembering with ``memory``, and compare frame ``period`` with frame 0.

    The pipeline's own memory is put back afterwards. progress: called with 1 after every frame flown.
    """
    if tuple(pipeline.config.image_size) != (config.height, config.width):
        raise ValueError(f"the pipeline flies at {tuple(pipeline.config.image_size)}, the loop protocol at "
                         f"{(config.height, config.width)}")
    start, own = load_sample(sample), pipeline.memory
    pipeline.memory = make_memory(memory, own)
    try:
        first = pipeline.reset(start.rgbd, intrinsics=start.intrinsics, controller=path, **config.path_options(path))
        returned = first
        for _ in range(config.period):
            returned = pipeline.step()
            if progress is not None:
                progress(1)
    finally:
        pipeline.memory = own
    first_rgbd, returned_rgbd = (frame.rgbd.detach().float().cpu() for frame in (first, returned))
    error = loop_closure_error(first_rgbd, returned_rgbd)
    return LoopResult(path, sample, memory, float(error.psnr_db[0]), float(error.disparity_error[0]),
                      first_rgbd[0, :3].clamp(0, 1), returned_rgbd[0, :3].clamp(0, 1))


def run_loop_protocol(pipeline, config: LoopConfig, progress: Callable[[int], None] | None = None) -> list[LoopResult]:
    """Every flight of :func:`loop_cases`; ``progress`` is called with 1 after every frame (``period`` per flight)."""
    return [run_loop_case(pipeline, *case, config, progress) for case in loop_cases(config)]


def loop_means(results: list[LoopResult]) -> dict[str, dict[str, dict[str, float]]]:
    """``path -> memory -> {"psnr", "disparity_error"}``: the means over samples (inf PSNR stays inf)."""
    means: dict[str, dict[str, dict[str, float]]] = {}
    for path, memory in dict.fromkeys((r.path, r.memory) for r in results):
        chosen = [r for r in results if (r.path, r.memory) == (path, memory)]
        means.setdefault(path, {})[memory] = {
            "psnr": sum(r.psnr_db for r in chosen) / len(chosen),
            "disparity_error": sum(r.disparity_error for r in chosen) / len(chosen)}
    return means


def _number(value: float) -> float | None:
    return float(f"{value:.6g}") if math.isfinite(value) else None


def loop_metrics(config: LoopConfig, results: list[LoopResult], refiner: str, seed: int | None,
                 version: str) -> dict:
    """The ``loop`` block of ``metrics.json``: the setting, ``means[path][memory]`` and every flight's scores.

    Floats have 6 significant digits; a non-finite one (an identical return's PSNR) is ``null``.
    """
    means = loop_means(results)
    return {
        "protocol": "loop",
        "description": "fly one period of a path that returns to its start; the returned frame (index = period) "
                       "vs frame 0",
        "viewgen_version": version,
        "resolution": [config.height, config.width],
        "paths": list(config.paths),
        "period": config.period,
        "radius": config.radius,
        "distance": config.distance,
        "samples": list(config.samples),
        "sample_names": [SAMPLE_NAMES[i - 1] for i in config.samples],
        "memories": list(config.memories),
        "refiner": refiner,
        "seeds": [seed],
        "scores": dict(SCORES),
        "means": {path: {memory: {name: _number(value) for name, value in scores.items()}
                         for memory, scores in by_memory.items()} for path, by_memory in means.items()},
        "cases": [{"path": r.path, "sample": r.sample, "sample_name": SAMPLE_NAMES[r.sample - 1], "memory": r.memory,
                   "psnr": _number(r.psnr_db), "disparity_error": _number(r.disparity_error)} for r in results],
    }


def _cell(value: float | None, digits: int) -> str:
    return "identical" if value is None else f"{value:.{digits}f}"


def _table(block: dict) -> list[str]:
    """One row per path x memory: the mean and every sample's PSNR (dB) and disparity error."""
    names = block["sample_names"]
    lines = ["| path | memory | mean PSNR (dB) | mean disparity error | " +
             " | ".join(f"{name} PSNR / disparity" for name in names) + " |",
             "|---|---|---|---|" + "---|" * len(names)]
    for path, by_memory in block["means"].items():
        for memory, mean in by_memory.items():
            cases = {c["sample_name"]: c for c in block["cases"] if (c["path"], c["memory"]) == (path, memory)}
            cells = [f"{_cell(cases[n]['psnr'], 2)} / {_cell(cases[n]['disparity_error'], 4)}" for n in names]
            lines.append(f"| {path} | {memory} | {_cell(mean['psnr'], 2)} | {_cell(mean['disparity_error'], 4)} | "
                         + " | ".join(cells) + " |")
    return lines


def _markdown(block: dict) -> list[str]:
    height, width = block["resolution"]
    sizes = f"circle radius {block['radius']:g}, there-and-back distance {block['distance']:g}"
    return [
        "## Loop closure", "",
        f"Scripted flights of one period ({block['period']} frames) that return to the start camera: "
        f"{', '.join(block['paths'])} ({sizes}; depth units), from samples "
        f"{', '.join(f'{i} {n}' for i, n in zip(block['samples'], block['sample_names']))} at {height}x{width}; "
        f"memories {', '.join(block['memories'])}; refiner: {block['refiner']}. The frame shown back at the start "
        "(frame = period) against frame 0: PSNR (higher is better) and mean absolute disparity error (0 = the "
        "same geometry).", "",
        *_table(block), "",
        *[f"![{path}: frame 0, then the returned frame of each memory](loop_{path}.png)" for path in block["paths"]],
        "", "All numbers: `metrics.json`. How to read them: docs/evaluation.md.", "",
    ]


def _plot_strip(new_figure, results: list[LoopResult], path: str, out: Path) -> None:
    """``out``: one row per sample, frame 0 then the returned frame of every memory (scores in the titles)."""
    chosen = [r for r in results if r.path == path]
    samples, memories = list(dict.fromkeys(r.sample for r in chosen)), list(dict.fromkeys(r.memory for r in chosen))
    height, width = chosen[0].first_rgb.shape[-2:]
    figure = new_figure(figsize=(2.0 * (1 + len(memories)) * width / height, 2.3 * len(samples)), dpi=100)
    axes = figure.subplots(len(samples), 1 + len(memories), squeeze=False)
    for row, sample in enumerate(samples):
        by_memory = {r.memory: r for r in chosen if r.sample == sample}
        panels = [(by_memory[memories[0]].first_rgb, f"{sample} {SAMPLE_NAMES[sample - 1]}: frame 0")]
        panels += [(r.returned_rgb, f"returned, {name}: {_cell(_number(r.psnr_db), 1)} dB")
                   for name, r in by_memory.items()]
        for axis, (image, title) in zip(axes[row], panels):
            axis.imshow(image.permute(1, 2, 0).numpy())
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(title, fontsize=8)
    figure.suptitle(f"{path}: frame 0 and the frame shown back at the start after one period", fontsize=9)
    figure.tight_layout()
    figure.savefig(out, metadata={"Software": None})


def write_loop_report(block: dict, results: list[LoopResult], folder: Path, new_figure) -> str:
    """Write ``loop_<path>.png`` for every path into ``folder``; return the report section (markdown).
    ``new_figure`` makes an Agg-backed matplotlib ``Figure`` (no pyplot state)."""
    for path in block["paths"]:
        _plot_strip(new_figure, results, path, folder / f"loop_{path}.png")
    return "\n".join(_markdown(block))
