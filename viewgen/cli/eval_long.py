"""``viewgen eval``'s protocol (b), long range: its options, its config, its FID / KID, its run.

Options: ``--long-frames N`` (default 1000), ``--samples 1,2,3``, ``--window 100``,
``--sibling-floor``, ``--fid require|auto|off``. ``--quick`` flies sample 2 for 24 frames in windows
of 8. FID / KID need the FID Inception file (``viewgen download fid-inception``), never downloaded
here: ``auto`` goes on without them and prints one ``viewgen: note: ...`` line; ``require`` stops
with a one-line error.
"""

from __future__ import annotations

import sys
from argparse import Namespace

__all__ = ["add_long_arguments", "long_range_config", "resolve_fid", "run_long_range", "summary_line"]

MAX_LONG_FRAMES = 5000
QUICK = {"samples": (2,), "frames": 24, "window": 8, "distance_ranges": ((8, 15), (16, 24)), "steer_frames": 16}
DISTANCE_RANGES = ((100, 299), (300, 1000))
STEER_FRAMES = 120  # 8 phases of 15 frames; more would cost the standard run's 10-minute budget
COMMAND = "viewgen download fid-inception"


def add_long_arguments(command) -> None:
    command.add_argument("--long-frames", type=int, default=None, metavar="N",
                         help="long range: frames per autopilot flight (default 1000)")
    command.add_argument("--samples", default=None, metavar="LIST",
                         help="long range: comma-separated built-in samples, 1 coast, 2 hills, 3 mountains "
                              "(default 1,2,3)")
    command.add_argument("--window", type=int, default=None, metavar="W",
                         help="long range: frames per statistics window (default 100)")
    command.add_argument("--truth", choices=("flight", "poses"), default="flight",
                         help="long range: the truth is the same autopilot flying the sample's world (flight, the "
                              "default) or the world rendered at the flight's own poses (poses)")
    command.add_argument("--truth-resolution", choices=("input", "flight"), default="input",
                         help="long range: render the truth at the sample's size and resize it as the flight resized "
                              "frame 0 (input, the default: frame 0's truth is frame 0), or render it at the flight's "
                              "size (flight: sharper than frame 0 itself, the reading before session 16)")
    command.add_argument("--sibling-floor", action="store_true",
                         help="long range: also fly the autopilot over a sibling of each sample's world (the same "
                              "family, another seed) for the family reading of the patch distance (adds one truth "
                              "flight per sample)")
    command.add_argument("--fid", choices=("require", "auto", "off"), default="auto",
                         help="long range: score FID / KID when the FID Inception weights are here (auto, the "
                              "default; else a note), require them (else an error), or off")


def _samples(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part in ("1", "2", "3") for part in parts):
        raise ValueError(f"--samples must be comma-separated built-in samples from 1,2,3 "
                         f"(1 coast, 2 hills, 3 mountains), got {text!r}")
    return tuple(dict.fromkeys(int(part) for part in parts))


