"""Training check-points of a run (resumable) and their export to release weights.

A run's ``checkpoints/`` folder holds ``stepNNNNNNNN.ckpt`` files: Lightning's full training state
(weights, Adam's moments, the loops' progress, the data loader's place in its epoch). Each is
written under a hidden name and renamed into place, so a run killed at any moment (SIGKILL
included) leaves only whole check-points; the newest ``keep`` are kept, plus the final one.
Resuming from the newest goes on with the step after it (see :mod:`viewgen.training.loader`).

:func:`export_release` turns any check-point into release weights: ``config.json`` +
``model.safetensors``, what ``from_pretrained`` reads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import lightning.pytorch as pl

from viewgen.hub import WeightsFormatError, load_torch_file
from viewgen.networks.enr import EquivariantRenderer
from viewgen.networks.pretrained import CONFIG_FILE_NAME, WEIGHTS_FILE_NAME
from viewgen.staging import build_and_publish, check_replaceable

__all__ = ["StepCheckpoints", "export_release", "newest_checkpoint", "read_checkpoint", "read_training_config",
           "step_of"]

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


def read_training_config(path: str | Path):
    """The :class:`~viewgen.training.enr.EnrTrainingConfig` a check-point was trained with."""
    from viewgen.training.enr import EnrTrainingConfig

    return EnrTrainingConfig.from_dict(read_checkpoint(Path(path))["hyper_parameters"]["config"])


def export_release(checkpoint: str | Path, out_dir: str | Path) -> EquivariantRenderer:
    """Write the model of ``checkpoint`` to ``out_dir`` as ``config.json`` + ``model.safetensors``; an existing
    ``out_dir`` may hold only earlier release weights (replaced whole). Returns the model (eval mode)."""
    from viewgen.training.enr import EnrTrainingConfig

    content = read_checkpoint(Path(checkpoint))  # before the folder is looked at: a bad file changes nothing
    config = EnrTrainingConfig.from_dict(content["hyper_parameters"]["config"])
    prefix = "model."
    weights = {key[len(prefix):]: value for key, value in content["state_dict"].items() if key.startswith(prefix)}
    model = EquivariantRenderer(config.model)
    model.load_state_dict_strict(weights, source=str(checkpoint))
    model.eval()
    target = Path(os.path.realpath(out_dir))
    check_replaceable(target, lambda entry: entry.name in (CONFIG_FILE_NAME, WEIGHTS_FILE_NAME), "release weights",
                      "export into a new or empty folder")
    build_and_publish(target, model.save_pretrained, "the release weights", out_dir)
    return model
