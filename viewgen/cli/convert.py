"""``viewgen convert FORMAT ...``: convert a foreign checkpoint to viewgen's release format."""

from __future__ import annotations

from argparse import Namespace

__all__ = ["add_parser", "run", "run_enr", "run_zero"]


def add_parser(subparsers) -> None:
    """Register ``convert`` (and its formats) on the ``viewgen`` subcommand parsers."""
    convert = subparsers.add_parser("convert", help="convert a foreign checkpoint to viewgen's format")
    convert_sub = convert.add_subparsers(dest="format", required=True, metavar="FORMAT")
    infinite = convert_sub.add_parser("infinite-nature", help="the original TensorFlow Infinite Nature checkpoint")
    infinite.add_argument("prefix", help="checkpoint prefix, e.g. ckpt/model.ckpt-6935893")
    infinite.add_argument("out_dir", help="output folder (style_encoder/, spade_generator/, ...)")
    infinite.set_defaults(run=run)
    enr = convert_sub.add_parser("enr", help="Apple's ENR checkpoint (.pt) or a viewgen training check-point (.ckpt)",
                                 description="Read Apple's ENR checkpoint ({'config', 'state_dict'}, as "
                                             "NeuralRenderer.save writes it; loaded with weights_only), or a "
                                             "check-point of `viewgen train enr` (RUN/checkpoints/stepNNNNNNNN.ckpt), "
                                             "and write OUT_DIR/config.json + model.safetensors.")
    enr.add_argument("checkpoint", help="Apple's .pt (e.g. trained-models/chairs.pt) or a training .ckpt")
    enr.add_argument("out_dir", help="output folder (config.json, model.safetensors)")
    enr.set_defaults(run=run_enr)
    zero = convert_sub.add_parser(
        "infinite-nature-zero", help="the original Infinite Nature Zero checkpoint (checkpoints/*latest.tar)",
        description="Read the original PyTorch checkpoint ({'netG_ema': ...}; loaded with weights_only, strictly) and "
                    "write OUT_DIR/generator/ (config.json + model.safetensors), infinite_nature_zero.json and "
                    "manifest.json: the folder `viewgen fly --model infinite-nature-zero --weights` and "
                    "InfiniteNatureZeroPipeline.from_pretrained load.")
    zero.add_argument("checkpoint", help="the original *latest.tar, or the folder holding it (the last by name)")
    zero.add_argument("out_dir", help="output folder (new or empty; a former release in it is replaced)")
    zero.set_defaults(run=run_zero)


def run_enr(args: Namespace) -> int:
    """Convert Apple's ENR checkpoint (or export a training check-point) into a release folder."""
    from pathlib import Path

    if Path(args.checkpoint).suffix == ".ckpt":
        try:
            from viewgen.training.enr import export_release
        except ImportError:
            raise ValueError("reading a training check-point needs Lightning: pip install 'viewgen[train]'") from None
        model = export_release(args.checkpoint, args.out_dir)
    else:
        from viewgen.convert import convert_enr_checkpoint

        model = convert_enr_checkpoint(args.checkpoint, args.out_dir)
    values = sum(tensor.numel() for tensor in model.state_dict().values())
    height, width = model.config.image_size
    print(f"converted {len(model.state_dict())} tensors ({values:,} values; {height}x{width} images, scene "
          f"{'x'.join(map(str, model.config.scene_shape))}) to {args.out_dir}")
    return 0


def run(args: Namespace) -> int:
    """Convert the original TensorFlow Infinite Nature checkpoint."""
    from viewgen.convert import convert_infinite_nature_checkpoint

    summary = convert_infinite_nature_checkpoint(args.prefix, args.out_dir)
    print(f"converted {summary.num_variables_converted} variables ({summary.num_values_converted:,} values) "
          f"to {summary.out_dir}")
    return 0


def run_zero(args: Namespace) -> int:
    """Convert the original Infinite Nature Zero checkpoint into a release folder (``save_pretrained``'s)."""
    from viewgen.networks.stylegan2 import find_latest_checkpoint
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

    source = find_latest_checkpoint(args.checkpoint)  # a folder without *latest.tar (a release, say) is refused
    pipe = InfiniteNatureZeroPipeline.from_pretrained(source)
    out = pipe.save_pretrained(args.out_dir)
    state = pipe.refiner.generator.state_dict()
    values = sum(tensor.numel() for tensor in state.values())
    height, width = pipe.refiner.image_size
    print(f"converted {len(state)} tensors ({values:,} values; {height}x{width} frames) from {source.name} to {out}")
    return 0
