"""``viewgen depth``: estimate a disparity map for a photo."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path

from viewgen.cli.options import size_type
from viewgen.io.limits import WORKING_MAX_SIDE, fit_long_side

MAX_SIDE = 8192
OUTPUT_SUFFIXES = (".png", ".npy")


def add_parser(subparsers) -> None:
    """Register ``depth`` on the ``viewgen`` subcommand parsers."""
    from viewgen.depth.base import NORMALIZATIONS
    from viewgen.depth.registry import DEFAULT_BACKEND, available_backends

    names = ", ".join(available_backends())
    depth = subparsers.add_parser(
        "depth", help="estimate a disparity map (near = bright) for a photo",
        description="Estimate disparity (1/depth, normalized to [0, 1]) for IMAGE and write it as a 16-bit "
                    "PNG (value = round(d * 65535)) or a float32 .npy. Backends: " + names + ". --out and --preview "
                    "are written under hidden names and renamed into place together once both are complete, so "
                    "a failed or interrupted run leaves existing files as they were.")
    depth.add_argument("image", help="the photo (PNG, JPEG, ...)")
    depth.add_argument("--backend", "--depth", dest="backend", default=DEFAULT_BACKEND, metavar="NAME",
                       help=f"depth backend, or file:PATH for an existing disparity map (default {DEFAULT_BACKEND})")
    depth.add_argument("--out", default="disparity.png", help="output .png (16-bit) or .npy (default disparity.png)")
    depth.add_argument("--preview", default=None, metavar="PNG",
                       help=f"also write a color preview (near = red), its longer side at most {WORKING_MAX_SIDE}")
    depth.add_argument("--size", type=parse_size, default=None, metavar="HxW",
                       help="output size (default: the image's; photos up to 50 Mpx are accepted)")
    depth.add_argument("--normalization", choices=NORMALIZATIONS, default="minmax",
                       help="minmax (the original Infinite Nature's), percentile (p1/p97, robust) or none")
    depth.add_argument("--weights", default=None, metavar="PATH",
                       help="weights file (MiDaS) or model folder / Hugging Face id (transformers backends)")
    depth.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    depth.set_defaults(run=run)


parse_size = size_type(1, MAX_SIDE)


def _check_outputs(args: Namespace) -> tuple[Path, Path | None]:
    """``--out`` and ``--preview`` as paths; one-line errors, before any work, for unusable ones."""
    from viewgen.cli.outputs import check_output_file

    out = Path(args.out)
    replaced = check_output_file(out, "--out", OUTPUT_SUFFIXES)
    preview = Path(args.preview) if args.preview else None
    if preview is not None and check_output_file(preview, "--preview", (".png",)) == replaced:
        raise ValueError(f"--out and --preview name the same file ({out}, {preview}); give two names")
    return out, preview


def run(args: Namespace) -> int:
    from viewgen.depth import get_estimator
    from viewgen.io.images import load_image_with_size

    out, preview = _check_outputs(args)
    # Every backend estimates at <= 518 px a side, so the photo is shrunk while still 8/16-bit;
    # the disparity comes out at the full photo's size (or --size).
    image, (height, width) = load_image_with_size(args.image, max_side=WORKING_MAX_SIDE)
    started = time.perf_counter()
    estimator = get_estimator(args.backend, device=args.device, weights=args.weights)
    loaded = time.perf_counter()
    disparity = estimator(image, size=args.size or (height, width), normalization=args.normalization)
    done = time.perf_counter()
    _write_outputs(out, preview, disparity)
    net_h, net_w = estimator.input_size(*image.shape[-2:])
    out_h, out_w = disparity.shape[-2:]
    print(f"{out}: {out_h}x{out_w} disparity of {Path(args.image).name} ({height}x{width}) from {estimator.name} "
          f"at {net_h}x{net_w}, {args.normalization} normalized; load {loaded - started:.1f} s, "
          f"estimate {done - loaded:.2f} s" + (f"; preview {preview}" if preview else ""))
    return 0


def _write_outputs(out: Path, preview: Path | None, disparity) -> None:
    """The disparity ``[1, 1, H, W]`` to ``out`` (16-bit PNG or float32 .npy) and its preview, published together."""
    import numpy as np

    from viewgen.cli.outputs import write_outputs
    from viewgen.io.images import write_disparity_png16

    if out.suffix.lower() == ".npy":
        array = disparity[0, 0].cpu().numpy().astype(np.float32)
        writes = [(out, lambda hidden: _save_npy(hidden, array))]
    else:
        writes = [(out, lambda hidden: write_disparity_png16(hidden, disparity[0, 0]))]
    if preview is not None:
        writes.append((preview, lambda hidden: _write_preview(hidden, disparity)))
    write_outputs(writes)


def _save_npy(path: Path, array) -> None:
    """``array`` to ``path`` (already the hidden name :func:`write_outputs` renames into place)."""
    import numpy as np

    with open(path, "wb") as stream:
        np.save(stream, array, allow_pickle=False)


def _write_preview(path: Path, disparity) -> None:
    """A Turbo-colored PNG of disparity ``[1, 1, H, W]``, its longer side at most ``WORKING_MAX_SIDE``."""
    from viewgen.depth.base import resize_disparity
    from viewgen.depth.colormap import colorize_disparity
    from viewgen.io.images import write_png_atomic

    small = resize_disparity(disparity, fit_long_side(*disparity.shape[-2:], WORKING_MAX_SIDE))
    write_png_atomic(path, colorize_disparity(small)[0])
