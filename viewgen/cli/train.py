"""``viewgen train enr|infinite-nature|infinite-nature-zero``: train a model family with Lightning into a resumable
run folder.

``enr`` trains on pairs of posed views of a split in Apple's layout (``--data DIR``); ``infinite-nature``
on clip windows of the synthetic world rendered on the fly (``--data synthetic``, the default) or posed
clips; ``infinite-nature-zero`` on single photos: the synthetic world's views (the default) or a folder in
the LHQ layout.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from viewgen.cli.options import count_type, seed_type

__all__ = ["add_parser", "run"]

_FAMILIES = ("enr", "infinite-nature", "infinite-nature-zero")
_LABELS = {"enr": "ENR", "infinite-nature": "Infinite Nature", "infinite-nature-zero": "Infinite Nature Zero"}


def add_parser(subparsers) -> None:
    """Register ``train`` on the ``viewgen`` subcommand parsers."""
    from viewgen.training.presets import ENR_PRESETS, INFINITE_NATURE_PRESETS, INFINITE_NATURE_ZERO_PRESETS

    command = subparsers.add_parser(
        "train", help="train a model family (enr, infinite-nature, infinite-nature-zero) with Lightning; resumable, "
                      "one machine to many",
        description="Train ENR on pairs of views of the split --data (Apple's layout, e.g. from `viewgen "
                    "synth-objects`), or Infinite Nature on render-refine-repeat rollouts (--data synthetic: the "
                    "synthetic world's clips, rendered on the fly), or Infinite Nature Zero on cycles and autopilot "
                    "flights from single photos (--data synthetic, or a folder in the LHQ layout), into the run "
                    "folder --out: config.json, "
                    "checkpoints/, logs/, samples/, loss_curve.png and release/ (from_pretrained weights). The same "
                    "command on the same folder resumes from its newest check-point (with no step lost or "
                    "repeated); only --max-steps and --max-epochs may change. Several GPUs or nodes: --devices / "
                    "--num-nodes with --strategy ddp (docs/training.md).")
    command.add_argument("family", choices=_FAMILIES, help="the model family")
    command.add_argument("--data", metavar="DIR", help="enr: the training split (<scene>/NNNNN.png + "
                         "render_params.json); infinite-nature: synthetic (the default), a GoogleEarth-Infinite "
                         "folder, or posed clips in the RealEstate10K / ACID layout (viewgen synth, or real clips "
                         "after viewgen prepare-clips); infinite-nature-zero: synthetic (the default) or photos in the "
                         "LHQ layout (images/ + midas-disp/ from viewgen prepare-photos)")
    command.add_argument("--val-data", metavar="DIR", help="a validation split (loss and PSNR every validate_every "
                         "steps)")
    presets = sorted({*ENR_PRESETS, *INFINITE_NATURE_PRESETS, *INFINITE_NATURE_ZERO_PRESETS})
    command.add_argument("--preset", required=True, choices=presets,
                         help=f"enr: {', '.join(ENR_PRESETS)}; infinite-nature: {', '.join(INFINITE_NATURE_PRESETS)}; "
                              f"infinite-nature-zero: {', '.join(INFINITE_NATURE_ZERO_PRESETS)}")
    command.add_argument("--init", metavar="DIR", help="infinite-nature(-zero): fine-tune this release folder "
                         "(converted official weights with --preset paper, or an export)")
    command.add_argument("--out", required=True, metavar="DIR", help="the run folder (new, or one to resume)")
    command.add_argument("--max-steps", type=count_type(1), metavar="N", help="stop after N optimiser steps")
    command.add_argument("--max-epochs", type=count_type(1), metavar="N", help="stop after N epochs")
    command.add_argument("--pairs-per-batch", type=count_type(1), metavar="P", help="enr: pairs per process and step")
    command.add_argument("--batch-size", type=count_type(1), metavar="B",
                         help="infinite-nature(-zero): clip windows (photos) per process and step")
    command.add_argument("--clip-stride", type=count_type(1), metavar="N",
                         help="infinite-nature on posed clips: clip frames between two window frames (default 1)")
    command.add_argument("--lr", type=float, metavar="LR", help="Adam's learning rate")
    command.add_argument("--seed", type=seed_type, metavar="S", help="seed of the weights and the pair order")
    command.add_argument("--checkpoint-every", type=count_type(1), metavar="N", help="check-point every N steps")
    command.add_argument("--validate-every", type=count_type(1), metavar="N",
                         help="with --val-data: validation loss and PSNR every N steps")
    command.add_argument("--workers", type=count_type(0), metavar="N", help="data loader processes")
    command.add_argument("--precision", help="Lightning precision: 32-true (default), bf16-mixed, 16-mixed")
    command.add_argument("--accelerator", default="auto", help="cpu, gpu or auto (default)")
    command.add_argument("--devices", default="1", help="devices per node, or auto (default 1)")
    command.add_argument("--num-nodes", type=count_type(1), default=1, metavar="N", help="machines (default 1)")
    command.add_argument("--strategy", default="auto", help="Lightning strategy: auto (default), ddp, ...")
    command.set_defaults(run=run)


def _config(args: Namespace):
    from viewgen.training.presets import preset

    fields = {"max_steps": args.max_steps, "max_epochs": args.max_epochs, "learning_rate": args.lr, "seed": args.seed,
              "checkpoint_every": args.checkpoint_every, "validate_every": args.validate_every,
              "num_workers": args.workers, "precision": args.precision}
    own = {"enr": {"pairs_per_batch": args.pairs_per_batch},
           "infinite-nature": {"batch_size": args.batch_size, "clip_stride": args.clip_stride},
           "infinite-nature-zero": {"batch_size": args.batch_size}}
    other = {"enr": (("--batch-size", args.batch_size), ("--clip-stride", args.clip_stride)),
             "infinite-nature": (("--pairs-per-batch", args.pairs_per_batch),),
             "infinite-nature-zero": (("--pairs-per-batch", args.pairs_per_batch), ("--clip-stride", args.clip_stride))}
    for option, value in other[args.family]:
        if value is not None:
            raise ValueError(f"{option} is not an option of {args.family} training")
    fields.update(own[args.family])
    return preset(args.family, args.preset, **{name: value for name, value in fields.items() if value is not None})


def _train(args: Namespace, config, devices):
    from viewgen.training.families import train_enr, train_infinite_nature, train_infinite_nature_zero

    hardware = {"accelerator": args.accelerator, "devices": devices, "num_nodes": args.num_nodes,
                "strategy": args.strategy, "progress": sys.stderr.isatty()}
    if args.family == "enr":
        if args.init is not None:
            raise ValueError("--init is not an option of enr training")
        if args.data is None:
            raise ValueError("viewgen train enr needs --data DIR (a split in Apple's layout, e.g. from viewgen "
                             "synth-objects)")
        return train_enr(config, args.data, args.out, val_data=args.val_data, **hardware)
    if args.val_data is not None:
        raise ValueError(f"--val-data is not an option of {args.family} training (its data has no validation split)")
    train = train_infinite_nature if args.family == "infinite-nature" else train_infinite_nature_zero
    return train(config, args.out, args.data or "synthetic", init=args.init, **hardware)


def _devices(text: str):
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--devices must be a number >= 1 or auto, got {text!r}")
    return int(text)


def _quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (devices found, tips, a torch deprecation it triggers) off the terminal:
    the progress bar and the closing line say what matters; warnings about the run itself still show."""
    import logging
    import warnings

    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def run(args: Namespace) -> int:
    try:
        import lightning  # noqa: F401
    except ImportError:
        raise ValueError("training needs Lightning: pip install 'viewgen[train]'") from None
    from viewgen.training.checkpoints import newest_checkpoint, step_of

    config, devices = _config(args), _devices(args.devices)
    _quiet_lightning()
    try:
        summary = _train(args, config, devices)
    except (SystemExit, KeyboardInterrupt) as stop:
        # Lightning ends a fit interrupted by Ctrl-C (or SIGTERM, which viewgen turns into one) with SystemExit(1)
        # after its own clean-up; the interrupt is its context. Before the fit starts it arrives as it is.
        from viewgen.cli.signals import interrupt_exit_status

        interrupt = stop if isinstance(stop, KeyboardInterrupt) else stop.__context__
        if not isinstance(interrupt, KeyboardInterrupt):
            raise
        status = interrupt_exit_status(interrupt)
        newest = newest_checkpoint(Path(args.out) / "checkpoints")
        where = f"its newest check-point is step {step_of(newest)}" if newest else "it has no check-point yet"
        print(f"viewgen: {'interrupted' if status == 130 else 'terminated'}: {where}; the same command resumes it",
              file=sys.stderr)
        return status
    if not summary.is_global_zero:
        return 0
    start = f"resumed at step {summary.first_step}, " if summary.resumed_from else ""
    validation = f", val PSNR {summary.val_psnr:.2f} dB" if summary.val_psnr == summary.val_psnr else ""
    processes = f" on {summary.processes} processes" if summary.processes > 1 else ""
    steps = summary.last_step - summary.first_step
    print(f"trained {_LABELS[args.family]} ({args.preset}) to step {summary.last_step} ({start}{steps} steps in "
          f"{summary.seconds:.1f} s{processes}); last train loss {summary.train_loss:.4f}{validation}; release "
          f"weights in {summary.release}")
    return 0
