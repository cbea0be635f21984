"""The protocols of ``viewgen eval``: run flights against ground truth and the baselines, and score them.

Protocol (a), **short range**: for each scene preset x flight seed, a ground-truth clip of the
synthetic world (:func:`~viewgen.evaluation.ground_truth.ground_truth_clip`, frame 0 plus ``N``
frames), a flight of the given pipeline started from the clip's frame 0 and flown along its
poses (:class:`~viewgen.control.replay.ReplayPath`), and the two baselines on the same poses
(:func:`~viewgen.evaluation.baselines.warp_nearest_fill`, :func:`~viewgen.evaluation.baselines.repeat_start_frame`).
Every generated frame ``k = 1..N`` is scored against ground truth frame ``k``: PSNR, SSIM,
sharpness relative to the ground truth's (1 = as sharp as the truth) and, when an LPIPS network
is handed in, LPIPS (:data:`LPIPS_METRIC`).

The same protocol runs on **posed clips** (RealEstate10K / ACID layout, real video):
:func:`run_clip_case` flies from a clip's frame 0 along its own poses, scaled into flight units
(:mod:`~viewgen.evaluation.posed_clip_truth`), and scores against its frames.

This is the one evaluation module that runs short-range flights, so it imports :mod:`viewgen.control`
(the replayed path); the pipeline itself is handed in. The metric modules beside it import
neither (``tests/test_layout.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from viewgen.control.replay import ReplayPath
from viewgen.data.synthetic.presets import PRESET_NAMES
from viewgen.evaluation.baselines import repeat_start_frame, warp_nearest_fill
from viewgen.evaluation.flight_stats import sharpness
from viewgen.evaluation.ground_truth import ground_truth_clip
from viewgen.evaluation.metrics import psnr, ssim

if TYPE_CHECKING:
    from viewgen.evaluation.posed_clip_truth import ClipTruth, PosedClipsConfig

__all__ = ["LPIPS_METRIC", "METHODS", "METRICS", "REPORT_FRAMES", "CaseResult", "FrameChoices", "ShortRangeConfig",
           "mean_curves", "run_clip_case", "run_short_range_case", "scored_metrics", "short_range_cases"]

METHODS = ("flight", "warp_nearest_fill", "repeat_start_frame")  # the flight first, then the baselines (c)
METRICS = ("psnr", "ssim", "sharpness")  # per frame; sharpness is relative to the ground truth's
LPIPS_METRIC = "lpips"  # per frame too, only when run_short_range_case is given an LPIPS network
REPORT_FRAMES = (1, 5, 10, 20, 50)  # the headline frames (those <= N)


class FrameChoices:
    """The frames protocol (a)'s configs report and show, from their ``num_frames`` and ``sheet_frames``."""

    num_frames: int
    sheet_frames: int

    @property
    def report_frames(self) -> tuple[int, ...]:
        """The headline frames that the flight reaches (``<= N``), at least frame ``N`` itself."""
        return tuple(k for k in REPORT_FRAMES if k <= self.num_frames) or (self.num_frames,)

    @property
    def sheet_indices(self) -> tuple[int, ...]:
        """About ``sheet_frames`` frame indices (1..N) kept for the contact sheet, evenly spread, N included."""
        count = min(self.sheet_frames, self.num_frames)
        return tuple(sorted({round(1 + i * (self.num_frames - 1) / max(count - 1, 1)) for i in range(count)}))


@dataclass(frozen=True)
class ShortRangeConfig(FrameChoices):
    """Protocol (a)'s setting.

    presets: scene presets (``coast``, ``hills``, ``mountains``); seeds: flight seeds (their paths);
    num_frames: ``N``, generated frames per case (frame 0, the start, is not scored);
    height, width: the resolution of ground truth, flight and baselines;
    sheet_frames: how many frames of each case to keep for the contact sheet (evenly spaced, last included).
    """

    presets: tuple[str, ...] = PRESET_NAMES
    seeds: tuple[int, ...] = (0,)
    num_frames: int = 20
    height: int = 160
    width: int = 256
    sheet_frames: int = 4

    def __post_init__(self) -> None:
        unknown = [name for name in self.presets if name not in PRESET_NAMES]
        if not self.presets or unknown:
            raise ValueError(f"presets must be some of {', '.join(PRESET_NAMES)}, got {', '.join(unknown) or 'none'}")
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be one or more whole numbers >= 0, got {self.seeds!r}")
        if isinstance(self.num_frames, bool) or not isinstance(self.num_frames, int) or self.num_frames < 1:
            raise ValueError(f"the number of frames must be a whole number >= 1, got {self.num_frames!r}")
        if min(self.height, self.width) < 16:
            raise ValueError(f"the resolution must be at least 16x16 (SSIM needs 11x11), "
                             f"got {self.height}x{self.width}")


