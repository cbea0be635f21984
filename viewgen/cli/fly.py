"""``viewgen fly``: fly into a photo, an RGBD file or an embedded sample, and write the flight.

The output kind follows ``--out``: ``.mp4`` (H.264), ``.gif``, or a directory of PNG frames.
The video holds exactly ``--frames`` frames: the starting frame, then the generated ones (fewer
when an Infinite Nature Zero flight stops at a crash: ``--model infinite-nature-zero``, in
:mod:`viewgen.cli.fly_zero`).
Ctrl-C or SIGTERM stops the flight and keeps the frames done so far (exit 130 / 143); an error
discards them and leaves an existing output as it was.
A folder INPUT flies each of its inputs, ``--batch`` at a time, into ``--out DIR`` (:mod:`viewgen.cli.fly_folder`).
"""

from __future__ import annotations

import os
import sys
import time
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass, replace

from viewgen.cli import fly_folder
from viewgen.cli.fly_world import CameraLog, WorldKeeper, add_world_options, check_world_args, choose_memory
from viewgen.cli.options import count_type, seed_type, size_type

# A flight keeps several frames' warps, meshes and refiner buffers: ~0.9 GB per Mpx (weight-free,
# measured: 1536x1536 peaked at 2.07 GB), so 1.5 Mpx keeps a flight well under 2 GB.
MAX_SIDE, MIN_SIDE, MAX_PIXELS = 2048, 16, 1536 * 1024
MAX_FRAMES = 100_000
MAX_FPS = 240
DEFAULT_LONG_SIDE = 512  # weight-free flights: the input is scaled so its long side is at most this
PATHS = ("autopilot", "straight", "zoom-in", "dolly", "swing", "circle", "there-and-back")
MODELS = ("infinite-nature", "infinite-nature-zero")
ON_CRASH = ("stop", "continue")
DEFAULT_OUT = "flight.mp4"


def add_parser(subparsers) -> None:
    fly = subparsers.add_parser(
        "fly", help="fly into an image and write the flight as .mp4, .gif or PNG frames",
        description="Perpetual view generation: fly into INPUT with the autopilot (or a scripted path).")
    fly.add_argument("input", nargs="?", default=None,
                     help="an image (needs a depth backend), sample:1..3, an RGBD .npz/.npy or an original "
                          "autocruise_input*.pkl (default: sample:1); or a folder of them: each flown into "
                          "--out DIR/<name>.<--format>")
    fly.add_argument("--frames", type=int, default=120, help="frames in the output, the start included (default 120)")
    fly.add_argument("--out", default=DEFAULT_OUT, help="output: .mp4, .gif or a directory for PNG frames "
                                                        f"(default {DEFAULT_OUT}); for a folder INPUT, the folder "
                                                        "to write its flights into")
    fly.add_argument("--batch", type=count_type(1, fly_folder.MAX_BATCH), default=None, metavar="N",
                     help=f"how many flights of a folder share each network call (default {fly_folder.DEFAULT_BATCH})")
    fly.add_argument("--format", choices=fly_folder.FORMATS, default=None,
                     help="a folder's flights: mp4, gif or png (a folder of PNG frames per input) (default mp4)")
    fly.add_argument("--model", choices=MODELS, default="infinite-nature",
                     help="infinite-nature (SPADE refiner, or weight-free without --weights) or "
                          "infinite-nature-zero (needs --weights) (default infinite-nature)")
    fly.add_argument("--weights", default=None, metavar="PATH",
                     help="converted Infinite Nature weights (see `viewgen convert`; without it the weight-free "
                          "refiner is used); for infinite-nature-zero the original *latest.tar, the folder "
                          "holding it, or a folder of `viewgen convert infinite-nature-zero`")
    fly.add_argument("--depth", default=None, metavar="NAME", help="depth backend for image inputs")
    fly.add_argument("--seed", type=seed_type, default=0,
                     help="seed of the weight-free flight's invented world (or of --weights' style sampling; "
                          "Zero: its dropout, latent and noise), 0 to 2**64 - 1 (default 0)")
    fly.add_argument("--fps", type=float, default=24.0, help="frames per second of the video (default 24)")
    fly.add_argument("--size", type=parse_size, default=None, metavar="HxW",
                     help="flight resolution (default: the weights' size, or the input's with its long "
                          f"side at most {DEFAULT_LONG_SIDE}); not for infinite-nature-zero (128x128)")
    fly.add_argument("--path", choices=PATHS, default="autopilot",
                     help="camera path (default autopilot; infinite-nature-zero flies its own autopilot only)")
    fly.add_argument("--on-crash", choices=ON_CRASH, default=None,
                     help="infinite-nature-zero: at a crash into an obstacle, stop and keep the frames (default) "
                          "or continue without that frame's sky correction")
    fly.add_argument("--sky", default=None, metavar="NAME_OR_FILE",
                     help="infinite-nature-zero: the sky mask of the input, from a segmentation backend "
                          "(segformer-b0-ade, segformer-b5-ade; needs viewgen[depth]) or its model folder, or a mask "
                          "image of the input's size (0/255 with 255 = sky, or a DeepLab COCO-Stuff label map: 156/105 "
                          "= sky) (default: the pixels of small disparity)")
    fly.add_argument("--sky-weights", default=None, metavar="DIR",
                     help="the --sky backend's model folder (default: the Hugging Face cache)")
    fly.add_argument("--save-disparity", action="store_true",
                     help="also write each frame's disparity as a 16-bit PNG (PNG-frame output only)")
    fly.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    fly.add_argument("--precision", choices=("exact", "fast"), default="exact",
                     help="exact (default: the original's arithmetic) or fast: the refiner in bfloat16 on a GPU or "
                          "a CPU with native bfloat16 (infinite-nature; docs/speed.md gives its error)")
    add_world_options(fly)
    fly.set_defaults(run=run)


