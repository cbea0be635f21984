"""``viewgen fly --model infinite-nature-zero``: Infinite Nature Zero's part of ``viewgen fly``.

Thin over :class:`~viewgen.pipelines.infinite_nature_zero.InfiniteNatureZeroPipeline`: the weights
are the original ``*latest.tar`` (or the folder holding it, or a folder of ``viewgen convert
infinite-nature-zero``); the input is prepared as the original's test data (centre square crop, 128 x 128,
percentile-normalised disparity, sky from the disparity); Zero's own autopilot flies. A crash into an
obstacle is an event: by default the flight stops there, the frames so far are written and the closing
line says so (exit 0); ``--on-crash continue`` flies on without that frame's sky correction.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

from viewgen.cli.fly import Flight

__all__ = ["CHECKPOINT_URL", "MODEL", "check_zero_args", "crash_note", "plan_zero"]

MODEL = "infinite-nature-zero"
# The original README's "Downloading data and pretrained checkpoint" (google-research/infinite_nature_zero).
CHECKPOINT_URL = "https://storage.googleapis.com/gresearch/infinite_nature_zero/infinite_nature_zero_ckpts_data.zip"


def check_zero_args(args: Namespace) -> None:
    """One-line refusals, before any work: no --weights, and the options Zero has no use for."""
    if args.weights is None:
        raise ValueError(f"--model {MODEL} needs --weights: the released LHQ checkpoint is published in "
                         f"{CHECKPOINT_URL} (unzip it and pass --weights checkpoints/, the *latest.tar in it, "
                         f"or a folder made by `viewgen convert {MODEL}`)")
    if not Path(args.weights).exists():
        raise FileNotFoundError(f"no Infinite Nature Zero weights at {args.weights}: give the original "
                                f"checkpoints/*latest.tar (from {CHECKPOINT_URL}), its folder, or a converted folder")
    if args.size is not None:
        raise ValueError(f"--size does not apply to --model {MODEL}: it flies at its generator's resolution "
                         "(128x128 for the released model); drop --size")
    if args.path != "autopilot":
        raise ValueError(f"--path {args.path} does not apply to --model {MODEL}: it flies with its own autopilot "
                         "only; drop --path")


def plan_zero(args: Namespace, start) -> Flight:
    """Load the weights, prepare the input (its warnings printed) and describe the flight for ``viewgen fly``."""
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

    pipe = InfiniteNatureZeroPipeline.from_pretrained(args.weights, device=args.device)
    pipe.config = replace(pipe.config, seed=args.seed, stop_on_crash=args.on_crash != "continue")
    inputs = pipe.prepare(start.rgbd)  # RGB + disparity of any scale: only its percentiles matter
    for message in inputs.warnings:
        print(f"viewgen: warning: {message}", file=sys.stderr)

    def next_frame():
        if pipe.frame.event is not None and pipe.config.stop_on_crash:
            return None  # the flight stopped at a crash: the frames so far are kept
        return pipe.step()

    return Flight(pipe.refiner.image_size, "Zero's autopilot",
                  f"Infinite Nature Zero's StyleGAN2 refiner from {args.weights}",
                  lambda: pipe.reset(inputs), next_frame, lambda: crash_note(pipe.events, pipe.config.stop_on_crash))


def crash_note(events, stopped: bool) -> str:
    """The closing line's addition for a flight's crash events (``""`` when there were none)."""
    crashes = [event for event in events if event.kind == "crash"]
    if not crashes:
        return ""
    first = crashes[0]
    if stopped:
        return f"; the flight stopped at frame {first.frame_index}, a crash event: {first.message}"
    frames = ", ".join(str(event.frame_index) for event in crashes[:5]) + (", ..." if len(crashes) > 5 else "")
    return (f"; {len(crashes)} crash event{'s' if len(crashes) != 1 else ''} (frame{'s' if len(crashes) != 1 else ''} "
            f"{frames}; first: {first.message}), flown on without their sky correction")
