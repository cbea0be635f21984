"""Lightning callbacks of a viewgen run: sample images to look at while it trains.

:class:`SampleRenders` asks the module for ``sample_grid(batch)`` of one fixed batch every ``every``
steps (and when the run ends) and writes it to ``<run>/samples/step_NNNNNNNN.png``; only rank 0
draws. For Infinite Nature, :meth:`~viewgen.training.infinite_nature.InfiniteNatureTrainingModule.sample_grid`:
a window's real frames, its rollout, and a flight on autopilot from its first frame. For ENR
(:func:`pair_sample_grid`): one row per image of the batch, three columns: the
partner view the scene was inferred from, the render turned to this view, and this view's truth.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch

from viewgen.io.images import write_png_atomic
from viewgen.pipelines.novel_view import pair_partners

__all__ = ["SampleRenders", "pair_sample_grid"]


def pair_sample_grid(images: torch.Tensor, rendered: torch.Tensor) -> torch.Tensor:
    """``[3, 2P * H, 3 * W]``: rows of (partner view, render, truth) for ``images`` / ``rendered`` ``[2P, 3, H, W]``."""
    partners = images[pair_partners(images.shape[0])]
    rows = torch.cat([partners, rendered.clamp(0, 1), images], dim=3)  # [2P, 3, H, 3W]
    return torch.cat(list(rows), dim=1)


class SampleRenders(pl.Callback):
    """Write the module's ``sample_grid(batch)`` (``[3, H, W]`` in [0, 1]) every ``every`` steps into ``folder``."""

    def __init__(self, batch: dict, folder: str | Path, every: int) -> None:
        self.batch, self.folder, self.every = batch, Path(folder), every
        self.last_drawn = -1

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_index: int) -> None:
        if trainer.global_step % self.every == 0:
            self.draw(trainer, module)

    def on_train_end(self, trainer: pl.Trainer, module) -> None:
        self.draw(trainer, module)

    def draw(self, trainer: pl.Trainer, module) -> None:
        if not trainer.is_global_zero or trainer.global_step == self.last_drawn:
            return
        from lightning.pytorch.utilities import move_data_to_device

        was_training = module.training
        module.eval()
        with torch.no_grad():
            grid = module.sample_grid(move_data_to_device(self.batch, module.device))
        module.train(was_training)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_png_atomic(self.folder / f"step_{trainer.global_step:08d}.png", grid.cpu())
        self.last_drawn = trainer.global_step