parse_size = size_type(MIN_SIDE, MAX_SIDE, MAX_PIXELS)


def _check_args(args: Namespace) -> None:
    if not 1 <= args.frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be between 1 and {MAX_FRAMES}, got {args.frames}")
    if not 0 < args.fps <= MAX_FPS:
        raise ValueError(f"--fps must be in (0, {MAX_FPS}], got {args.fps:g}")


def _flight_size(args: Namespace, input_size: tuple[int, int]) -> tuple[int, int]:
    """The requested size, else the input's size scaled so the long side fits (even sides)."""
    if args.size is not None:
        return args.size
    height, width = input_size
    scale = min(1.0, DEFAULT_LONG_SIDE / max(height, width))
    return max(MIN_SIDE, round(height * scale / 2) * 2), max(MIN_SIDE, round(width * scale / 2) * 2)


@dataclass(frozen=True, eq=False)
class Flight:
    """What ``run`` needs of a model's flight, so the writing, progress and summary are shared.

    size: ``(H, W)`` of the frames; camera, refiner: words for the opening line.
    first: starts the flight, returns frame 0; next: the next frame, or ``None`` when the flight stopped.
    note: the closing summary's addition (``""`` when there is nothing to add), asked after the flight.
    """

    size: tuple[int, int]
    camera: str
    refiner: str
    first: Callable[[], object]
    next: Callable[[], object | None]
    note: Callable[[], str] = lambda: ""


def check_model_args(args: Namespace) -> None:
    """Options of one model only are refused for the other, before any work."""
    from viewgen.cli.fly_zero import check_not_zero_weights, check_zero_args

    if args.model == "infinite-nature-zero":
        check_zero_args(args)
        return
    if args.on_crash is not None:
        raise ValueError("--on-crash applies to --model infinite-nature-zero only (Infinite Nature flies on)")
    if args.sky is not None or args.sky_weights is not None:
        raise ValueError("--sky applies to --model infinite-nature-zero only (Infinite Nature refines the sky like "
                         "everything else)")
    check_not_zero_weights(args.weights)


def _plan(args: Namespace, start) -> Flight:
    """Infinite Nature's flight: the SPADE refiner from --weights, else the weight-free one."""
    import warnings

    from viewgen.io.rgbd_files import InputWarning
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    if args.weights is not None:
        pipe = load_weights(args)
        refiner = f"Infinite Nature's SPADE refiner from {args.weights}"
    else:
        size = _flight_size(args, tuple(start.rgbd.shape[-2:]))
        config = FlyThroughConfig(image_size=size, controller=args.path, seed=args.seed, device=args.device,
                                  precision=args.precision)
        pipe = FlyThroughPipeline.weight_free(config)
        refiner = ("the weight-free flight (the input set into a procedural world, --seed picks it); "
                   "pass --weights DIR for Infinite Nature's learned refiner")
    pipe.memory = choose_memory(args.memory, pipe.memory, weight_free=args.weights is None)
    if args.memory != "default":
        refiner += f", remembering {args.memory}"

    def first():
        with warnings.catch_warnings():  # run printed the input's warnings already, naming the file
            warnings.simplefilter("ignore", InputWarning)
            return pipe.reset(start.rgbd, intrinsics=start.intrinsics)

    return Flight(tuple(pipe.config.image_size), args.path, refiner, first, lambda: pipe.step())