@dataclass(frozen=True, eq=False)
class CaseResult:
    """One case of protocol (a): a preset x seed of the synthetic world, or a posed clip (``preset``
    its name, ``seed`` 0).

    scores: ``method -> metric -> [N]`` float64 per generated frame (index 0 is frame 1); the
        metrics are :data:`METRICS`, plus ``"lpips"`` when it was measured.
    sheet_truth, sheet_flight: ``[S, 3, H, W]`` RGB at ``config.sheet_indices`` (ground truth, flight).
    """

    preset: str
    seed: int
    scores: dict[str, dict[str, Tensor]] = field(repr=False)
    sheet_truth: Tensor = field(repr=False)
    sheet_flight: Tensor = field(repr=False)


def _score(frames: Tensor, truth: Tensor, lpips_model=None) -> dict[str, Tensor]:
    """``frames, truth [N, 3, H, W]`` -> ``metric -> [N]`` float64 (LPIPS too when ``lpips_model``)."""
    frames = frames.float().clamp(0.0, 1.0)
    scores = {"psnr": psnr(frames, truth).double(), "ssim": ssim(frames, truth).double(),
              "sharpness": sharpness(frames, truth).double()}
    if lpips_model is not None:
        scores[LPIPS_METRIC] = lpips_model(frames, truth.float()).double()
    return scores


@torch.no_grad()
def run_short_range_case(pipeline, preset: str, seed: int, config: ShortRangeConfig,
                         lpips_model=None) -> CaseResult:
    """Fly ``pipeline`` (a :class:`~viewgen.pipelines.FlyThroughPipeline` at ``config``'s size) along
    the ground-truth clip of ``preset`` / ``seed`` and score it and the baselines; see the module doc.

    lpips_model: an LPIPS network (:func:`viewgen.evaluation.perceptual.load_lpips`) to score LPIPS
    too; its input must be at least 31x31.
    """
    clip = ground_truth_clip(preset, seed, config.height, config.width, config.num_frames + 1)
    scores, sheet_truth, sheet_flight = _fly_and_score(pipeline, clip.rgbd, clip.cam_from_world, clip.intrinsics,
                                                       config.sheet_indices, lpips_model)
    return CaseResult(preset, seed, scores, sheet_truth, sheet_flight)


@torch.no_grad()
def run_clip_case(pipeline, truth: ClipTruth, config: PosedClipsConfig, lpips_model=None) -> CaseResult:
    """Protocol (a) on a posed clip (:func:`~viewgen.evaluation.posed_clip_truth.clip_truth`): fly ``pipeline``
    from its frame 0 along its scaled poses and score it and the baselines against its frames.

    The result's ``preset`` is the clip's name and its ``seed`` 0 (a clip has no flight seed).
    """
    scores, sheet_truth, sheet_flight = _fly_and_score(pipeline, truth.rgbd, truth.cam_from_world, truth.intrinsics,
                                                       config.sheet_indices, lpips_model)
    return CaseResult(truth.name, 0, scores, sheet_truth, sheet_flight)


def _fly_and_score(pipeline, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor, sheet_indices: tuple[int, ...],
                   lpips_model=None) -> tuple[dict[str, dict[str, Tensor]], Tensor, Tensor]:
    """Fly from ``rgbd[0]`` along ``cam_from_world [N + 1, 3, 4]`` (flight units, frame 0 first), run the
    baselines on the same poses, and score frames 1..N against ``rgbd[1:, :3]``.

    Returns ``(method -> metric -> [N], truth [S, 3, H, W], flight [S, 3, H, W])`` at ``sheet_indices``.
    """
    truth = rgbd[1:, :3]
    num_frames = truth.shape[0]
    flight = pipeline(rgbd[:1], num_frames=num_frames, intrinsics=intrinsics, cam_from_world=cam_from_world[0],
                      controller=ReplayPath(cam_from_world))
    flown = flight.rgbd[:, :3].detach().float().cpu()
    outputs = {
        "flight": flown,
        "warp_nearest_fill": warp_nearest_fill(rgbd[0], cam_from_world, intrinsics)[1:, :3],
        "repeat_start_frame": repeat_start_frame(rgbd[0], cam_from_world)[1:, :3],
    }
    scores = {method: _score(outputs[method], truth, lpips_model) for method in METHODS}
    keep = torch.tensor(sheet_indices) - 1
    return scores, truth[keep].clone(), flown[keep].clamp(0.0, 1.0).clone()


def short_range_cases(config: ShortRangeConfig) -> list[tuple[str, int]]:
    """The cases of protocol (a), in the order they run: ``[(preset, seed), ...]``."""
    return [(preset, seed) for preset in config.presets for seed in config.seeds]


def scored_metrics(results: list[CaseResult]) -> tuple[str, ...]:
    """The metrics every case has: :data:`METRICS`, plus ``"lpips"`` when all cases measured it."""
    with_lpips = bool(results) and all(LPIPS_METRIC in r.scores[METHODS[0]] for r in results)
    return METRICS + ((LPIPS_METRIC,) if with_lpips else ())


def mean_curves(results: list[CaseResult]) -> dict[str, dict[str, Tensor]]:
    """``method -> metric -> [N]``: the mean over cases of every frame's score (:func:`scored_metrics`)."""
    return {method: {metric: torch.stack([r.scores[method][metric] for r in results]).mean(dim=0)
                     for metric in scored_metrics(results)} for method in METHODS}
