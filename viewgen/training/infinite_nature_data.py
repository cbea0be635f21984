"""The data of an Infinite Nature run: clip windows for this process, resumable mid-epoch.

:class:`WindowData` deals any dataset of windows (item ``k`` a pure function of ``k``, any ``k >= 0``)
to this process's rank through a :class:`~viewgen.training.loader.ResumableLoader`, so a resumed run
goes on with the window after the last one it trained on; every epoch deals new windows.
:func:`window_data` builds it for ``--data``: ``synthetic`` (the synthetic world rendered on the fly,
:class:`~viewgen.data.datasets.SyntheticWindows`), a GoogleEarth-Infinite folder
(:class:`~viewgen.data.datasets.GoogleEarthWindows`, its ``train`` split) or a folder of posed clips in the
RealEstate10K / ACID layout (:class:`~viewgen.data.datasets.PosedClipWindows`, its ``train`` split when it has
one; real clips prepared by ``viewgen prepare-clips``, synthetic ones from ``viewgen synth`` as they are).
Infinite Nature Zero learns from single photos instead: :func:`photo_data` deals them the same way, from the
synthetic world (:class:`~viewgen.data.datasets.SyntheticPhotos`) or a folder in the LHQ layout
(:class:`~viewgen.data.datasets.PhotoFolder`, after ``viewgen prepare-photos``).
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl

from viewgen.data.datasets import (
    GoogleEarthWindows,
    PosedClipWindows,
    SyntheticWindows,
    SyntheticWindowsConfig,
    WindowBatchSampler,
)
from viewgen.training.loader import ResumableLoader

__all__ = ["WindowData", "photo_data", "synthetic_window_data", "window_data"]


class WindowData(pl.LightningDataModule):
    """``windows`` (an epoch is ``len(windows)`` of them; any dataset whose item ``k`` is a pure function of ``k``:
    clip windows or single photos), ``batch_size`` per process and step."""

    def __init__(self, windows, batch_size: int, num_workers: int = 0) -> None:
        super().__init__()
        self.windows, self.batch_size, self.num_workers = windows, batch_size, num_workers

    def train_dataloader(self) -> ResumableLoader:
        sampler = WindowBatchSampler(len(self.windows), self.batch_size, rank=self.trainer.global_rank,
                                     world_size=self.trainer.world_size)
        return ResumableLoader(self.windows, sampler, num_workers=self.num_workers)


def synthetic_window_data(image_size: tuple[int, int], rollout_steps: int, batch_size: int, seed: int = 0,
                          windows_per_epoch: int = 100_000, num_workers: int = 0) -> WindowData:
    """:class:`WindowData` of the synthetic world's windows of ``rollout_steps + 1`` frames at ``image_size``."""
    config = SyntheticWindowsConfig(height=image_size[0], width=image_size[1], frames=rollout_steps + 1,
                                    num_windows=windows_per_epoch, seed=seed)
    return WindowData(SyntheticWindows(config), batch_size, num_workers)


def window_data(data: str, config) -> tuple[WindowData, dict]:
    """``(data module, what the run folder records of it)`` for ``--data`` (see the module doc)."""
    size, frames = tuple(config.generator.image_size), config.rollout_steps + 1
    if data == "synthetic":
        return synthetic_window_data(size, config.rollout_steps, config.batch_size, config.seed,
                                   config.windows_per_epoch, config.num_workers), {"train": "synthetic"}
    root = Path(data)
    if (root / "K.npy").is_file():
        windows = GoogleEarthWindows(root, "train", size, frames, config.seed)
    elif root.is_dir():
        split = "train" if (root / "train").is_dir() else None
        windows = PosedClipWindows(root, split, size, frames, config.clip_stride, config.seed, config.windows_per_epoch)
    else:
        raise ValueError(f"--data {data} is neither synthetic nor a folder (GoogleEarth-Infinite: K.npy + "
                         "train/<grid>/transforms.json; RealEstate10K / ACID: <split>/<clip>.txt and frame folders)")
    return WindowData(windows, config.batch_size, config.num_workers), {"train": str(root.resolve())}


def photo_data(data: str, config) -> tuple[WindowData, dict]:
    """``(data module, what the run folder records of it)`` for Infinite Nature Zero's ``--data``: ``synthetic``
    (the synthetic world's views, ``config.items_per_epoch`` an epoch) or a folder of photos in the LHQ layout."""
    from viewgen.data.datasets import PhotoFolder, SyntheticPhotos

    if data == "synthetic":
        photos, record = SyntheticPhotos(config.size, config.items_per_epoch, config.seed), {"train": "synthetic"}
    elif Path(data).is_dir():
        photos, record = PhotoFolder(data, config.size, config.seed), {"train": str(Path(data).resolve())}
    else:
        raise ValueError(f"--data {data} is neither synthetic nor a folder of photos in the LHQ layout "
                         "(images/*.png with midas-disp/*.npy from viewgen prepare-photos)")
    return WindowData(photos, config.batch_size, config.num_workers), record
