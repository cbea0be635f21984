"""``viewgen fly DIR --out OUT [--batch N] [--format mp4|gif|png]``: fly every input of a folder, N flights at a time.

Every photo (:data:`PHOTO_SUFFIXES`, its disparity from ``--depth``) and RGBD file (``.npz`` / ``.npy`` / ``.pkl`` /
``.pickle``) directly in ``DIR``, sorted by name, is flown ``--frames`` frames and written to ``OUT/<stem>.mp4``
(``.gif``, or a folder ``OUT/<stem>/`` of PNG frames). ``--batch`` flights share each network call
(:class:`~viewgen.pipelines.flight_batch.FlightBatch`), all with ``--seed``. Every destination is checked before any
work. Ctrl-C or SIGTERM keeps the complete flights and the frames done so far of those in flight (exit 130 / 143);
an error discards the flights in progress and keeps the complete ones.
"""

from __future__ import annotations

import os
import sys
import time
from argparse import Namespace
from pathlib import Path

__all__ = ["DEFAULT_BATCH", "FORMATS", "INPUT_SUFFIXES", "folder_inputs", "is_folder_input",
           "refuse_folder_options", "run_folder"]

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")  # read by Pillow, depth from --depth
# with viewgen.pipelines.inputs.RGBD_SUFFIXES (not imported: building the CLI must not load torch)
INPUT_SUFFIXES = PHOTO_SUFFIXES + (".npz", ".npy", ".pkl", ".pickle")
FORMATS = ("mp4", "gif", "png")
DEFAULT_BATCH, MAX_BATCH = 4, 64
DEFAULT_SIZE = (160, 256)  # a folder's flights share one size: --size, else the weights', else this


def is_folder_input(spec: str | None) -> bool:
    """Whether ``INPUT`` names an existing folder (a folder of inputs)."""
    return spec is not None and Path(spec).expanduser().is_dir()


def refuse_folder_options(args: Namespace) -> None:
    """One-line refusals of the folder-only options for a single flight."""
    one = f"{args.input or 'the default sample'} is one input, not a folder"
    if args.batch is not None:
        raise ValueError(f"--batch applies to a folder of inputs only ({one})")
    if args.format is not None:
        raise ValueError(f"--format applies to a folder of inputs only ({one}; a single flight's output kind "
                         f"follows --out: .mp4, .gif or a folder/ for PNG frames)")


def folder_inputs(folder: Path) -> list[Path]:
    """The input files directly in ``folder``, sorted by name (hidden files and other suffixes skipped)."""
    found = sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")
                    and entry.suffix.lower() in INPUT_SUFFIXES and entry.is_file()), key=lambda entry: entry.name)
    if not found:
        raise ValueError(f"no inputs in the folder {folder}: expected files ending in {', '.join(INPUT_SUFFIXES)}")
    return found


def _check_folder_args(args: Namespace) -> None:
    """One-line refusals of what a folder of inputs cannot do, before any work."""
    from viewgen.cli.fly import DEFAULT_OUT, check_device, check_model_args
    from viewgen.cli.fly_world import check_world_args

    single = [option for option, given in (("--model infinite-nature-zero", args.model == "infinite-nature-zero"),
                                           ("--save-world", args.save_world is not None),
                                           ("--save-disparity", args.save_disparity)) if given]
    if single:
        raise ValueError(f"{single[0]} is a single-flight option: fly one input of {args.input} at a time for it")
    if args.out == DEFAULT_OUT:
        raise ValueError(f"{args.input} is a folder of inputs: give --out DIR, the folder to write its flights into "
                         f"(e.g. --out flights/), not the single flight's default {DEFAULT_OUT}")
    out = Path(args.out).expanduser()
    if (out.exists() and not out.is_dir()) or (not out.exists() and out.suffix.lower() in (".mp4", ".gif")):
        raise ValueError(f"--out {args.out}: {args.input} is a folder of inputs, which needs --out DIR, a folder for "
                         f"its flights (each written as DIR/<input name>.{args.format or 'mp4'})")
    check_model_args(args)
    check_world_args(args)
    check_device(args.device, args.precision)


def _destinations(args: Namespace, inputs: list[Path]) -> list[str]:
    """``OUT/<stem>.<format>`` (``OUT/<stem>/`` for PNG frames) per input, each checked as the writer will."""
    from viewgen.io.video import check_output

    fmt = args.format or "mp4"
    out = Path(args.out).expanduser()
    stems = [path.stem for path in inputs]
    twins = sorted({stem for stem in stems if stems.count(stem) > 1})
    if twins:
        raise ValueError(f"{args.input} holds several inputs named {twins[0]} (different suffixes): their flights "
                         f"would both be {out / twins[0]}.{fmt}; rename or move one")
    destinations = [f"{out / stem}{os.sep}" if fmt == "png" else str(out / f"{stem}.{fmt}") for stem in stems]
    for destination in destinations:
        check_output(destination, args.fps, what="--fps")
    return destinations


