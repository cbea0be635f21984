"""The data of an Infinite Nature run: clip windows for this process, resumable mid-epoch.

:class:`SyntheticWindowData` deals the synthetic world's windows
(:class:`~viewgen.data.datasets.SyntheticWindows`, rendered on the fly with exact disparity) to this
process's rank through a :class:`~viewgen.training.loader.ResumableLoader`, so a resumed run goes
on with the window after the last one it trained on.
"""

from __future__ import annotations

import lightning.pytorch as pl

from viewgen.data.datasets import SyntheticWindows, SyntheticWindowsConfig, WindowBatchSampler
from viewgen.training.loader import ResumableLoader

__all__ = ["SyntheticWindowData"]


class SyntheticWindowData(pl.LightningDataModule):
    """Windows of ``rollout_steps + 1`` frames at ``image_size``, ``batch_size`` per process and step."""

    def __init__(self, image_size: tuple[int, int], rollout_steps: int, batch_size: int, seed: int = 0,
                 windows_per_epoch: int = 100_000, num_workers: int = 0) -> None:
        super().__init__()
        config = SyntheticWindowsConfig(height=image_size[0], width=image_size[1], frames=rollout_steps + 1,
                                        num_windows=windows_per_epoch, seed=seed)
        self.windows, self.batch_size, self.num_workers = SyntheticWindows(config), batch_size, num_workers

    def train_dataloader(self) -> ResumableLoader:
        sampler = WindowBatchSampler(len(self.windows), self.batch_size, rank=self.trainer.global_rank,
                                     world_size=self.trainer.world_size)
        return ResumableLoader(self.windows, sampler, num_workers=self.num_workers)
