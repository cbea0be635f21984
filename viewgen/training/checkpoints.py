"""Training check-points of a run (resumable), for every model family.

A run's ``checkpoints/`` folder holds ``stepNNNNNNNN.ckpt`` files: Lightning's full training state
(weights, Adam's moments, the loops' progress, the data loader's place in its epoch). Each is
written under a hidden name and renamed into place, so a run killed at any moment (SIGKILL
included) leaves only whole check-points; the newest ``keep`` are kept, plus the final one.
Resuming from the newest goes on with the step after it (see :mod:`viewgen.training.loader`).

:func:`read_checkpoint` reads one back (``weights_only``) and :func:`checkpoint_config` its
family's config; each family's export to release weights builds on them
(:func:`viewgen.training.enr.export_release`, :func:`viewgen.training.infinite_nature.export_flight_checkpoint`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import lightning.pytorch as pl

from viewgen.hub import WeightsFormatError, load_torch_file

__all__ = ["StepCheckpoints", "checkpoint_config", "newest_checkpoint", "read_checkpoint", "step_of"]

_NAME = re.compile(r"^step(\d{8})\.ckpt$")


def step_of(path: Path) -> int | None:
    """The step number of a check-point file name, None for any other name."""
    match = _NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def newest_checkpoint(folder: str | Path) -> Path | None:
    """The check-point with the highest step in ``folder``, None when there is none (or no folder)."""
    folder = Path(folder)
    found = [path for path in folder.glob("step*.ckpt") if step_of(path) is not None] if folder.is_dir() else []
    return max(found, key=step_of, default=None)


class StepCheckpoints(pl.Callback):
    """Save the training state every ``every`` steps and at the end into ``folder``; keep the newest ``keep``."""

    def __init__(self, folder: str | Path, every: int, keep: int = 2) -> None:
        self.folder, self.every, self.keep = Path(folder), every, keep

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_index: int) -> None:
        if trainer.global_step % self.every == 0:
            self.save(trainer)

    def save(self, trainer: pl.Trainer) -> Path:
        """Write ``step<global_step>.ckpt`` (every rank calls this; rank 0 writes)."""
        path = self.folder / f"step{trainer.global_step:08d}.ckpt"
        hidden = self.folder / f".{path.name}.partial"
        # the whole state (not weights only); it ends with a barrier, so the file is whole on rank 0 after it
        trainer.save_checkpoint(hidden, weights_only=False)
        if trainer.is_global_zero:
            os.replace(hidden, path)
            older = sorted((p for p in self.folder.glob("step*.ckpt") if step_of(p) is not None), key=step_of)
            for stale in older[:-self.keep]:
                stale.unlink(missing_ok=True)
        return path


def read_checkpoint(path: Path) -> dict:
    """A viewgen training check-point's content (``weights_only``); one-line errors for anything else."""
    if not path.is_file():
        raise FileNotFoundError(f"no training check-point at {path}")
    content = load_torch_file(path)
    if not isinstance(content, dict) or "state_dict" not in content or "config" not in content.get(
            "hyper_parameters", {}):
        raise WeightsFormatError(f"{path} is not a viewgen training check-point (no state_dict and config)")
    return content


def checkpoint_config(content: dict, config_class: type):
    """The training config a check-point's ``content`` (:func:`read_checkpoint`) was trained with."""
    return config_class.from_dict(content["hyper_parameters"]["config"])