def long_range_config(args: Namespace, size: tuple[int, int]):
    """The :class:`~viewgen.evaluation.long_range.LongRangeConfig` the options ask for (one-line ValueError)."""
    from viewgen.evaluation.long_range import LongRangeConfig

    samples = (QUICK["samples"] if args.quick else (1, 2, 3)) if args.samples is None else _samples(args.samples)
    frames = (QUICK["frames"] if args.quick else 1000) if args.long_frames is None else args.long_frames
    if not 1 <= frames <= MAX_LONG_FRAMES:
        raise ValueError(f"--long-frames must be between 1 and {MAX_LONG_FRAMES}, got {frames}")
    window = (min(QUICK["window"], frames) if args.quick else min(100, frames)) if args.window is None else args.window
    if not 1 <= window <= frames:
        raise ValueError(f"--window must be between 1 and --long-frames ({frames}), got {window}")
    stride = max(1, min(10, window // 8))  # 10 truth renders per window of 100 (the 10-minute budget)
    lag = max(stride, min(10, window // 2) // stride * stride)  # 10 frames, or half a short window
    return LongRangeConfig(
        samples=samples, num_frames=frames, window=window, height=size[0], width=size[1], truth_stride=stride,
        distance_ranges=QUICK["distance_ranges"] if args.quick else DISTANCE_RANGES, new_content_lag=lag,
        steer_frames=min(QUICK["steer_frames"] if args.quick else STEER_FRAMES, frames), truth=args.truth,
        sibling_floor=args.sibling_floor, truth_resolution=args.truth_resolution)


def _missing_reason() -> str | None:
    from viewgen.evaluation.perceptual import FID_INCEPTION_WEIGHTS, find_local_weights, torch_hub_checkpoints
    from viewgen.hub import weights_dir

    if find_local_weights(FID_INCEPTION_WEIGHTS) is not None:
        return None
    return (f"the FID Inception weights ({FID_INCEPTION_WEIGHTS.filename}) are in neither {weights_dir()} "
            f"nor {torch_hub_checkpoints()}; run `{COMMAND}`")


def resolve_fid(mode: str):
    """``(model, None)`` when FID / KID are scored; ``(None, reason)`` when not (``auto`` / ``off``).

    Raises :class:`~viewgen.errors.ViewgenRuntimeError` (one line) in ``require`` mode when they cannot be.
    """
    from viewgen.errors import ViewgenError, ViewgenRuntimeError
    from viewgen.evaluation.perceptual import load_fid_inception

    if mode == "off":
        return None, "turned off (--fid off)"
    reason = _missing_reason()
    if reason is None:
        try:
            return load_fid_inception(download=False), None
        except (ViewgenError, ValueError, OSError) as error:
            reason = str(error)
    if mode == "require":
        raise ViewgenRuntimeError(f"--fid require: cannot score FID / KID: {reason}")
    print(f"viewgen: note: FID / KID not scored: {reason}", file=sys.stderr)
    return None, reason


def run_long_range(pipe, config, fid_model=None, fid_reason: str | None = None):
    """Fly every sample (a tqdm bar over frames on a terminal): ``(results, perceptual dict)``."""
    from tqdm import tqdm

    from viewgen.evaluation.long_range import progress_frames, run_long_range_case
    from viewgen.evaluation.perceptual import perceptual_scores

    total = len(config.samples) * progress_frames(config)
    results = []
    with tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty(),
              leave=False) as progress:
        for sample in config.samples:
            progress.set_postfix_str(f"long range, sample {sample}")
            results.append(run_long_range_case(pipe, sample, config, keep_sets=fid_model is not None,
                                               progress=progress.update))
    return results, perceptual_scores(results, fid_model, fid_reason)


def summary_line(block: dict, elapsed: float) -> str:
    """One line: the headline targets of the autopilot flights (and the steered ones' attitude)."""
    auto, steered = block["headline"]["autopilot"], block["headline"]["steered"]

    def value(entry: dict) -> str:
        number = entry["value"]
        text = "-" if number is None else (f"{number:.3g}" if isinstance(number, float) else str(number))
        return text + ("" if entry["met"] in (None, True) else " (missed)")

    steer = (f"; steered: max |pitch| {value(steered['max_abs_pitch_deg'])}, max |roll| "
             f"{value(steered['max_abs_roll_deg'])}, upside-down {value(steered['upside_down_frames'])}, "
             f"min shown / world clearance {value(steered['min_shown_clearance'])} / "
             f"{value(steered['min_clearance'])}" if block["steer_frames"] else "")
    sibling = ("" if auto["max_patch_ratio_sibling"]["value"] is None
               else f" (against a sibling world {value(auto['max_patch_ratio_sibling'])})")
    return (f"long range: {len(block['samples'])} sample(s) x {block['frames']} frames in {elapsed:.1f} s; "
            f"min sharpness ratio {value(auto['min_sharpness_ratio'])}, max patch ratio "
            f"{value(auto['max_patch_ratio'])}{sibling}, min sky {value(auto['min_sky_fraction'])}, longest frozen run "
            f"{value(auto['longest_frozen_run'])}, max |pitch| {value(auto['max_abs_pitch_deg'])}, max |roll| "
            f"{value(auto['max_abs_roll_deg'])}, upside-down {value(auto['upside_down_frames'])}, min shown / world "
            f"clearance {value(auto['min_shown_clearance'])} / {value(auto['min_clearance'])}{steer}")
