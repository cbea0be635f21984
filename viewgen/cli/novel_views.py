"""``viewgen novel-views``: new views of one object image with Equivariant Neural Rendering.

``--out grid.png`` (or ``.jpg``): the input beside one view per ``(--azimuth-shifts[i],
--elevation-shifts[i])``; ``--out orbit.gif`` / ``orbit.mp4`` / a folder: ``--views`` frames of an
azimuth sweep all the way round (at ``--elevation-shifts``' single value). Outputs are checked
before any work and written whole; Ctrl-C keeps an orbit's frames done so far.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

from viewgen.cli.outputs import IMAGE_FORMATS, check_output_file, write_outputs

__all__ = ["add_parser", "run"]

DEFAULT_AZIMUTH_SHIFTS = "-90,-45,45,90,180"
MAX_VIEWS = 3600
APPLE_MODELS = ("Apple's trained-models/chairs.pt (github.com/apple/ml-equivariant-neural-rendering) or "
                "https://icml20-prod.cdn-apple.com/eqn-data/models/pre-trained_models.zip")


def add_parser(subparsers) -> None:
    """Register ``novel-views`` on the ``viewgen`` subcommand parsers."""
    command = subparsers.add_parser(
        "novel-views", help="new views of an object image (Equivariant Neural Rendering)",
        description="Infer the object's 3D feature volume from one image, turn it, and render it from other "
                    "camera views (azimuth / elevation in degrees; positive azimuth moves the camera right, "
                    "positive elevation up; docs/enr.md). --out .png/.jpg: a grid of the input and one view per "
                    "shift; .gif, .mp4 or a folder: an orbit all the way round.")
    command.add_argument("image", nargs="?", default="object:1",
                         help="the object image (any size: its centred square is resized to the model's), or an "
                              "example object:1..4 (chair, table, car, mug; default object:1)")
    command.add_argument("--weights", metavar="PATH",
                         help="Apple's ENR checkpoint (.pt), a folder from `viewgen convert enr` or `viewgen train "
                              "enr`; default: the embedded model (64x64, trained on synthetic objects). "
                              f"{APPLE_MODELS}")
    command.add_argument("--azimuth-source", type=float, metavar="A",
                         help="azimuth (degrees) the image was taken from (an example knows its own)")
    command.add_argument("--elevation-source", type=float, metavar="E",
                         help="elevation (degrees) the image was taken from (an example knows its own)")
    command.add_argument("--azimuth-shifts", default=DEFAULT_AZIMUTH_SHIFTS, metavar="LIST",
                         help=f"grid: comma-separated azimuth shifts in degrees (default {DEFAULT_AZIMUTH_SHIFTS})")
    command.add_argument("--elevation-shifts", default="0", metavar="LIST",
                         help="grid: elevation shifts, one per azimuth shift or one for all; orbit: one value "
                              "(default 0)")
    command.add_argument("--views", type=int, default=36, metavar="N", help="orbit: views all the way round "
                                                                             "(default 36)")
    command.add_argument("--fps", type=float, default=12.0, help="orbit: frames per second (default 12)")
    command.add_argument("--out", default="novel_views.png", metavar="PATH",
                         help=".png/.jpg (a grid), .gif/.mp4 or a folder (an orbit); default novel_views.png")
    command.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    command.add_argument("--precision", choices=("exact", "fast"), default="exact",
                         help="exact (default: Apple's float32 arithmetic) or fast: the renderers in bfloat16 on a "
                              "GPU or a CPU with native bfloat16 (2.9x faster per view on an AMX CPU; docs/enr.md "
                              "gives its error)")
    command.set_defaults(run=run)


def _angles(text: str, option: str) -> list[float]:
    import math

    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(value) for value in values):
        raise ValueError(f"{option} must be comma-separated numbers of degrees, got {text!r}")
    return values


def _check(args: Namespace) -> tuple[str, list[float], list[float]]:
    """``(kind, azimuth shifts, elevation shifts)``; one-line errors before any work."""
    from viewgen.io.video import check_output

    azimuths = _angles(args.azimuth_shifts, "--azimuth-shifts")
    elevations = _angles(args.elevation_shifts, "--elevation-shifts")
    suffix = Path(args.out).suffix.lower()
    if suffix in IMAGE_FORMATS:
        if len(elevations) not in (1, len(azimuths)):
            raise ValueError(f"--elevation-shifts needs 1 or {len(azimuths)} values (one per azimuth shift), "
                             f"got {len(elevations)}")
        check_output_file(Path(args.out), "--out", tuple(IMAGE_FORMATS))
        return "grid", azimuths, elevations * (len(azimuths) if len(elevations) == 1 else 1)
    if suffix and suffix not in (".gif", ".mp4"):
        raise ValueError(f"unsupported --out {args.out}: a grid is .png or .jpg, an orbit .gif, .mp4 or a folder")
    if not 1 <= args.views <= MAX_VIEWS:
        raise ValueError(f"--views must be between 1 and {MAX_VIEWS}, got {args.views}")
    if len(elevations) != 1:
        raise ValueError(f"an orbit takes one --elevation-shifts value, got {len(elevations)}")
    check_output(args.out, args.fps, what="--fps")
    return "orbit", azimuths, elevations


def _pipeline(args: Namespace):
    from viewgen.pipelines.novel_view import NovelViewPipeline

    if args.weights is None:
        return NovelViewPipeline.default(device=args.device, precision=args.precision)
    if not Path(args.weights).exists():
        raise FileNotFoundError(f"--weights {args.weights} does not exist: download {APPLE_MODELS}")
    return NovelViewPipeline.from_pretrained(args.weights, device=args.device, precision=args.precision)


def _source(args: Namespace):
    """The image (a path, or an example's pixels) with ``args``' source angles filled in for an example."""
    from viewgen.data.objects.examples import example_object, is_example
    from viewgen.geometry.rotations import finite_degrees

    for option, value in (("--azimuth-source", args.azimuth_source), ("--elevation-source", args.elevation_source)):
        if value is not None:
            finite_degrees(value, option)
    if not is_example(args.image):
        if not Path(args.image).is_file():
            raise FileNotFoundError(f"no image at {args.image} (or name an example: object:1..4)")
        if args.azimuth_source is None or args.elevation_source is None:
            raise ValueError("--azimuth-source and --elevation-source are needed for an image file (the camera "
                             "angles it was taken from; an example object:N knows its own)")
        return args.image
    example = example_object(args.image)
    args.azimuth_source = example.azimuth_deg if args.azimuth_source is None else args.azimuth_source
    args.elevation_source = example.elevation_deg if args.elevation_source is None else args.elevation_source
    return example.image


def run(args: Namespace) -> int:
    kind, azimuths, elevations = _check(args)
    source = _source(args)
    pipe = _pipeline(args)
    image = pipe.prepare(source)
    height, width = pipe.image_size
    began = time.perf_counter()
    if kind == "grid":
        count = _write_grid(pipe, image, args, azimuths, elevations)
    else:
        from viewgen.cli.signals import finish_interrupted
        from viewgen.io.video import open_frame_writer

        writer = open_frame_writer(args.out, fps=args.fps, size=(height, width))
        try:
            _write_orbit(pipe, image, args, elevations[0], writer)
        except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: keep the views done so far
            return finish_interrupted(interrupt, writer, args.out)
        except BaseException:
            writer.discard()
            raise
        writer.close()
        count = writer.frames_written
    elapsed = time.perf_counter() - began
    print(f"wrote {count} view(s) of {height}x{width} to {args.out} in {elapsed:.1f} s "
          f"({count / max(elapsed, 1e-9):.1f} views/s)")
    return 0


def _write_grid(pipe, image, args: Namespace, azimuths: list[float], elevations: list[float]) -> int:
    import torch
    from tqdm import tqdm

    from viewgen.io.images import to_uint8_hwc

    views = []
    scene = pipe.inverse_render(image)
    for azimuth, elevation in tqdm(list(zip(azimuths, elevations)), unit="view", file=sys.stderr, leave=False,
                                   disable=not sys.stderr.isatty()):
        turned = pipe.rotate_source_to_target(scene, args.azimuth_source, args.elevation_source,
                                              args.azimuth_source + azimuth, args.elevation_source + elevation)
        views.append(pipe.render(turned)[0].cpu())
    gap = torch.ones(3, image.shape[-2], 4)
    panels = [image[0].cpu()] + views
    grid = torch.cat([piece for panel in panels for piece in (panel, gap)][:-1], dim=2)

    def write(path: Path) -> None:
        from PIL import Image

        Image.fromarray(to_uint8_hwc(grid)).save(path, format=IMAGE_FORMATS[Path(args.out).suffix.lower()])

    write_outputs([(Path(args.out), write)])
    return len(views)


def _write_orbit(pipe, image, args: Namespace, elevation: float, writer) -> None:
    """Write ``args.views`` views all the way round into ``writer`` (an interrupt propagates)."""
    from tqdm import tqdm

    with tqdm(total=args.views, unit="view", file=sys.stderr, leave=False,
              disable=not sys.stderr.isatty()) as progress:
        for view in pipe.orbit(image, args.azimuth_source, args.elevation_source, args.views, elevation):
            writer.write(view.cpu())
            progress.update(1)