def load_weights(args: Namespace):
    """The learned flight of ``--weights`` (on ``--device``, flying ``--path`` with ``--seed``); a ``--size`` other
    than the weights' is refused in one line."""
    from viewgen.pipelines import FlyThroughPipeline

    pipe = FlyThroughPipeline.from_pretrained(args.weights, device=args.device)
    weight_size = tuple(pipe.config.image_size)
    if args.size is not None and tuple(args.size) != weight_size:
        raise ValueError(f"the weights in {args.weights} work at {weight_size[0]}x{weight_size[1]}; "
                         f"drop --size or pass --size {weight_size[0]}x{weight_size[1]}")
    pipe.config = replace(pipe.config, controller=args.path, seed=args.seed, precision=args.precision)
    return pipe


def check_device(device: str, precision: str = "exact") -> None:
    """One-line refusals of a --device this machine lacks, or of --precision fast where bfloat16 is not native."""
    import torch

    from viewgen import devices

    if not device.startswith("cuda"):
        devices.check_precision(precision, torch.device("cpu"), "--precision")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here (use --device cpu)")
    if not device.startswith(("cpu", "cuda")):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {device!r}")


def run(args: Namespace) -> int:
    from viewgen.cli.signals import finish_interrupted
    from viewgen.io.video import check_output, open_frame_writer
    from viewgen.pipelines.inputs import resolve_input

    _check_args(args)
    if fly_folder.is_folder_input(args.input):
        return fly_folder.run_folder(args)
    fly_folder.refuse_folder_options(args)
    check_output(args.out, args.fps, args.save_disparity, what="--fps")
    check_model_args(args)
    check_world_args(args)
    check_device(args.device, args.precision)
    resolved = resolve_input(args.input, depth=args.depth, device=args.device)
    start = resolved.rgbd_input
    for message in start.warnings:
        print(f"viewgen: warning: {message}", file=sys.stderr)
    if args.model == "infinite-nature-zero":
        from viewgen.cli.fly_zero import plan_zero

        flight = plan_zero(args, start)
    else:
        flight = _plan(args, start)
    height, width = flight.size
    print(f"flying {args.frames} frames into {resolved.description} at {height}x{width} "
          f"({flight.camera}) with {flight.refiner}", file=sys.stderr)
    began = time.perf_counter()
    writer = open_frame_writer(args.out, fps=args.fps, size=(height, width), save_disparity=args.save_disparity)
    cameras = CameraLog()
    keepers = (cameras,) + ((WorldKeeper(args.world_every),) if args.save_world is not None else ())
    try:
        _fly_frames(flight, args.frames, writer, keepers)
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: keep the frames done so far
        cameras.write_into(writer)
        return finish_interrupted(interrupt, writer, args.out)
    except BaseException:  # an error: a partial flight must not replace an existing output
        writer.discard()
        raise
    cameras.write_into(writer)
    writer.close()
    elapsed = time.perf_counter() - began
    rate = writer.frames_written / elapsed if elapsed > 0 else float("inf")
    print(f"wrote {writer.frames_written} frames ({height}x{width}, {args.fps:g} fps) to {args.out} "
          f"in {elapsed:.1f} s ({rate:.1f} frames/s){flight.note()}")
    if args.save_world is not None:
        world = keepers[1].write(args.save_world, args.fps)
        print(f"wrote the world of {world.num_frames} frames to {args.save_world}: {world.num_points:,} points, "
              f"{world.num_faces:,} mesh faces, {world.num_splats:,} splats, {world.num_cameras} cameras")
    return 0


def _fly_frames(flight: Flight, num_frames: int, writer, keepers: tuple = ()) -> None:
    """Write the start frame and up to ``num_frames - 1`` generated ones into ``writer`` (fewer when
    ``flight.next`` says the flight stopped), and hand each to every ``keepers``' ``keep`` (cameras, the world).

    A Ctrl-C (or SIGTERM) propagates as ``KeyboardInterrupt``; the frames completed before it
    are in the writer, and the caller decides what to keep.
    """
    from tqdm import tqdm

    from viewgen.runtime import FreeCoreThreads

    progress = tqdm(total=num_frames, unit="frame", file=sys.stderr, dynamic_ncols=True,
                    disable=not sys.stderr.isatty(), leave=False)
    # Threads follow the cores other processes leave free, unless the user fixed the count.
    threads = None if "OMP_NUM_THREADS" in os.environ else FreeCoreThreads()
    try:
        frame = flight.first()
        for index in range(num_frames):
            if index:
                if threads is not None:
                    threads.update()
                frame = flight.next()
                if frame is None:
                    break
            writer.write(frame.rgb[0].float().cpu(), frame.disparity[0].float().cpu())
            for keeper in keepers:
                keeper.keep(frame)
            progress.update(1)
    finally:
        progress.close()