def _pipeline(args: Namespace):
    """The flight every flight of the folder is like: ``--weights``' refiner, else the weight-free one."""
    from viewgen.cli.fly import load_weights
    from viewgen.cli.fly_world import choose_memory
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    if args.weights is not None:
        pipe = load_weights(args)
    else:
        size = tuple(args.size) if args.size is not None else DEFAULT_SIZE
        pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=size, controller=args.path, seed=args.seed,
                                                               device=args.device, precision=args.precision))
    pipe.memory = choose_memory(args.memory, pipe.memory, weight_free=args.weights is None)
    return pipe


def _load(paths: list[Path], args: Namespace) -> list:
    """Each input's :class:`~viewgen.io.rgbd_files.RGBDInput`; their warnings printed to stderr."""
    from viewgen.pipelines.inputs import resolve_input

    starts = []
    for path in paths:
        start = resolve_input(str(path), depth=args.depth, device=args.device).rgbd_input
        for message in start.warnings:
            print(f"viewgen: warning: {message}", file=sys.stderr)
        starts.append(start)
    return starts


def _fly_group(pipe, paths: list[Path], destinations: list[str], writers: list, args: Namespace, progress) -> None:
    """Fly ``paths`` as one :class:`FlightBatch`, ``--frames`` frames each, into the writers of ``destinations``
    (opened here into ``writers``, so the caller holds every one opened when this stops) and close them."""
    import warnings

    from viewgen.cli.fly_world import CameraLog
    from viewgen.io.rgbd_files import InputWarning
    from viewgen.io.video import open_frame_writer
    from viewgen.pipelines.flight_batch import FlightBatch
    from viewgen.runtime import FreeCoreThreads

    starts = _load(paths, args)
    batch = FlightBatch.like(pipe, [args.seed] * len(paths))
    size = tuple(pipe.config.image_size)
    for destination in destinations:
        writers.append(open_frame_writer(destination, fps=args.fps, size=size))
    cameras = [CameraLog() for _ in paths]
    threads = None if "OMP_NUM_THREADS" in os.environ else FreeCoreThreads()  # as fly.py's single flight
    with warnings.catch_warnings():  # _load printed the inputs' warnings already, naming the files
        warnings.simplefilter("ignore", InputWarning)
        frames = batch.reset([start.rgbd for start in starts], intrinsics=[start.intrinsics for start in starts])
    for index in range(args.frames):
        if index:
            if threads is not None:
                threads.update()
            frames = batch.step()
        for frame, writer, log in zip(frames, writers, cameras):
            writer.write(frame.rgb[0].float().cpu(), frame.disparity[0].float().cpu())
            log.keep(frame)
        progress.update(len(frames))
    for writer, log in zip(writers, cameras):
        log.write_into(writer)
        writer.close()


def _interrupted(interrupt: KeyboardInterrupt, writers: list, done: int, total: int, out: str) -> int:
    """After a Ctrl-C or SIGTERM: publish the frames done so far of the flights in progress (``writers``; ``done``
    flights were complete before them), say so in one stderr line, return the exit status (130 or 143)."""
    from viewgen.cli.signals import interrupt_exit_status

    complete = done + sum(writer.closed for writer in writers)
    kept = sum(writer.abort() is not None for writer in writers if not writer.closed)
    status = interrupt_exit_status(interrupt)
    cause = "interrupted" if status == 130 else "terminated"
    partial = f"; kept the frames done so far of {kept} more" if kept else ""
    print(f"viewgen: {cause}: {complete} of {total} flights were complete in {out}{partial}", file=sys.stderr)
    return status


def run_folder(args: Namespace) -> int:
    """``viewgen fly DIR``: every input of ``DIR`` flown ``--batch`` at a time (module doc)."""
    from tqdm import tqdm

    _check_folder_args(args)
    folder = Path(args.input).expanduser()
    inputs = folder_inputs(folder)
    destinations = _destinations(args, inputs)
    batch_size = args.batch or DEFAULT_BATCH
    pipe = _pipeline(args)
    height, width = pipe.config.image_size
    print(f"flying {len(inputs)} inputs of {args.input}, {args.frames} frames each at {height}x{width} "
          f"({args.path}), {batch_size} at a time", file=sys.stderr)
    began, done = time.perf_counter(), 0
    progress = tqdm(total=len(inputs) * args.frames, unit="frame", file=sys.stderr, dynamic_ncols=True,
                    disable=not sys.stderr.isatty(), leave=False)
    try:
        for first in range(0, len(inputs), batch_size):
            group = slice(first, first + batch_size)
            writers: list = []
            try:
                _fly_group(pipe, inputs[group], destinations[group], writers, args, progress)
            except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: keep the frames done so far
                return _interrupted(interrupt, writers, done, len(inputs), args.out)
            except BaseException:  # an error: the flights in progress must not replace existing outputs
                for writer in writers:
                    writer.discard()
                raise
            done += len(writers)
    finally:
        progress.close()
    elapsed = time.perf_counter() - began
    rate = done * args.frames / elapsed if elapsed > 0 else float("inf")
    print(f"wrote {done} flights of {args.frames} frames ({height}x{width}, {args.fps:g} fps) to {args.out} "
          f"in {elapsed:.1f} s ({rate:.1f} frames/s, {batch_size} at a time)")
    return 0
