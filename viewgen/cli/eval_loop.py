"""``viewgen eval``'s loop-closure protocol (``--protocol loop``, and in ``all``): its options, config, run, summary.

Options: ``--loop-paths circle,there-and-back``, ``--loop-samples 1,2,3``, ``--loop-period N`` (default 60).
``--quick`` flies both paths from sample 1 for 12 frames (at ``--quick``'s 96x160). The memories are
``default``, ``last-frame`` and ``world`` for the weight-free refiner; with ``--weights`` (whose own memory
is the last frame) ``last-frame`` and ``world``. The flights: :mod:`viewgen.evaluation.loop_protocol`.
"""

from __future__ import annotations

import sys
from argparse import Namespace

__all__ = ["add_loop_arguments", "loop_config", "run_loop", "summary_line"]

MAX_PERIOD = 1000
DEFAULT_PERIOD = 60
QUICK = {"samples": (1,), "period": 12}


def add_loop_arguments(command) -> None:
    """Register the loop-closure protocol's options on ``viewgen eval``."""
    command.add_argument("--loop-paths", default=None, metavar="LIST",
                         help="loop closure: comma-separated paths that return to their start (default "
                              "circle,there-and-back)")
    command.add_argument("--loop-samples", default=None, metavar="LIST",
                         help="loop closure: comma-separated built-in samples, 1 coast, 2 hills, 3 mountains "
                              "(default 1,2,3)")
    command.add_argument("--loop-period", type=int, default=None, metavar="N",
                         help=f"loop closure: frames of one lap; frame N is compared with frame 0 "
                              f"(default {DEFAULT_PERIOD})")


def _choose(text: str | None, option: str, valid: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    """The comma-separated names of ``option`` (each one of ``valid``, duplicates dropped), or ``default``."""
    if text is None:
        return default
    parts = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not parts or any(part not in valid for part in parts):
        raise ValueError(f"{option} must be comma-separated names from {','.join(valid)}, got {text!r}")
    return parts


def loop_config(args: Namespace, size: tuple[int, int]):
    """The :class:`~viewgen.evaluation.loop_protocol.LoopConfig` the options ask for, or None when the protocol
    does not run (one-line ``ValueError`` for a bad option, or loop options given without it)."""
    from viewgen.evaluation.loop_protocol import MEMORIES, PATHS, LoopConfig

    if args.protocol not in ("loop", "all"):
        given = [name for name, value in (("--loop-paths", args.loop_paths), ("--loop-samples", args.loop_samples),
                                          ("--loop-period", args.loop_period)) if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to the loop-closure protocol: use --protocol loop or all")
        return None
    if args.protocol == "loop" and args.clips is not None:
        raise ValueError("--clips belongs to protocol (a): use --protocol clips, short or all")
    samples = _choose(args.loop_samples, "--loop-samples", ("1", "2", "3"),
                      tuple(map(str, QUICK["samples"] if args.quick else (1, 2, 3))))
    period = (QUICK["period"] if args.quick else DEFAULT_PERIOD) if args.loop_period is None else args.loop_period
    if not 2 <= period <= MAX_PERIOD:
        raise ValueError(f"--loop-period must be between 2 and {MAX_PERIOD}, got {period}")
    memories = MEMORIES if args.weights is None else tuple(m for m in MEMORIES if m != "default")  # default = last
    return LoopConfig(paths=_choose(args.loop_paths, "--loop-paths", PATHS, PATHS),
                      samples=tuple(int(s) for s in samples), memories=memories, period=period,
                      height=size[0], width=size[1])


def run_loop(pipe, config) -> list:
    """Fly every loop-closure case (a tqdm bar over frames on a terminal): ``[LoopResult]``."""
    from tqdm import tqdm

    from viewgen.evaluation.loop_protocol import loop_cases, run_loop_case

    cases = loop_cases(config)
    results = []
    with tqdm(total=len(cases) * config.period, unit="frame", file=sys.stderr, dynamic_ncols=True,
              disable=not sys.stderr.isatty(), leave=False) as progress:
        for path, sample, memory in cases:
            progress.set_postfix_str(f"loop, {path}, sample {sample}, {memory}")
            results.append(run_loop_case(pipe, path, sample, memory, config, progress=progress.update))
    return results


def summary_line(block: dict, elapsed: float) -> str:
    """One line: the mean returned-frame PSNR / disparity error of every path x memory."""

    def scores(mean: dict) -> str:
        psnr = "identical" if mean["psnr"] is None else f"{mean['psnr']:.2f} dB"
        return f"{psnr} / {mean['disparity_error']:.4f}"

    paths = "; ".join(f"{path}: " + ", ".join(f"{memory} {scores(mean)}" for memory, mean in by_memory.items())
                      for path, by_memory in block["means"].items())
    return (f"loop closure: {len(block['paths'])} path(s) x {len(block['samples'])} sample(s) x "
            f"{len(block['memories'])} memories of {block['period']} frames in {elapsed:.1f} s; returned frame vs "
            f"frame 0, mean PSNR / disparity error: {paths}")
