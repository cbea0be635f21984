"""``viewgen convert FORMAT ...``: convert a foreign checkpoint to viewgen's release format."""

from __future__ import annotations

from argparse import Namespace

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register ``convert`` (and its formats) on the ``viewgen`` subcommand parsers."""
    convert = subparsers.add_parser("convert", help="convert a foreign checkpoint to viewgen's format")
    convert_sub = convert.add_subparsers(dest="format", required=True, metavar="FORMAT")
    infinite = convert_sub.add_parser("infinite-nature", help="the original TensorFlow Infinite Nature checkpoint")
    infinite.add_argument("prefix", help="checkpoint prefix, e.g. ckpt/model.ckpt-6935893")
    infinite.add_argument("out_dir", help="output folder (style_encoder/, spade_generator/, ...)")
    infinite.set_defaults(run=run)


def run(args: Namespace) -> int:
    """Convert the original TensorFlow Infinite Nature checkpoint (the only format so far)."""
    from viewgen.convert import convert_infinite_nature_checkpoint

    summary = convert_infinite_nature_checkpoint(args.prefix, args.out_dir)
    print(f"converted {summary.num_variables_converted} variables ({summary.num_values_converted:,} values) "
          f"to {summary.out_dir}")
    return 0
