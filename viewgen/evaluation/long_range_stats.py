"""Protocol (b)'s numbers from a flight's :class:`~viewgen.evaluation.long_range.FlightLog`.

* :func:`window_stats`: one value per window of ``W`` frames (:data:`WINDOW_STATS` names and units);
* :func:`range_distances`: the patch distance of the flight to the truth per frame range, its noise
  floors and the ratios. The range's truth frames are split into their first half A and second
  half B. ``distance`` is the mean of flight-at-A to truth-at-A and flight-at-B to truth-at-B (the
  same frames; 0 for a flight equal to the truth). ``floor`` is truth-at-A to truth-at-B: two
  independent sets of truth renders (stretches of the path far apart) of the same size, so
  ``ratio = distance / floor`` below 1 means the flight is closer to its truth than the world is
  to itself a stretch later. ``floor_adjacent`` is the truth at the even positions to the truth
  at the odd ones (views one stride apart, nearly the same images: sampling noise only), and
  ``ratio_adjacent`` the far stricter reading against it. With a sibling world's truth flight
  (:func:`~viewgen.evaluation.truth_flight.sibling_world`), ``floor_sibling`` is its distance to
  the truth, measured as the flight's is (A to A, B to B): how far a flight that knows the world's
  family but not the world itself stands, and ``ratio_sibling`` the family reading against it;
* :func:`attitude_stats`: pitch, roll, upside-down and clearance of a flight's poses;
* :func:`longest_run`: the longest run of consecutive frames with a property (still, skyless).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from viewgen.evaluation.attitude import camera_attitude
from viewgen.evaluation.distribution import patch_distance
from viewgen.evaluation.sample_worlds import SampleWorld, clearance, world_poses
from viewgen.geometry.poses import camera_center

__all__ = ["WINDOW_STATS", "attitude_stats", "longest_run", "range_distances", "window_stats"]

WINDOW_STATS = {  # name -> what it is (units); every one is a value per window
    "sharpness_ratio": "variance of the Laplacian of luma, flight / truth at the same frame (mean over the "
                       "window's truth frames, ratio of means); 1 = as sharp as the truth",
    "high_frequency_ratio": "luma detail finer than a 1-pixel Gaussian, flight / truth (ratio of means); "
                            "1 = as in the truth",
    "sky_fraction": "mean fraction of the flight's pixels that are sky (disparity < 0.02)",
    "sky_fraction_min": "smallest sky fraction of one flight frame in the window",
    "truth_sky_fraction": "mean sky fraction of the truth at the same frames",
    "color_shift": "mean distance of a frame's mean RGB from frame 0's (RGB units)",
    "contrast_ratio": "mean standard deviation of luma over frame 0's",
    "flicker": "mean absolute RGB change between consecutive frames",
    "compensated_flicker": "mean absolute RGB change after warping the previous frame into the camera (truth frames)",
    "frame_change": "mean change between consecutive frames (larger of RGB and disparity)",
    "still_frames": "frames whose change is below the frozen epsilon (count)",
    "new_content": "fraction of a frame not covered by the flight's own frame new_content_lag earlier, warped to it",
    "truth_new_content": "the same for the truth at the same frames (what the world itself reveals)",
    "travelled": "camera path length (units of s, the sample's disparity scale)",
    "travelled_m": "camera path length (metres in the sample's world)",
    "pitch_min_deg": "smallest pitch (degrees; > 0 looks down)",
    "pitch_max_deg": "largest pitch (degrees)",
    "roll_abs_max_deg": "largest |roll| (degrees; 180 = upside down)",
    "upside_down": "frames whose camera is upside down (count)",
    "clearance_min": "lowest camera height above the world's ground below it (units of s)",
    "clearance_min_m": "the same in metres",
    "below_ground": "frames with the camera below the world's ground (count)",
    "shown_clearance_min": "lowest height of the camera above the ground its own frame shows around it (median drop "
                           "along gravity of the non-sky points within 3 units horizontally; units of s); < 0: under "
                           "the ground it shows",
    "truth_raised": "truth at the flight's poses only: fraction of the truth frames rendered from higher up (the "
                    "flight was lower than half its start height above the world's ground, so the truth camera was "
                    "lifted straight up to that height); 0 for the truth flight",
}


def longest_run(flags: list[bool]) -> int:
    """The length of the longest run of consecutive ``True`` in ``flags`` (0 if none)."""
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def _bounds(config) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frames of each window."""
    return [(w * config.window + 1, min((w + 1) * config.window, config.num_frames)) for w in range(config.num_windows)]


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _nanmin(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return min(finite) if finite else math.nan


def _ratio(numerator: list[float], denominator: list[float]) -> float:
    if not numerator:
        return math.nan
    return sum(numerator) / max(sum(denominator), 1e-12)


def attitude_stats(sample: SampleWorld, cam_from_world: Tensor) -> dict[str, Tensor]:
    """Per frame ``[N]``: ``pitch_deg``, ``roll_deg``, ``upside_down``, ``clearance`` (units of s),
    ``clearance_m`` and ``step_m`` (metres moved since the previous frame) of flight poses
    ``cam_from_world [N, 3, 4]`` (units of ``s``, frame 0 = identity; frame 0 itself not included)."""
    poses = world_poses(sample, cam_from_world)
    attitude = camera_attitude(poses)
    metres = clearance(sample, poses)
    with_start = torch.cat([sample.cam_from_world[None], poses])
    step = camera_center(with_start).diff(dim=0).norm(dim=1)
    return {"pitch_deg": attitude.pitch_deg.double(), "roll_deg": attitude.roll_deg.double(),
            "upside_down": attitude.upside_down, "clearance": metres / sample.disparity_scale,
            "clearance_m": metres, "step_m": step}


def _frame_window_stats(log, attitude: dict[str, Tensor], first: int, last: int, config, s: float) -> dict:
    """The window's statistics that use every frame (``first..last``, 1-based inclusive)."""
    span = slice(first - 1, last)
    mean_rgb = torch.stack(log.mean_rgb[span])
    start_rgb, start_contrast = log.start_mean_rgb, log.start_contrast
    change = log.change[span]
    steps = attitude["step_m"][span]
    return {
        "sky_fraction": sum(log.sky[span]) / len(change), "sky_fraction_min": min(log.sky[span]),
        "color_shift": float((mean_rgb - start_rgb).norm(dim=1).mean()),
        "contrast_ratio": sum(log.contrast[span]) / len(change) / max(start_contrast, 1e-12),
        "flicker": sum(log.flicker[span]) / len(change), "frame_change": sum(change) / len(change),
        "still_frames": sum(c < config.frozen_epsilon for c in change),
        "travelled": float(steps.sum()) / s, "travelled_m": float(steps.sum()),
        "pitch_min_deg": float(attitude["pitch_deg"][span].min()),
        "pitch_max_deg": float(attitude["pitch_deg"][span].max()),
        "roll_abs_max_deg": float(attitude["roll_deg"][span].abs().max()),
        "upside_down": int(attitude["upside_down"][span].sum()),
        "clearance_min": float(attitude["clearance"][span].min()),
        "clearance_min_m": float(attitude["clearance_m"][span].min()),
        "below_ground": int((attitude["clearance_m"][span] < 0).sum()),
        "shown_clearance_min": _nanmin(attitude["shown_clearance"][span].tolist()),
    }


def _truth_window_stats(log, first: int, last: int) -> dict:
    """The window's statistics that need the truth (its truth frames only)."""
    entries = [(k, log.truth[k]) for k in sorted(log.truth) if first <= k <= last]
    flight_lap = [log.laplacian_var[k - 1] for k, _ in entries]
    flight_hf = [log.high_frequency[k - 1] for k, _ in entries]
    return {
        "sharpness_ratio": _ratio(flight_lap, [e["truth_laplacian_var"] for _, e in entries]),
        "high_frequency_ratio": _ratio(flight_hf, [e["truth_high_frequency"] for _, e in entries]),
        "truth_sky_fraction": _nanmean([e["truth_sky"] for _, e in entries]),
        "compensated_flicker": _nanmean([e["compensated_flicker"] for _, e in entries]),
        "new_content": _nanmean([e.get("new_content", math.nan) for _, e in entries]),
        "truth_new_content": _nanmean([e.get("truth_new_content", math.nan) for _, e in entries]),
        "truth_raised": _nanmean([float(e["truth_raised"]) for _, e in entries]),
    }


def window_stats(log, attitude: dict[str, Tensor], config, disparity_scale: float) -> dict[str, Tensor]:
    """``name -> [num_windows]`` float64 for every name of :data:`WINDOW_STATS` (NaN where not measurable).

    log: the flight's :class:`~viewgen.evaluation.long_range.FlightLog` (with ``start_mean_rgb``
    and ``start_contrast``); attitude: :func:`attitude_stats` of its poses.
    """
    rows = [{**_frame_window_stats(log, attitude, first, last, config, disparity_scale),
             **_truth_window_stats(log, first, last)} for first, last in _bounds(config)]
    return {name: torch.tensor([float(row[name]) for row in rows], dtype=torch.float64) for name in WINDOW_STATS}


def _to_truth(other: dict[int, Tensor], parts: tuple[list[int], list[int]], truths: tuple[Tensor, Tensor]) -> float:
    """Mean over ``parts`` (halves A and B of a range, whose truth frames are ``truths``) of the distance of
    ``other``'s frames to the truth's there."""
    return sum(patch_distance(torch.stack([other[k] for k in part]), truth) for part, truth in zip(parts, truths)) / 2


def range_distances(log, config, sibling: dict[int, Tensor] | None = None) -> list[dict]:
    """Per ``config.distance_ranges``: ``{"frames": [first, last], "truth_frames", "distance", "floor", "ratio",
    "floor_adjacent", "ratio_adjacent", "floor_sibling", "ratio_sibling"}`` (see the module doc); a range with
    fewer than 2 truth frames gets ``None`` values and a ``reason``. ``sibling``: truth frame -> a sibling
    world's truth flight's ``rgb [3, H, W]`` there (the sibling values are ``None`` without it)."""
    results = []
    for first, last in config.distance_ranges:
        frames = [k for k in config.truth_frames if first <= k <= min(last, config.num_frames)]
        row = {"frames": [first, last], "truth_frames": len(frames)}
        if len(frames) < 2:
            reason = (f"the flight ends at frame {config.num_frames}" if first > config.num_frames
                      else "fewer than 2 truth frames in the range")
            results.append({**row, "distance": None, "floor": None, "ratio": None, "floor_adjacent": None,
                            "ratio_adjacent": None, "floor_sibling": None, "ratio_sibling": None, "reason": reason})
            continue
        half = len(frames) // 2
        part_a, part_b = frames[:half], frames[len(frames) - half:]  # the middle frame of an odd count is left out
        even, odd = frames[0::2][:half], frames[1::2][:half]
        truth = {k: log.truth[k]["truth_rgb"] for k in frames}
        truths = tuple(torch.stack([truth[k] for k in part]) for part in (part_a, part_b))
        floor = patch_distance(*truths)
        adjacent = patch_distance(torch.stack([truth[k] for k in even]), torch.stack([truth[k] for k in odd]))
        distance = _to_truth({k: log.truth[k]["flight_rgb"] for k in frames}, (part_a, part_b), truths)
        family = _to_truth(sibling, (part_a, part_b), truths) if sibling is not None else None
        results.append({**row, "distance": distance, "floor": floor, "ratio": distance / max(floor, 1e-12),
                        "floor_adjacent": adjacent, "ratio_adjacent": distance / max(adjacent, 1e-12),
                        "floor_sibling": family,
                        "ratio_sibling": None if family is None else distance / max(family, 1e-12)})
    return results
