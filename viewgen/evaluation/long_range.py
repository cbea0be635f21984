"""Protocol (b), **long range**: autopilot flights of hundreds of frames from the built-in samples.

For each sample (1 = coast, 2 = hills, 3 = mountains; :mod:`viewgen.evaluation.sample_worlds`):

1. **The flight**: the pipeline flies ``N`` frames from the sample with its own autopilot (no
   steering). Every frame is measured as it comes (:class:`FlightLog`; nothing but the truth
   frames is kept): sharpness and high-frequency energy, sky fraction, color drift, flicker,
   frame change, and its pose.
2. **Ground truth** every ``truth_stride``-th frame, one of two readings (``config.truth``):
   ``"flight"`` (the default), the same autopilot flying the sample's world itself
   (:mod:`viewgen.evaluation.truth_flight`: what a flight that knows the world sees at the same
   frame), or ``"poses"``, the sample's world rendered from the flight's own poses
   (:func:`~viewgen.evaluation.sample_worlds.world_poses`; far out these are often inside land
   the flight could not know). Either is formed as frame 0 was (``config.truth_resolution``): at
   the sample's size, resized as the flight resized its input. Against it: sharpness and detail
   ratios, the sky of the truth, how much of the view is new (the flight's vs the truth's), and
   the patch distance per frame range with its noise floor (:mod:`viewgen.evaluation.long_range_stats`).
3. **Attitude and clearance** of every frame (pitch, roll, upside-down; height above the world's
   ground), for the autopilot flight and for a **steered** flight (``steer_frames`` frames under
   :func:`steering_offset`, the same pipeline): sane attitude must hold for both.

Everything is deterministic: the same pipeline and config give the same numbers. This module
runs flights but imports no pipeline (the pipeline is handed in, as in protocol (a)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from viewgen.evaluation.flight_stats import (
    _high_frequency,
    _laplacian_variance,
    compensated_flicker,
    sky_fraction,
)
from viewgen.evaluation.long_range_stats import attitude_stats, longest_run, range_distances, window_stats
from viewgen.evaluation.sample_worlds import (
    TRUTH_RESOLUTIONS,
    SampleWorld,
    clearance,
    raise_above_ground,
    render_truth,
    sample_world,
    shown_clearance,
    world_poses,
)
from viewgen.evaluation.truth_flight import TruthFlight, fly_truth, sibling_world
from viewgen.procedural.filters import luma
from viewgen.rendering import warp_rgbd

__all__ = ["NEW_CONTENT_COVERAGE", "TRUTH_READINGS", "FlightLog", "LongRangeConfig", "LongRangeResult",
           "progress_frames", "run_long_range_case", "steering_offset"]

TRUTH_READINGS = ("flight", "poses")  # LongRangeConfig.truth
NEW_CONTENT_COVERAGE = 0.5  # a pixel is new where the warp's soft coverage sqrt(m) is below this
_STEER_PHASES = ((1.0, 0.0), (0.0, 0.0), (-1.0, 0.0), (0.0, 0.0), (0.0, -1.0), (0.0, 0.0), (0.0, 1.0), (0.0, 0.0))


def _whole(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


@dataclass(frozen=True)
class LongRangeConfig:
    """Protocol (b)'s setting.

    samples: built-in samples ``1..3``; num_frames: ``N`` generated frames per flight; window: ``W``
    frames per statistics window (frames 1..W, W+1..2W, ...; a last partial window counts);
    height, width: the flight's and the truth's resolution; truth_stride: the truth is rendered at
    frames ``stride, 2 stride, ...`` (<= window); distance_ranges: inclusive ``(first, last)``
    frame ranges of the patch distance (clipped to N); new_content_lag: frames between the two
    views of the new-content measure (a multiple of truth_stride); steer_frames: frames of the
    steered flight (0 = none); sheet_frames: frames per flight on the contact sheet;
    frozen_epsilon: a frame change below this is a still frame; skyless_fraction: a frame with
    less sky than this has none; truth: ``"flight"`` (the autopilot flying the sample's world) or
    ``"poses"`` (the world at the flight's own poses); see the module doc; truth_min_clearance:
    with ``"poses"``, the truth's camera is kept at least this fraction of frame 0's height above
    the world's ground (lifted straight up where the flight is lower); steer_size: the size of the
    renders the truth flight's autopilot steers on; sibling_floor: also fly the same autopilot over a
    sibling world (:func:`~viewgen.evaluation.truth_flight.sibling_world`) for the family reading of
    the patch distance (``floor_sibling``, ``ratio_sibling``); truth_resolution: how the truth frames
    are formed (:func:`~viewgen.evaluation.sample_worlds.render_truth`): ``"input"`` (the default), at
    the sample's size and resized as the flight resized frame 0, or ``"flight"``, rendered at the
    flight's size (sharper than frame 0 itself; what the sessions before 16 measured).
    """

    samples: tuple[int, ...] = (1, 2, 3)
    num_frames: int = 1000
    window: int = 100
    height: int = 160
    width: int = 256
    truth_stride: int = 10
    distance_ranges: tuple[tuple[int, int], ...] = ((100, 299), (300, 1000))
    new_content_lag: int = 10
    steer_frames: int = 120
    sheet_frames: int = 8
    frozen_epsilon: float = 1e-3
    skyless_fraction: float = 0.005
    truth: str = "flight"
    truth_min_clearance: float = 0.5
    steer_size: tuple[int, int] = (40, 64)
    sibling_floor: bool = False
    truth_resolution: str = "input"

    def __post_init__(self) -> None:
        if self.truth not in TRUTH_READINGS:
            raise ValueError(f"truth must be one of {', '.join(TRUTH_READINGS)}, got {self.truth!r}")
        if self.truth_resolution not in TRUTH_RESOLUTIONS:
            raise ValueError(f"truth_resolution must be one of {', '.join(TRUTH_RESOLUTIONS)}, "
                             f"got {self.truth_resolution!r}")
        if not self.samples or any(isinstance(s, bool) or s not in (1, 2, 3) for s in self.samples):
            raise ValueError(f"samples must be some of 1, 2, 3, got {self.samples!r}")
        frames = _whole(self.num_frames, "the number of frames", 1)
        _whole(self.window, "the window", 1)
        if self.window > frames:
            raise ValueError(f"the window ({self.window} frames) must not be longer than the flight ({frames} frames)")
        if not 1 <= _whole(self.truth_stride, "truth_stride", 1) <= self.window:
            raise ValueError(f"truth_stride must be between 1 and the window ({self.window}), got {self.truth_stride}")
        if _whole(self.new_content_lag, "new_content_lag", 1) % self.truth_stride:
            raise ValueError(f"new_content_lag ({self.new_content_lag}) must be a multiple of truth_stride "
                             f"({self.truth_stride})")
        if any(not 1 <= first <= last for first, last in self.distance_ranges):
            raise ValueError(f"distance_ranges must be (first, last) with 1 <= first <= last, "
                             f"got {self.distance_ranges}")
        _whole(self.steer_frames, "steer_frames", 0)
        _whole(self.sheet_frames, "sheet_frames", 1)
        if min(self.height, self.width) < 16:
            raise ValueError(f"the resolution must be at least 16x16, got {self.height}x{self.width}")

    @property
    def num_windows(self) -> int:
        return -(-self.num_frames // self.window)

    @property
    def truth_frames(self) -> tuple[int, ...]:
        """The frames (1..N) where the truth is rendered."""
        return tuple(range(self.truth_stride, self.num_frames + 1, self.truth_stride))

    @property
    def distance_frames(self) -> tuple[int, ...]:
        """The truth frames inside the distance ranges."""
        return tuple(k for k in self.truth_frames if any(a <= k <= b for a, b in self.distance_ranges))

    @property
    def sheet_indices(self) -> tuple[int, ...]:
        """About ``sheet_frames`` truth frames spread over the flight, the last one included."""
        truth = self.truth_frames
        count = min(self.sheet_frames, len(truth))
        return tuple(sorted({truth[round(i * (len(truth) - 1) / max(count - 1, 1))] for i in range(count)}))


def steering_offset(index: int, frames: int) -> tuple[float, float]:
    """The steered flight's offset at frame ``index`` (1..frames): eight equal phases, hard right,
    straight, hard left, straight, hard up, straight, hard down, straight (``(dx, dy)``, +x right, +y down).
    """
    phase = max(1, frames // len(_STEER_PHASES))
    return _STEER_PHASES[min((index - 1) // phase, len(_STEER_PHASES) - 1)]


@dataclass(eq=False)
class FlightLog:
    """What one flight left behind, filled frame by frame (all per-frame lists hold frames 1..N).

    laplacian_var, high_frequency, sky, mean_rgb, contrast, flicker, change, shown_clearance: floats per frame;
    poses: ``[3, 4]`` flight poses (units of ``s``); truth: truth frame -> dict of that frame's
    ``flight_rgb`` / ``truth_rgb`` ``[3, H, W]`` and its scalar measures; start_mean_rgb ``[3]``
    and start_contrast: frame 0's mean RGB and luma standard deviation; truth_min_clearance_m: metres the
    truth's camera keeps above the world's ground.
    """

    laplacian_var: list[float] = field(default_factory=list)
    high_frequency: list[float] = field(default_factory=list)
    sky: list[float] = field(default_factory=list)
    mean_rgb: list[Tensor] = field(default_factory=list)
    contrast: list[float] = field(default_factory=list)
    flicker: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    shown_clearance: list[float] = field(default_factory=list)
    poses: list[Tensor] = field(default_factory=list)
    truth: dict[int, dict] = field(default_factory=dict)
    truth_min_clearance_m: float = 0.0
    start_mean_rgb: Tensor | None = None
    start_contrast: float = 0.0


@dataclass(frozen=True, eq=False)
class LongRangeResult:
    """One sample's long-range flights (see the module doc).

    sample: the :class:`SampleWorld`; windows: ``stat -> [num_windows]`` float64
    (:data:`~viewgen.evaluation.long_range_stats.WINDOW_STATS`); distances: per distance range,
    :func:`~viewgen.evaluation.long_range_stats.range_distances`' dicts; attitude, steered:
    per-frame :func:`~viewgen.evaluation.long_range_stats.attitude_stats` of the autopilot and the
    steered flight (``steered`` also has ``sky_fraction``); longest_frozen_run, longest_skyless_run:
    frames; start_truth_error: mean absolute RGB difference between the truth rendered at frame 0's
    pose and frame 0 (checks the pose map); sheet_flight, sheet_truth: ``[F, 3, H, W]`` at
    ``config.sheet_indices``; set_frames: ``(flight, truth)`` uint8 ``[M, 3, H, W]`` at the truth
    frames inside the distance ranges, for FID / KID (None unless asked or when there are none).
    """

    sample: SampleWorld
    windows: dict[str, Tensor]
    distances: list[dict]
    attitude: dict[str, Tensor]
    steered: dict[str, Tensor]
    longest_frozen_run: int
    longest_skyless_run: int
    start_truth_error: float
    sheet_flight: Tensor
    sheet_truth: Tensor
    set_frames: tuple[Tensor, Tensor] | None = None


def _new_fraction(rgbd_from: Tensor, pose_from: Tensor, pose_to: Tensor, intrinsics: Tensor) -> float:
    """Fraction of the view from ``pose_to`` that ``rgbd_from [1, 4, H, W]`` seen from ``pose_from`` does not cover."""
    _, mask = warp_rgbd(rgbd_from, pose_from[None], pose_to[None], intrinsics)
    return float((mask.clamp_min(0.0).sqrt() < NEW_CONTENT_COVERAGE).float().mean())


def _observe(log: FlightLog, sample: SampleWorld, rgbd: Tensor, previous: Tensor, pose: Tensor) -> None:
    """Log one generated frame ``rgbd [1, 4, H, W]`` (pose ``[3, 4]``) after ``previous [1, 4, H, W]``."""
    rgb = rgbd[:, :3]
    log.shown_clearance.append(shown_clearance(sample, rgbd, pose, sample.intrinsics))
    log.laplacian_var.append(float(_laplacian_variance(rgb)[0]))
    log.high_frequency.append(float(_high_frequency(rgb, 1.0)[0]))
    log.sky.append(float(sky_fraction(rgbd[:, 3:])[0]))
    log.mean_rgb.append(rgb.mean(dim=(0, 2, 3)))
    log.contrast.append(float(luma(rgb).std()))
    difference = (rgbd - previous).abs().mean(dim=(0, 2, 3))  # [4]: R, G, B, disparity
    log.flicker.append(float(difference[:3].mean()))
    log.change.append(max(float(difference[:3].mean()), float(difference[3])))
    log.poses.append(pose)


def _truth_at(log: FlightLog, sample: SampleWorld, config: LongRangeConfig, k: int, pose: Tensor,
              truth_flight: TruthFlight | None) -> tuple[Tensor, Tensor, bool]:
    """The truth of frame ``k``: ``(rgbd [1, 4, H, W], its flight pose [3, 4], whether it was raised)``.

    From ``truth_flight`` when given (``config.truth == "flight"``), else rendered at the flight's
    ``pose``, lifted above the world's ground where the flight is too low.
    """
    if truth_flight is not None:
        return truth_flight.frames[k], truth_flight.poses[k], False
    truth_pose, raised = raise_above_ground(sample, world_poses(sample, pose[None]), log.truth_min_clearance_m)
    truth_rgb, truth_disparity = render_truth(sample, truth_pose, config.height, config.width,
                                              resolution=config.truth_resolution)
    return torch.cat([truth_rgb, truth_disparity], dim=1), pose, bool(raised[0])


def _observe_truth(log: FlightLog, sample: SampleWorld, config: LongRangeConfig, k: int, frames: dict,
                   truth_flight: TruthFlight | None) -> None:
    """Take the truth of frame ``k`` and log the measures against it; ``frames``: index -> (rgbd, pose)."""
    rgbd, pose = frames[k]
    truth_rgbd, truth_pose, raised = _truth_at(log, sample, config, k, pose, truth_flight)
    truth_rgb, truth_disparity = truth_rgbd[:, :3], truth_rgbd[:, 3:]
    intrinsics = sample.intrinsics
    previous_rgbd, previous_pose = frames[k - 1]
    entry = {"flight_rgb": rgbd[0, :3].clone(), "truth_rgb": truth_rgb[0], "truth_rgbd": truth_rgbd,
             "truth_pose": truth_pose,
             "truth_laplacian_var": float(_laplacian_variance(truth_rgb)[0]),
             "truth_high_frequency": float(_high_frequency(truth_rgb, 1.0)[0]),
             "truth_sky": float(sky_fraction(truth_disparity)[0]), "truth_raised": raised,
             "compensated_flicker": float(compensated_flicker(
                 torch.cat([previous_rgbd[:, :3], rgbd[:, :3]]), torch.cat([previous_rgbd[:, 3:], rgbd[:, 3:]]),
                 torch.stack([previous_pose, pose]), intrinsics)[0])}
    lag = k - config.new_content_lag
    if lag >= 0:
        lag_rgbd, lag_pose = frames[lag]
        entry["new_content"] = _new_fraction(lag_rgbd, lag_pose, pose, intrinsics)
        lag_truth = log.truth[lag]
        entry["truth_new_content"] = _new_fraction(lag_truth["truth_rgbd"], lag_truth["truth_pose"], truth_pose,
                                                   intrinsics)
    log.truth[k] = entry


def _fly(pipeline, sample: SampleWorld, num_frames: int, on_frame: Callable[[int, Tensor, Tensor], None],
         offset=(0.0, 0.0)) -> Tensor:
    """Fly ``num_frames`` from ``sample``; call ``on_frame(k, rgbd [1, 4, H, W] float32 CPU, pose [3, 4])``
    for k = 0 (the start) .. N; return frame 0's RGBD."""
    frames = pipeline.iter_frames(sample.rgbd, num_frames, intrinsics=sample.intrinsics, offset=offset)
    start = pipeline.frame  # iter_frames resets now
    start_rgbd = start.rgbd.detach().float().cpu()
    on_frame(0, start_rgbd, start.cam_from_world.detach().double().cpu())
    for frame in frames:
        on_frame(frame.index, frame.rgbd.detach().float().cpu().clamp(0.0, 1.0),
                 frame.cam_from_world.detach().double().cpu())
    return start_rgbd


def _autopilot_flight(pipeline, sample: SampleWorld, config: LongRangeConfig, progress,
                      truth_flight: TruthFlight | None) -> tuple[FlightLog, Tensor]:
    """The autopilot flight with its truth frames: ``(log, start rgbd [1, 4, H, W])``."""
    log = FlightLog()
    truth_set = set(config.truth_frames)
    keep = {}  # the frames still needed: the last one, and truth frames until the new-content lag has passed
    log.truth[0] = {}

    def on_frame(k: int, rgbd: Tensor, pose: Tensor) -> None:
        if k == 0:
            start_pose = world_poses(sample, pose[None])
            log.truth_min_clearance_m = config.truth_min_clearance * float(clearance(sample, start_pose)[0])
            truth_rgb, truth_disparity = render_truth(sample, start_pose, config.height, config.width,
                                                      resolution=config.truth_resolution)
            log.truth[0] = {"truth_rgbd": torch.cat([truth_rgb, truth_disparity], dim=1), "truth_rgb": truth_rgb[0],
                            "truth_pose": pose}
            log.start_mean_rgb, log.start_contrast = rgbd[0, :3].mean(dim=(1, 2)), float(luma(rgbd[:, :3]).std())
        else:
            _observe(log, sample, rgbd, keep[k - 1][0], pose)
        keep[k] = (rgbd, pose)
        if k in truth_set:
            _observe_truth(log, sample, config, k, keep, truth_flight)
        for old in [i for i in keep if i < k - config.new_content_lag or (i < k and i % config.truth_stride)]:
            del keep[old]
        for old in [i for i in log.truth if i < k - config.new_content_lag]:
            log.truth[old].pop("truth_rgbd", None)
        if progress is not None and k:
            progress(1)

    start = _fly(pipeline, sample, config.num_frames, on_frame)
    return log, start


def _steered_flight(pipeline, sample: SampleWorld, config: LongRangeConfig, progress) -> tuple[Tensor, Tensor, Tensor]:
    """The steered flight: ``(poses [S, 3, 4] float64, sky fraction [S], shown clearance [S])``."""
    poses, sky, shown = [], [], []

    def on_frame(k: int, rgbd: Tensor, pose: Tensor) -> None:
        if k:
            poses.append(pose)
            sky.append(float(sky_fraction(rgbd[:, 3:])[0]))
            shown.append(shown_clearance(sample, rgbd, pose, sample.intrinsics))
            if progress is not None:
                progress(1)

    if config.steer_frames:
        _fly(pipeline, sample, config.steer_frames, on_frame, offset=lambda k: steering_offset(k, config.steer_frames))
    return (torch.stack(poses) if poses else torch.zeros(0, 3, 4, dtype=torch.float64),
            torch.tensor(sky, dtype=torch.float64), torch.tensor(shown, dtype=torch.float64))


def _to_uint8(images: list[Tensor]) -> Tensor:
    return (torch.stack(images).clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def _set_frames(log: FlightLog, config: LongRangeConfig) -> tuple[Tensor, Tensor] | None:
    """``(flight, truth)`` uint8 images at the truth frames inside the distance ranges (None if there are none)."""
    chosen = config.distance_frames
    if not chosen:
        return None
    return (_to_uint8([log.truth[k]["flight_rgb"] for k in chosen]),
            _to_uint8([log.truth[k]["truth_rgb"] for k in chosen]))


@torch.no_grad()
def run_long_range_case(pipeline, sample: int, config: LongRangeConfig, *, keep_sets: bool = False,
                        progress: Callable[[int], None] | None = None) -> LongRangeResult:
    """Fly ``pipeline`` (a :class:`~viewgen.pipelines.FlyThroughPipeline` at ``config``'s size) from built-in
    ``sample`` with its autopilot for ``config.num_frames`` frames (and steered for ``config.steer_frames``),
    take the truth (``config.truth``: the same autopilot flying the sample's world, or the world at the
    flight's poses) and measure both; see the module doc.

    keep_sets: keep the distance ranges' frames as uint8 for FID / KID (``set_frames``).
    progress: called with 1 after every frame flown (the truth flight's too, :func:`progress_frames`).
    """
    world = sample_world(sample)
    truth_flight = None
    if config.truth == "flight":
        truth_flight = fly_truth(world, pipeline.config.autopilot, config.num_frames, config.truth_frames,
                                 (config.height, config.width), config.steer_size, progress, config.truth_resolution)
    log, start = _autopilot_flight(pipeline, world, config, progress, truth_flight)
    sibling = None
    if config.sibling_floor:
        flown = fly_truth(sibling_world(world), pipeline.config.autopilot, config.num_frames, config.distance_frames,
                          (config.height, config.width), config.steer_size, progress, config.truth_resolution)
        sibling = {k: rgbd[0, :3] for k, rgbd in flown.frames.items()}
    attitude = {**attitude_stats(world, torch.stack(log.poses)),
                "shown_clearance": torch.tensor(log.shown_clearance, dtype=torch.float64)}
    steered_poses, steered_sky, steered_shown = _steered_flight(pipeline, world, config, progress)
    steered = {**attitude_stats(world, steered_poses), "shown_clearance": steered_shown} if len(steered_poses) else {}
    return LongRangeResult(
        sample=world, windows=window_stats(log, attitude, config, world.disparity_scale),
        distances=range_distances(log, config, sibling), attitude=attitude,
        steered={**steered, "sky_fraction": steered_sky},
        longest_frozen_run=longest_run([c < config.frozen_epsilon for c in log.change]),
        longest_skyless_run=longest_run([s < config.skyless_fraction for s in log.sky]),
        start_truth_error=float((log.truth[0]["truth_rgb"] - start[0, :3]).abs().mean()),
        sheet_flight=torch.stack([log.truth[k]["flight_rgb"] for k in config.sheet_indices]),
        sheet_truth=torch.stack([log.truth[k]["truth_rgb"] for k in config.sheet_indices]),
        set_frames=_set_frames(log, config) if keep_sets else None)


def progress_frames(config: LongRangeConfig) -> int:
    """Frames flown per sample (what ``progress`` counts): the autopilot, the steered and the truth flights
    (the sample's world's and the sibling world's)."""
    truth_flights = (config.truth == "flight") + config.sibling_floor
    return config.num_frames * (1 + truth_flights) + config.steer_frames
