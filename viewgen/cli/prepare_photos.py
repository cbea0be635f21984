"""``viewgen prepare-photos DIR --depth NAME [--sky NAME]``: every photo's disparity (and sky mask), cached for
Infinite Nature Zero's training."""

from __future__ import annotations

import time
from argparse import Namespace

from viewgen.cli.prepare_clips import add_depth_arguments, load_depth_backend, progress_bar

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register ``prepare-photos`` on the ``viewgen`` subcommand parsers."""
    command = subparsers.add_parser(
        "prepare-photos", help="estimate and cache every photo's disparity of a photo folder (LHQ layout) for "
                               "Infinite Nature Zero's training",
        description="For every photo DIR/images/<stem>.png, .jpg or .jpeg (DIR/train/images/... when DIR/train "
                    "exists) without a disparity file yet, estimate its disparity with the depth backend --depth "
                    "(min-max normalised) and write it as DIR/midas-disp/<stem>.npy (float32, the photo's size), "
                    "as Infinite Nature Zero's LHQ data has it. Each file is written whole under a hidden name and "
                    "renamed; photos already prepared are skipped, so running it again resumes. With --sky NAME, a sky "
                    "segmentation backend also writes DIR/sky_mask/<stem>.png (0/255, 255 = sky) for every photo "
                    "without one, the same way; otherwise the dataset reads the masks that are there "
                    "(docs/training.md).")
    command.add_argument("root", metavar="DIR", help="the photo folder (images/, and midas-disp/ once prepared)")
    add_depth_arguments(command)
    command.add_argument("--sky", default=None, metavar="NAME",
                         help="also write each photo's sky mask with this segmentation backend (segformer-b0-ade, "
                              "segformer-b5-ade, or a model folder; needs viewgen[depth]) (default: none)")
    command.add_argument("--sky-weights", default=None, metavar="DIR",
                         help="the --sky backend's model folder (default: the Hugging Face cache)")
    command.set_defaults(run=run)


def _check_sky(args: Namespace) -> None:
    """One-line refusals of ``--sky`` / ``--sky-weights`` before any backend loads."""
    from viewgen.segmentation import available_sky_backends, is_sky_backend

    if args.sky is None and args.sky_weights is not None:
        raise ValueError("--sky-weights needs --sky NAME, a segmentation backend")
    if args.sky is not None and not is_sky_backend(args.sky):
        raise ValueError(f"--sky {args.sky}: prepare-photos needs a sky segmentation backend "
                         f"({', '.join(available_sky_backends())}) or its model folder")


def run(args: Namespace) -> int:
    from viewgen.data.photo_folders import list_photos, prepare_photos

    list_photos(args.root)  # a missing folder or one without photos fails before the backend loads
    _check_sky(args)
    started = time.perf_counter()
    estimator = load_depth_backend(args, "prepare-photos", item="photo")
    segmenter = None
    if args.sky is not None:
        from viewgen.segmentation import load_sky_segmenter

        segmenter = load_sky_segmenter(args.sky, weights=args.sky_weights, device=args.device)
    with progress_bar("photo", "prepare-photos") as bar:
        summary = prepare_photos(args.root, estimator, on_photo=lambda: bar.update(1),
                                 on_start=lambda total: setattr(bar, "total", total), segmenter=segmenter)
    seconds = time.perf_counter() - started
    skies = "" if segmenter is None else (f"; {summary.skies_written} sky masks with {args.sky} "
                                          f"({summary.skies_skipped} already there) in {summary.sky_folder}")
    print(f"prepared {summary.prepared} photos ({summary.skipped} skipped, already prepared) in {summary.folder} "
          f"in {seconds:.1f} s{skies}")
    return 0
