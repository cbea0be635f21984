"""``viewgen eval``: score flights against ground truth and the baselines; write metrics.json and a report.

Protocol (a), short range (:mod:`viewgen.evaluation.protocols`): every preset x seed is one
case. LPIPS (``--lpips``, :mod:`viewgen.cli.eval_lpips`) is scored when the AlexNet weights are
here. ``--clips DIR`` runs protocol (a) on posed clips too (:mod:`viewgen.cli.eval_clips`; ``--protocol clips``:
only them). Protocol (b), long range (:mod:`viewgen.cli.eval_long`): autopilot flights from the built-in
samples, measured per window against their worlds. Loop closure (:mod:`viewgen.cli.eval_loop`): scripted
paths that return to their start, flown with each memory; the returned frame against the first.
``--protocol short|long|loop|all`` (default all).
``--out`` (default ``eval/``) gets ``metrics.json``, ``report.md`` and its PNG plots as a
whole (built beside it and swapped in); a folder holding anything else is refused.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

from viewgen.cli.eval_clips import add_clip_arguments
from viewgen.cli.eval_enr import add_enr_arguments
from viewgen.cli.eval_long import add_long_arguments
from viewgen.cli.eval_loop import add_loop_arguments
from viewgen.cli.options import size_type

MAX_FRAMES = 1000
MAX_SEEDS = 100
DEFAULT_SIZE = (160, 256)
QUICK = {"presets": ("hills",), "seeds": (0,), "frames": 5, "size": (96, 160)}  # warp edges need ~96x160
parse_size = size_type(16, 1024, 1024 * 1024)


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "eval", help="score flights against ground truth and two baselines; write metrics.json and a report",
        description="Protocol (a), short range: fly from frame 0 of a synthetic ground-truth clip along its "
                    "poses, beside the baselines (warp + nearest fill, repeat the start frame), and score "
                    "PSNR, SSIM and sharpness per frame; with --clips, the same on posed video clips "
                    "(RealEstate10K / ACID layout) along their own poses. Protocol (b), long range: fly the "
                    "autopilot from the built-in samples for N frames and measure sharpness, sky, new content, "
                    "attitude and clearance per window, and the patch distance, against the sample's world. Loop "
                    "closure: fly scripted paths that return to their start (circle, there-and-back) with each "
                    "memory and compare the returned frame with the first.")
    command.add_argument("family", nargs="?", choices=("enr",), default=None,
                         help="enr: Equivariant Neural Rendering's test protocol (--data, --weights, --source-view, "
                              "--out; docs/enr.md) instead of the flight protocols")
    command.add_argument("--quick", action="store_true",
                         help="a tiny setting for CI: short range on hills, seed 0, 5 frames; long range on sample 2, "
                              "24 frames, windows of 8; loop closure on sample 1, 12 frames; all at 96x160 (options "
                              "given override it)")
    command.add_argument("--protocol", choices=("short", "long", "loop", "all", "clips"), default="all",
                         help="short range (a), long range (b), loop (loop closure), all (default: the three), or "
                              "clips (only protocol (a) on the posed clips of --clips); --clips adds them to short "
                              "and all")
    command.add_argument("--out", default="eval", metavar="DIR", help="output folder (default eval/)")
    command.add_argument("--presets", default=None, metavar="LIST",
                         help="comma-separated scene presets (default coast,hills,mountains)")
    command.add_argument("--seeds", default=None, metavar="LIST", help="comma-separated flight seeds (default 0)")
    command.add_argument("--frames", type=int, default=None, metavar="N",
                         help="generated frames per case, the start not counted (default 20)")
    command.add_argument("--size", type=parse_size, default=None, metavar="HxW",
                         help="resolution (default 160x256, or the weights' size)")
    command.add_argument("--weights", default=None, metavar="DIR",
                         help="converted Infinite Nature weights (SPADE refiner); default: the weight-free refiner. "
                              "enr: Apple's .pt or an ENR release folder; default the embedded model")
    command.add_argument("--lpips", choices=("require", "auto", "off"), default="auto",
                         help="score LPIPS: auto (default) when the AlexNet weights are here (else a note), "
                              "require (else an error), off")
    add_clip_arguments(command)
    add_long_arguments(command)
    add_loop_arguments(command)
    add_enr_arguments(command)
    command.set_defaults(run=run)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _seeds(text: str) -> tuple[int, ...]:
    parts = _names(text)
    if not parts or not all(part.isdigit() for part in parts) or len(parts) > MAX_SEEDS:
        raise ValueError(f"--seeds must be up to {MAX_SEEDS} comma-separated whole numbers >= 0, got {text!r}")
    return tuple(dict.fromkeys(int(part) for part in parts))


def _config(args: Namespace, weights_size: tuple[int, int] | None):
    """The :class:`ShortRangeConfig` the options ask for (``--quick`` gives defaults, options override)."""
    from viewgen.data.synthetic.presets import PRESET_NAMES
    from viewgen.evaluation.protocols import ShortRangeConfig

    base = QUICK if args.quick else {"presets": PRESET_NAMES, "seeds": (0,),
                                     "size": weights_size or DEFAULT_SIZE}
    presets = base["presets"] if args.presets is None else tuple(dict.fromkeys(_names(args.presets)))
    unknown = [name for name in presets if name not in PRESET_NAMES]
    if unknown or not presets:
        raise ValueError(f"--presets: unknown preset {', '.join(unknown) or '(none given)'}; "
                         f"choose from {','.join(PRESET_NAMES)}")
    frames = _frames(args)
    size = _size(args, weights_size)
    seeds = base["seeds"] if args.seeds is None else _seeds(args.seeds)
    return ShortRangeConfig(presets=presets, seeds=seeds, num_frames=frames, height=size[0], width=size[1])


def _frames(args: Namespace) -> int:
    """Protocol (a)'s generated frames per case: ``--frames``, else 20 (5 with ``--quick``)."""
    frames = (QUICK["frames"] if args.quick else 20) if args.frames is None else args.frames
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    return frames


