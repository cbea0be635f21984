"""``viewgen synth``: render synthetic posed clips (RealEstate10K/ACID layout) from the procedural world."""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

from viewgen.cli.options import seed_type, size_type

MAX_SIDE = 4096


def add_parser(subparsers) -> None:
    synth = subparsers.add_parser(
        "synth", help="render synthetic posed clips (RealEstate10K/ACID layout) with exact disparity",
        description="Fly drone-like paths over the procedural nature world (coast, hills, mountains in turn) and "
                    "write OUT/<split>/<clip>.txt camera files (URL line, then timestamp fx fy cx cy 0 0 and the "
                    "3x4 world-to-camera matrix per frame) with OUT/<split>/<clip>/<timestamp>.png frames and "
                    "<timestamp>_disparity.png 16-bit disparity (value / 65535, nearest point = 1, sky = 0; "
                    "metric depth = disparity_scale / disparity, scales in <clip>/metadata.json). OUT/<split> is "
                    "written whole: built in a hidden folder beside it and swapped in when every clip is done, so "
                    "it holds exactly this run's clips (an earlier synth output there is replaced; a folder holding "
                    "other files is refused; other splits are left alone). An error leaves an existing OUT/<split> "
                    "as it was; Ctrl-C or SIGTERM keeps the clips finished so far.")
    synth.add_argument("--clips", type=int, default=3, metavar="N", help="number of clips (default 3)")
    synth.add_argument("--frames", type=int, default=30, metavar="T", help="frames per clip (default 30)")
    synth.add_argument("--out", required=True, metavar="DIR", help="output dataset folder")
    synth.add_argument("--size", type=size_type(8, MAX_SIDE), default=(160, 256), metavar="HxW",
                       help="frame size (default 160x256)")
    synth.add_argument("--seed", type=seed_type, default=0, metavar="S",
                       help="seed of worlds and flights, 0 to 2**64 - 1 (default 0)")
    synth.add_argument("--split", default="train", help="split folder under DIR (default train)")
    synth.set_defaults(run=run)


def _check_out(out: Path) -> None:
    """One-line ``OSError`` before any rendering when ``out`` cannot be the dataset folder."""
    from viewgen.staging import file_in_the_way

    blocker = file_in_the_way(out)
    if blocker is not None:
        raise OSError(f"cannot write to {out}: {blocker} is a file, not a folder; give a folder for --out")
    if out.exists() and not out.is_dir():
        raise OSError(f"cannot write to {out}: it is a file, not a folder; give a folder for --out")


def run(args: Namespace) -> int:
    from viewgen.data.synthetic.export import export_clips

    if args.clips < 1:
        raise ValueError(f"--clips must be at least 1, got {args.clips}")
    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    _check_out(Path(args.out))
    height, width = args.size
    start = time.perf_counter()
    done = {"clips": 0}

    def progress(name: str, frames_done: int, total: int) -> None:
        if frames_done == total:
            done["clips"] += 1
            elapsed = time.perf_counter() - start
            print(f"[{done['clips']}/{args.clips}] {name}: {total} frames ({elapsed:.1f} s elapsed)", flush=True)

    folder = Path(args.out) / args.split
    try:
        clips = export_clips(args.out, args.clips, args.frames, height, width, seed=args.seed, split=args.split,
                             progress=progress, keep_finished_on_interrupt=True)
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: the finished clips were published
        return _interrupted(interrupt, done["clips"], folder)
    elapsed = time.perf_counter() - start
    frames = sum(clip.num_frames for clip in clips)
    print(f"wrote {len(clips)} clips, {frames} frames of {height}x{width} to {folder} in {elapsed:.1f} s "
          f"({frames / max(elapsed, 1e-9):.1f} frames/s)")
    return 0


def _interrupted(interrupt: KeyboardInterrupt, finished: int, folder: Path) -> int:
    """Say what an interrupted run left in ``folder`` (one line) and return the exit status."""
    from viewgen.cli.signals import interrupt_exit_status

    status = interrupt_exit_status(interrupt)
    cause = "viewgen: interrupted" if status == 130 else "viewgen: terminated"
    if finished == 0:
        print(f"{cause} before the first clip was done: nothing was written to {folder}", file=sys.stderr)
    else:
        print(f"{cause}: saved the {finished} clip{'s' if finished > 1 else ''} done so far to {folder}",
              file=sys.stderr)
    return status
