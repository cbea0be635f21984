"""``viewgen eval``'s protocol (a) on posed clips (RealEstate10K / ACID layout): its options, config and run.

``--clips DIR`` adds the posed clips under DIR to protocol (a) (``--protocol clips``: only them);
``--split``, ``--clip-stride``, ``--max-clips`` choose which frames, ``--depth`` the backend that
gives frame 0's disparity to clips that have no disparity file (real clips). Scoring, baselines
and ``--frames`` / ``--size`` / ``--lpips`` are protocol (a)'s.
"""

from __future__ import annotations

import sys
from argparse import Namespace

__all__ = ["add_clip_arguments", "clips_config", "run_clips"]

MAX_CLIPS = 1000
MAX_STRIDE = 1000
DEFAULT_DEPTH = "midas-v21"


def add_clip_arguments(command) -> None:
    """Register the posed clips' options on ``viewgen eval``."""
    command.add_argument("--clips", default=None, metavar="DIR",
                         help="protocol (a) on posed clips too: camera files DIR/<split>/<clip>.txt (RealEstate10K / "
                              "ACID layout) with their frames extracted to DIR/<split>/<clip>/<timestamp>.png or .jpg")
    command.add_argument("--split", default=None, metavar="NAME",
                         help="posed clips: the split folder under --clips (default: every split)")
    command.add_argument("--clip-stride", type=int, default=1, metavar="K",
                         help="posed clips: score every K-th clip frame (default 1)")
    command.add_argument("--max-clips", type=int, default=None, metavar="M",
                         help="posed clips: the first M usable clips by name (default all)")
    command.add_argument("--depth", default=DEFAULT_DEPTH, metavar="BACKEND",
                         help="posed clips without a disparity file: the depth backend for frame 0 "
                              "(default midas-v21; see viewgen depth --help)")


def clips_config(args: Namespace, frames: int, size: tuple[int, int]) -> tuple | None:
    """``(PosedClipsConfig, usable clips)`` the options ask for, or None without ``--clips``.

    The clips are listed now, before any work, so a folder without usable clips is one line
    (``ValueError`` / ``OSError``) like a bad option; so are clip options that would be ignored.
    """
    from viewgen.evaluation.posed_clip_truth import PosedClipsConfig, usable_clips

    if args.clips is None:
        if args.protocol == "clips":
            raise ValueError("--protocol clips needs --clips DIR (a folder of posed clips)")
        options = (("--split", args.split, None), ("--clip-stride", args.clip_stride, 1),
                   ("--max-clips", args.max_clips, None), ("--depth", args.depth, DEFAULT_DEPTH))
        given = [name for name, value, default in options if value != default]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to posed clips: add --clips DIR")
        return None
    if args.protocol == "long":
        raise ValueError("--clips belongs to protocol (a): use --protocol clips, short or all")
    if not 1 <= args.clip_stride <= MAX_STRIDE:
        raise ValueError(f"--clip-stride must be between 1 and {MAX_STRIDE}, got {args.clip_stride}")
    if args.max_clips is not None and not 1 <= args.max_clips <= MAX_CLIPS:
        raise ValueError(f"--max-clips must be between 1 and {MAX_CLIPS}, got {args.max_clips}")
    config = PosedClipsConfig(root=args.clips, split=args.split, num_frames=frames, stride=args.clip_stride,
                              height=size[0], width=size[1], max_clips=args.max_clips, depth=args.depth)
    return config, usable_clips(config)


def run_clips(pipe, config, clips: list, lpips_model=None) -> tuple[list, list]:
    """Read and fly ``clips`` (a tqdm bar over clips on a terminal): ``([ClipTruth], [CaseResult])``.

    The depth backend is built once, when the first clip without a disparity file needs it. A clip
    whose fitted scale barely beats a still camera (:data:`~viewgen.evaluation.posed_clip_truth.MIN_SCALE_GAIN`)
    gets a warning line: its scale, and so its scores, say little.
    """
    from tqdm import tqdm

    from viewgen.evaluation.posed_clip_truth import MIN_SCALE_GAIN, clip_truth, has_disparity
    from viewgen.evaluation.protocols import run_clip_case

    print(f"posed clips: {len(clips)} clip(s) x {config.num_frames} frames (every {config.stride} clip frame(s)) "
          f"at {config.height}x{config.width}", file=sys.stderr)
    truths, results, estimator = [], [], None
    with tqdm(clips, unit="clip", file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty(),
              leave=False) as progress:
        for clip in progress:
            progress.set_postfix_str(clip.name)
            if estimator is None and not has_disparity(clip):
                from viewgen.depth import get_estimator

                estimator = get_estimator(config.depth, device=pipe.device)
            truth = clip_truth(clip, config, estimator)
            if truth.scale_gain is not None and truth.scale_gain < MIN_SCALE_GAIN:
                progress.write(f"viewgen: warning: clip {clip.name}: the fitted scale's warps beat a still camera by "
                               f"only {100 * truth.scale_gain:.1f}%: its scale is not known, its scores say little",
                               file=sys.stderr)
            truths.append(truth)
            results.append(run_clip_case(pipe, truth, config, lpips_model))
    return truths, results