def _size(args: Namespace, weights_size: tuple[int, int] | None) -> tuple[int, int]:
    """The resolution of both protocols: ``--size``, else the weights' size, else the (quick) default."""
    size = tuple(args.size or weights_size or (QUICK["size"] if args.quick else DEFAULT_SIZE))
    if weights_size is not None and size != tuple(weights_size):
        raise ValueError(f"the weights in {args.weights} work at {weights_size[0]}x{weights_size[1]}; "
                         f"drop --size or pass --size {weights_size[0]}x{weights_size[1]}")
    return size


def _pipeline(args: Namespace, size: tuple[int, int] | None):
    """``(pipeline, refiner description)``; the weight-free one is built at ``size``."""
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    if args.weights is not None:
        return FlyThroughPipeline.from_pretrained(args.weights), f"Infinite Nature SPADE ({Path(args.weights).name})"
    return FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=size)), "weight-free"


def _require_eval_packages() -> None:
    """One line naming the extra when torchmetrics or matplotlib is missing (before any work)."""
    from viewgen.errors import ViewgenRuntimeError

    try:
        import matplotlib  # noqa: F401
        import torchmetrics  # noqa: F401
    except ImportError as error:
        raise ViewgenRuntimeError(f"viewgen eval needs torchmetrics and matplotlib ({error.name} is missing): "
                                  "pip install 'viewgen[eval]'") from error


def run(args: Namespace) -> int:
    from viewgen.cli.eval_clips import clips_config
    from viewgen.cli.eval_long import long_range_config
    from viewgen.cli.eval_loop import loop_config

    _require_eval_packages()
    if args.family == "enr":
        from viewgen.cli.eval_enr import run_enr

        return run_enr(args)
    from viewgen.evaluation.report import check_report_folder, publish_report

    out = Path(args.out)
    check_report_folder(out)
    weights_pipe = _pipeline(args, None) if args.weights is not None else None
    weights_size = tuple(weights_pipe[0].config.image_size) if weights_pipe else None
    short = _config(args, weights_size) if args.protocol in ("short", "all") else None
    size = _size(args, weights_size)
    long = long_range_config(args, size) if args.protocol in ("long", "all") else None
    loop = loop_config(args, size)
    asked = clips_config(args, _frames(args), size)
    clips, clip_list = asked or (None, None)
    pipe, refiner = weights_pipe or _pipeline(args, size)
    metrics, results, seconds = _evaluate(args, pipe, refiner, short, long, clips, clip_list, loop)

    def fill(folder: Path) -> None:
        from viewgen.evaluation.report import write_metrics, write_report

        write_metrics(metrics, folder)
        write_report(metrics, short, results["short"], folder, None if long is None else (long, results["long"]),
                     None if clips is None else (clips, results["clips"]), None if loop is None else results["loop"])

    publish_report(out, fill)
    _print_summaries(metrics, seconds, out)
    return 0


def _evaluate(args: Namespace, pipe, refiner: str, short, long, clips, clip_list, loop=None) -> tuple[dict, dict, dict]:
    """Run the protocols asked for: ``(metrics, {"short", "clips", "long", "loop"} -> results, same -> seconds)``."""
    import viewgen
    from viewgen.cli.eval_long import resolve_fid
    from viewgen.cli.eval_lpips import resolve_lpips

    scored = short or clips
    lpips = resolve_lpips(args.lpips, (scored.height, scored.width)) if scored else (None, None)
    fid = resolve_fid(args.fid) if long else (None, None)
    protocols = [name for name, config in (("short_range", short), ("posed_clips", clips), ("long_range", long),
                                           ("loop", loop)) if config]
    metrics = {"viewgen_version": viewgen.__version__, "protocols": protocols}
    results, seconds = {"short": [], "clips": [], "long": [], "loop": []}, {}
    runs = (("short", short, lambda: _short_range(pipe, refiner, short, lpips)),
            ("clips", clips, lambda: _posed_clips(pipe, refiner, clips, clip_list, lpips)),
            ("long", long, lambda: _long_range(pipe, refiner, long, fid)),
            ("loop", loop, lambda: _loop(pipe, refiner, loop)))
    for name, config, protocol in runs:
        if config is not None:
            began = time.perf_counter()
            results[name], block = protocol()
            metrics.update(block)
            seconds[name] = time.perf_counter() - began
    return metrics, results, seconds


