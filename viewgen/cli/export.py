"""``viewgen export RUN_DIR OUT_DIR``: a training run's check-point -> release weights (``from_pretrained``)."""

from __future__ import annotations

from argparse import Namespace

from viewgen.cli.options import count_type

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register ``export`` on the ``viewgen`` subcommand parsers."""
    command = subparsers.add_parser(
        "export", help="export a training run's check-point as release weights",
        description="Write the model of RUN_DIR's newest check-point (or of --step) to OUT_DIR as config.json + "
                    "model.safetensors, what from_pretrained and --weights read. OUT_DIR may be new, empty or "
                    "hold only earlier release weights; it is replaced whole.")
    command.add_argument("run_dir", help="a folder written by `viewgen train`")
    command.add_argument("out_dir", help="the release folder to write")
    command.add_argument("--step", type=count_type(0), metavar="N", help="the check-point of step N (default: "
                                                                         "the newest)")
    command.set_defaults(run=run)


def run(args: Namespace) -> int:
    try:
        from viewgen.training.runs import export_run
    except ImportError:
        raise ValueError("reading training check-points needs Lightning: pip install 'viewgen[train]'") from None
    checkpoint, _ = export_run(args.run_dir, args.out_dir, args.step)
    print(f"exported {checkpoint.name} of {args.run_dir} to {args.out_dir}")
    return 0
