"""A training run's folder and the run itself, for every model family: ``train_run(family, config, ...)``.

A family (:class:`RunFamily`; ENR's and Infinite Nature's are in :mod:`viewgen.training.families`)
says how to build its LightningModule from its config, which batch to draw samples of and how to
export a check-point; everything else (the folder, resuming, check-points, logs, curves, DDP) is
shared.

A run folder holds::

    config.json        the resolved training config, the data and the viewgen version (written first)
    checkpoints/       stepNNNNNNNN.ckpt, resumable (viewgen.training.checkpoints)
    logs/session_NNN/  the logs of each (re)start: Lightning's metrics.csv of the family's losses (ENR:
                       train/loss, train/pixel, train/ssim, val/loss, val/psnr) by step, which
                       viewgen.training.curves merges, and the same as TensorBoard events
                       (``tensorboard --logdir RUN/logs`` shows each session as a run)
    samples/           step_NNNNNNNN.png: the family's sample grid (viewgen.training.callbacks)
    loss_curve.png     the losses (and validation PSNR) by step, drawn when the run ends
    release/           the last step's release weights, for from_pretrained

Running again into the same folder resumes from its newest check-point; the settings must be the
ones it was started with, except the length (``max_steps`` / ``max_epochs``), which may grow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viewgen.staging import check_replaceable, write_file_atomic
from viewgen.training.checkpoints import StepCheckpoints, newest_checkpoint, step_of

__all__ = ["RunFamily", "RunSummary", "check_schedule", "export_run", "is_rank_zero", "open_run", "train_run"]

RUN_ENTRIES = {"config.json", "checkpoints", "logs", "samples", "loss_curve.png", "release"}
_LENGTH_FIELDS = ("max_steps", "max_epochs")


_SCHEDULE_COUNTS = ("max_epochs", "checkpoint_every", "validate_every", "sample_every", "log_every")


def check_schedule(config) -> None:
    """One-line ``ValueError`` unless a config's schedule fields (see :class:`RunFamily`) can drive a run: the
    counts whole numbers >= 1, ``max_steps`` >= 1 or -1 (no limit), ``num_workers`` >= 0."""
    for name in _SCHEDULE_COUNTS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if config.max_steps != -1 and config.max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 (or -1 for no limit), got {config.max_steps!r}")
    if config.num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {config.num_workers!r}")


@dataclass(frozen=True)
class RunFamily:
    """A model family's part of a run: ``name`` (``config.json``'s ``family``); ``config_class`` (a frozen
    dataclass with ``to_dict`` / ``from_dict`` and the schedule fields ``max_steps``, ``max_epochs``,
    ``checkpoint_every``, ``validate_every``, ``sample_every``, ``log_every``, ``precision``);
    ``build_module(config)`` -> its LightningModule (with ``sample_grid(batch)``); ``sample_batch(data_module)``
    -> the batch its samples show; ``export(checkpoint, out_dir)`` -> the exported model; ``loss_label``: what its
    ``train/loss`` is, for the loss curve."""

    name: str
    config_class: type
    build_module: Callable[[Any], Any]
    sample_batch: Callable[[Any], dict]
    export: Callable[[Path, Path], Any]
    loss_label: str = "training loss"


@dataclass(frozen=True)
class RunSummary:
    """What a call of :func:`train_run` did: steps ``first_step`` -> ``last_step`` in ``seconds``; the last logged
    losses (NaN when none); where the release weights are; whether this process is rank 0 (which prints); how many
    processes trained together."""

    first_step: int
    last_step: int
    seconds: float
    train_loss: float
    val_psnr: float
    release: Path
    resumed_from: Path | None
    is_global_zero: bool = True
    processes: int = 1


def _settings(config) -> dict:
    return {key: value for key, value in config.to_dict().items() if key not in _LENGTH_FIELDS}


def open_run(run_dir: Path, family: RunFamily, config, data: dict) -> Path | None:
    """Start ``run_dir`` (write ``config.json``) or check it is this run's; return the check-point to resume.

    A run resumes only with its own settings and data (one-line ``ValueError`` naming what differs) and
    only when ``max_steps`` is beyond its newest check-point.
    """
    saved_path = run_dir / "config.json"
    resume = None
    if saved_path.is_file():
        try:
            record = json.loads(saved_path.read_text())
            if record["family"] != family.name:
                raise ValueError(record["family"])
            saved = family.config_class.from_dict(record["training"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(f"{run_dir} holds a config.json that is not a viewgen {family.name} run's; train into a "
                             "new or empty folder") from None
        wanted, kept = _settings(config), _settings(saved)
        differing = sorted(key for key, value in wanted.items() if kept[key] != value)
        differing += [f"{key} data" for key in data if record.get("data", {}).get(key) != data[key]]
        if differing:
            raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(differing)} differ); resume it "
                             "with its own preset, options and data, or train into a new folder")
        resume = newest_checkpoint(run_dir / "checkpoints")
        if resume is not None and config.max_steps != -1 and step_of(resume) >= config.max_steps:
            raise ValueError(f"{run_dir} is already at step {step_of(resume)}, at or past max_steps "
                             f"{config.max_steps}: nothing to train (give a larger --max-steps to go on)")
    else:
        check_replaceable(run_dir, lambda entry: entry.name in RUN_ENTRIES, "a training run",
                          "train into a new or empty folder")
    if not is_rank_zero():  # the other processes of a DDP run only check; rank 0 keeps the folder
        return resume
    from viewgen import __version__

    record = {"family": family.name, "training": config.to_dict(), "data": data, "viewgen": __version__}
    run_dir.mkdir(parents=True, exist_ok=True)
    for partial in (run_dir / "checkpoints").glob(".step*.partial"):  # left by a save that was killed
        partial.unlink(missing_ok=True)
    text = json.dumps(record, indent=2) + "\n"
    write_file_atomic(saved_path, lambda stream: stream.write(text.encode()))
    return resume


def is_rank_zero() -> bool:
    """Whether this process is rank 0 of its run (Lightning reads the launcher's environment); True alone."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def _forget_unstarted(run_dir: Path) -> None:
    """Remove what a start that failed before its first check-point wrote, so that a corrected start is new."""
    import shutil

    if not is_rank_zero() or newest_checkpoint(run_dir / "checkpoints") is not None:
        return
    for name in RUN_ENTRIES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink(missing_ok=True)


def _last_logged(metrics: dict, column: str) -> float:
    """The last value of ``column`` in :func:`~viewgen.training.curves.read_run_metrics` output, NaN if none."""
    values = metrics.get(column)
    return values[-1][1] if values else float("nan")


def _new_session(run_dir: Path) -> str:
    """``session_NNN``: the next free log folder under ``run_dir/logs`` (each start logs apart; see curves)."""
    logs = run_dir / "logs"
    count = len([path for path in logs.glob("session_*") if path.is_dir()]) if logs.is_dir() else 0
    return f"session_{count:03d}"


def _trainer(config, run_dir: Path, callbacks: list, hardware: dict, progress: bool,
             validate: bool):
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    session = _new_session(run_dir)
    loggers = [CSVLogger(run_dir, name="logs", version=session, flush_logs_every_n_steps=config.log_every),
               TensorBoardLogger(run_dir, name="logs", version=session, default_hp_metric=False)]
    return pl.Trainer(default_root_dir=run_dir, max_epochs=config.max_epochs, max_steps=config.max_steps,
                      precision=config.precision, logger=loggers,
                      callbacks=callbacks, enable_checkpointing=False, log_every_n_steps=config.log_every,
                      check_val_every_n_epoch=None, val_check_interval=config.validate_every if validate else None,
                      num_sanity_val_steps=0, limit_val_batches=None if validate else 0,
                      use_distributed_sampler=False, enable_progress_bar=progress,
                      enable_model_summary=False, deterministic=_deterministic(hardware["accelerator"]), **hardware)


def _deterministic(accelerator: str) -> bool | str:
    """True on CPU (bit-exact resumes); on a GPU "warn": grid_sample's 3D backward has no deterministic CUDA
    kernel, so a resumed GPU run agrees with an uninterrupted one up to rounding."""
    import torch

    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    return True if on_cpu else "warn"


def train_run(family: RunFamily, config, data_module, data: dict, run_dir: str | Path, *, accelerator: str = "auto",
              devices: int | str = 1, num_nodes: int = 1, strategy: str = "auto", progress: bool = True,
              callbacks: tuple = ()) -> RunSummary:
    """Train (or resume) a run of ``family`` in ``run_dir``; see the module doc.

    data_module: the LightningDataModule (built, and so checked, before the folder is touched); data: what
    ``config.json`` records of the data (a resumed run must name the same). accelerator, devices, num_nodes,
    strategy: Lightning's (``devices=2, strategy="ddp"`` for two processes; DDP on CPU uses gloo).
    callbacks: extra Lightning callbacks. Returns a :class:`RunSummary` (rank 0's view).
    """
    run_dir = Path(run_dir)
    resume = open_run(run_dir, family, config, data)
    try:
        return _fit(family, config, data_module, run_dir, resume, callbacks,
                    {"accelerator": accelerator, "devices": devices, "num_nodes": num_nodes, "strategy": strategy},
                    progress)
    except BaseException:
        if resume is None:
            _forget_unstarted(run_dir)
        raise


def _fit(family: RunFamily, config, data_module, run_dir: Path, resume: Path | None, callbacks: tuple,
         hardware: dict, progress: bool) -> RunSummary:
    from viewgen.training.callbacks import SampleRenders
    from viewgen.training.curves import plot_training_curves, read_run_metrics

    module = family.build_module(config)
    samples = SampleRenders(family.sample_batch(data_module), run_dir / "samples", config.sample_every)
    checkpoints = StepCheckpoints(run_dir / "checkpoints", config.checkpoint_every)
    trainer = _trainer(config, run_dir, [checkpoints, samples, *callbacks], hardware, progress,
                       validate=getattr(data_module, "val_set", None) is not None)
    started = time.perf_counter()
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        trainer.fit(module, datamodule=data_module, ckpt_path=resume, weights_only=True)
    finally:  # Lightning sets it for the process; give the caller theirs back
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    final = checkpoints.save(trainer) if trainer.global_step % config.checkpoint_every else None
    release = run_dir / "release"
    metrics = read_run_metrics(run_dir / "logs")  # read once: the curve and the summary
    if trainer.is_global_zero:
        family.export(final or newest_checkpoint(run_dir / "checkpoints"), release)
        plot_training_curves(metrics, run_dir / "loss_curve.png", family.loss_label)
    return RunSummary(step_of(resume) if resume else 0, trainer.global_step, time.perf_counter() - started,
                      _last_logged(metrics, "train/loss"), _last_logged(metrics, "val/psnr"), release, resume,
                      trainer.is_global_zero, trainer.world_size)


def export_run(run_dir: str | Path, out_dir: str | Path, step: int | None = None) -> tuple[Path, object]:
    """Export a run's newest check-point (or the one of ``step``) to release weights in ``out_dir``.

    Returns ``(the check-point used, the model)``. One-line errors: not a run folder, no check-point
    (yet, or of that step), a family this version cannot export.
    """
    run_dir = Path(run_dir)
    record_path = run_dir / "config.json"
    try:
        family = json.loads(record_path.read_text())["family"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{run_dir} is not a training run folder (no readable config.json with its family)") from None
    from viewgen.training.families import FAMILIES

    if family not in FAMILIES:
        raise ValueError(f"{run_dir}: runs of family {family!r} cannot be exported by this version")
    folder = run_dir / "checkpoints"
    checkpoint = newest_checkpoint(folder) if step is None else folder / f"step{step:08d}.ckpt"
    if checkpoint is None or not checkpoint.is_file():
        kept = sorted(step_of(path) for path in folder.glob("step*.ckpt") if step_of(path) is not None)
        raise ValueError(f"{run_dir} has no check-point{'' if step is None else f' of step {step}'} "
                         f"(kept: {', '.join(map(str, kept)) or 'none'})")
    return checkpoint, FAMILIES[family].export(checkpoint, Path(out_dir))