def _short_range(pipe, refiner: str, short, lpips) -> tuple[list, dict]:
    import viewgen
    from viewgen.evaluation.protocols import short_range_cases
    from viewgen.evaluation.report import short_range_metrics

    cases = short_range_cases(short)
    print(f"evaluating {len(cases)} case(s) x {short.num_frames} frames at {short.height}x{short.width} "
          f"with the {refiner} refiner", file=sys.stderr)
    results = _run_cases(pipe, short, cases, lpips[0])
    return results, short_range_metrics(short, results, refiner, viewgen.__version__, lpips[1])


def _posed_clips(pipe, refiner: str, clips, clip_list, lpips) -> tuple[list, dict]:
    import viewgen
    from viewgen.cli.eval_clips import run_clips
    from viewgen.evaluation.report import posed_clip_metrics

    truths, results = run_clips(pipe, clips, clip_list, lpips[0])
    return results, {"posed_clips": posed_clip_metrics(clips, truths, results, refiner, viewgen.__version__,
                                                       lpips[1])}


def _long_range(pipe, refiner: str, long, fid) -> tuple[list, dict]:
    from viewgen.cli.eval_long import run_long_range
    from viewgen.evaluation.long_range_report import TRUTH_TEXT, long_range_metrics

    print(f"long range: {len(long.samples)} sample(s) x {long.num_frames} frames (+ {long.steer_frames} steered) "
          f"at {long.height}x{long.width} with the {refiner} refiner; the truth: {TRUTH_TEXT[long.truth][0]}",
          file=sys.stderr)
    results, perceptual = run_long_range(pipe, long, *fid)
    seed = getattr(getattr(pipe, "config", None), "seed", None)
    return results, {"long_range": long_range_metrics(long, results, refiner, seed, perceptual)}


def _loop(pipe, refiner: str, loop) -> tuple[list, dict]:
    import viewgen
    from viewgen.cli.eval_loop import run_loop
    from viewgen.evaluation.loop_protocol import loop_metrics

    print(f"loop closure: {len(loop.paths)} path(s) x {len(loop.samples)} sample(s) x {len(loop.memories)} "
          f"memories, {loop.period} frames each at {loop.height}x{loop.width} with the {refiner} refiner",
          file=sys.stderr)
    results = run_loop(pipe, loop)
    seed = getattr(getattr(pipe, "config", None), "seed", None)
    return results, {"loop": loop_metrics(loop, results, refiner, seed, viewgen.__version__)}


def _print_summaries(metrics: dict, seconds: dict, out: Path) -> None:
    """The closing line of each protocol run (stdout)."""
    from viewgen.cli.eval_long import summary_line
    from viewgen.cli.eval_loop import summary_line as loop_summary_line

    wrote = f"wrote {out}/report.md and metrics.json"
    if "headline" in metrics:
        print(_summary(metrics, f"evaluated {metrics['num_cases']} case(s) in {seconds['short']:.1f} s") +
              f"; {wrote}")
    if "posed_clips" in metrics:
        print(_summary(metrics["posed_clips"], f"posed clips: evaluated {metrics['posed_clips']['num_cases']} "
                                               f"clip(s) in {seconds['clips']:.1f} s") +
              f"; {wrote}")
    if "long_range" in metrics:
        print(summary_line(metrics["long_range"], seconds["long"]) + f"; {wrote}")
    if "loop" in metrics:
        print(loop_summary_line(metrics["loop"], seconds["loop"]) + f"; {wrote}")


def _run_cases(pipe, config, cases, lpips_model=None):
    from tqdm import tqdm

    from viewgen.evaluation.protocols import run_short_range_case

    results = []
    with tqdm(cases, unit="case", file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty(),
              leave=False) as progress:
        for preset, seed in progress:
            progress.set_postfix_str(f"{preset} seed {seed}")
            results.append(run_short_range_case(pipe, preset, seed, config, lpips_model))
    return results


def _summary(block: dict, head: str) -> str:
    """``head``, then the last headline frame's PSNR / SSIM of a protocol (a) block: flight vs both baselines."""
    k = str(block["headline_frames"][-1])

    def pair(method: str) -> str:
        psnr, ssim = block["headline"][method]["psnr"][k], block["headline"][method]["ssim"][k]
        return f"{'-' if psnr is None else f'{psnr:.2f}'} dB / {ssim:.3f}"

    return (f"{head}; frame {k} PSNR / SSIM: flight {pair('flight')}, warp + nearest fill "
            f"{pair('warp_nearest_fill')}, repeat start frame {pair('repeat_start_frame')}")
