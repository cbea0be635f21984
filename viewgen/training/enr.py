"""Training Equivariant Neural Rendering (Lightning): the paper's objective on cross-view renders of pairs.

One step, as Apple's trainer does it::

    images [2P, 3, H, W], angles [2P]        P pairs of views of P scenes: [A1, A2, B1, B2, ...]
    rendered = cross_view_render(model, ...)  view i rendered from its partner's scene turned to view i
    loss     = L1(rendered, images) + 0.05 (1 - SSIM(rendered, images))
    Adam(lr 2e-4).step()

:class:`EnrTrainingConfig` holds everything a run depends on (the model's :class:`ENRConfig`, the
optimiser, batch, length, seed, how often to check-point, validate and draw samples); presets are
in :mod:`viewgen.training.presets`. :class:`EnrTrainingModule` is the LightningModule;
:class:`EnrPairData` the LightningDataModule, which builds its loaders for this process's rank so
that a DDP run shares each global batch of pairs (see :class:`~viewgen.data.enr_scenes.PairBatchSampler`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import lightning.pytorch as pl
import torch

from viewgen.data.enr_scenes import EnrSceneDataset, PairBatchSampler
from viewgen.evaluation.enr_views import image_psnr
from viewgen.networks.enr import ENRConfig, EquivariantRenderer
from viewgen.networks.pretrained import config_from_dict, config_to_dict
from viewgen.pipelines.novel_view import cross_view_render
from viewgen.training.loader import ResumableLoader
from viewgen.training.losses import enr_loss
from viewgen.training.runs import check_schedule

__all__ = ["EnrPairData", "EnrTrainingConfig", "EnrTrainingModule", "export_release", "validation_batches"]


@dataclass(frozen=True)
class EnrTrainingConfig:
    """A whole ENR training run; the defaults are Apple's chairs experiment.

    model: the network. learning_rate: Adam's (betas 0.9 / 0.999, no decay, no schedule).
    pairs_per_batch: pairs per process and step (a batch holds twice as many images; Apple: 8).
    max_epochs / max_steps: the length (Lightning's meaning; -1 steps = no step limit).
    ssim_weight, pixel_loss: the objective. seed: weights and pair order.
    checkpoint_every, validate_every, sample_every, log_every: in optimiser steps.
    num_workers: data loader processes. precision: Lightning's (``32-true``, ``bf16-mixed``, ...).
    """

    model: ENRConfig = field(default_factory=ENRConfig)
    learning_rate: float = 2e-4
    pairs_per_batch: int = 8
    max_epochs: int = 100
    max_steps: int = -1
    ssim_weight: float = 0.05
    pixel_loss: str = "l1"
    seed: int = 0
    checkpoint_every: int = 1000
    validate_every: int = 2000
    sample_every: int = 1000
    log_every: int = 50
    num_workers: int = 0
    precision: str = "32-true"

    def __post_init__(self) -> None:
        check_schedule(self)
        pairs = self.pairs_per_batch
        if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
            raise ValueError(f"pairs_per_batch must be a whole number >= 1, got {self.pairs_per_batch!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.pixel_loss not in ("l1", "l2") or self.ssim_weight < 0:
            raise ValueError("pixel_loss must be l1 or l2, ssim_weight >= 0")

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EnrTrainingConfig:
        return config_from_dict(cls, data)


def _batch_views(batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    params = batch["render_params"]
    return batch["img"], params["azimuth"], params["elevation"]


class EnrTrainingModule(pl.LightningModule):
    """The model and its objective; ``config`` is :meth:`EnrTrainingConfig.to_dict` output (kept in checkpoints)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = EnrTrainingConfig.from_dict(config)
        torch.manual_seed(self.config.seed)  # the initial weights follow the seed
        self.model = EquivariantRenderer(self.config.model)

    def cross_view(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rendered, images)`` of a batch of pairs, both ``[2P, 3, H, W]``."""
        images, azimuth, elevation = _batch_views(batch)
        return cross_view_render(self.model, images, azimuth, elevation), images

    def sample_grid(self, batch: dict) -> torch.Tensor:
        """Partner view | render | truth for each image of ``batch`` (see ``callbacks.pair_sample_grid``)."""
        from viewgen.training.callbacks import pair_sample_grid

        rendered, images = self.cross_view(batch)
        return pair_sample_grid(images, rendered)

    def training_step(self, batch: dict, batch_index: int) -> torch.Tensor:
        rendered, images = self.cross_view(batch)
        loss = enr_loss(rendered, images, self.config.ssim_weight, self.config.pixel_loss)
        size = images.shape[0]
        self.log("train/loss", loss.total, prog_bar=True, batch_size=size)
        self.log_dict({"train/pixel": loss.pixel, "train/ssim": loss.ssim}, batch_size=size)
        return loss.total

    def validation_step(self, batch: dict, batch_index: int) -> None:
        rendered, images = self.cross_view(batch)
        loss = enr_loss(rendered, images, self.config.ssim_weight, self.config.pixel_loss)
        size = images.shape[0]
        self.log("val/loss", loss.total, prog_bar=True, sync_dist=True, batch_size=size)
        self.log("val/psnr", image_psnr(rendered, images).mean(), prog_bar=True, sync_dist=True, batch_size=size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)


def validation_batches(dataset: EnrSceneDataset, pairs_per_batch: int, rank: int = 0, world_size: int = 1) -> list:
    """Fixed batches of pairs of a validation split: views ``(2k, 2k + 1)`` of each scene in order, this rank's
    share (every ``world_size``-th batch from ``rank``; a remainder that not every process would get is left out)."""
    views = dataset.views_per_scene
    pairs = [[scene * views + 2 * k, scene * views + 2 * k + 1]
             for scene in range(dataset.num_scenes) for k in range(views // 2)]
    batches = [sum(pairs[start:start + pairs_per_batch], []) for start in range(0, len(pairs), pairs_per_batch)]
    usable = len(batches) - len(batches) % world_size  # every process validates as many batches (they sync)
    if usable == 0:
        raise ValueError(f"the validation split has {len(batches)} batch(es) of {pairs_per_batch} pairs, fewer than "
                         f"the {world_size} processes; give it more scenes")
    return batches[:usable][rank::world_size]


class EnrPairData(pl.LightningDataModule):
    """Training (and optional validation) splits in Apple's layout, as loaders of pairs for this process."""

    def __init__(self, config: EnrTrainingConfig, train_root: str | Path, val_root: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.train_set = EnrSceneDataset(train_root, config.model.image_size)
        self.val_set = EnrSceneDataset(val_root, config.model.image_size) if val_root else None
        # one process's batches must fit an epoch: say so now, before any run folder is written
        PairBatchSampler(self.train_set.num_scenes, self.train_set.views_per_scene, config.pairs_per_batch)

    def train_dataloader(self) -> ResumableLoader:
        sampler = PairBatchSampler(self.train_set.num_scenes, self.train_set.views_per_scene,
                                   self.config.pairs_per_batch, self.config.seed,
                                   rank=self.trainer.global_rank, world_size=self.trainer.world_size)
        return ResumableLoader(self.train_set, sampler, num_workers=self.config.num_workers)

    def val_dataloader(self) -> torch.utils.data.DataLoader | list:
        if self.val_set is None:
            return []
        batches = validation_batches(self.val_set, self.config.pairs_per_batch, self.trainer.global_rank,
                                     self.trainer.world_size)
        return torch.utils.data.DataLoader(self.val_set, batch_sampler=batches, num_workers=self.config.num_workers)


def export_release(checkpoint: str | Path, out_dir: str | Path) -> EquivariantRenderer:
    """Write the model of ``checkpoint`` to ``out_dir`` as ``config.json`` + ``model.safetensors``; an existing
    ``out_dir`` may hold only earlier release weights (replaced whole). Returns the model (eval mode)."""
    from viewgen.convert.enr import publish_enr_weights
    from viewgen.training.checkpoints import checkpoint_config, read_checkpoint

    content = read_checkpoint(Path(checkpoint))  # before the folder is looked at: a bad file changes nothing
    prefix = "model."
    weights = {key[len(prefix):]: value for key, value in content["state_dict"].items() if key.startswith(prefix)}
    model = EquivariantRenderer(checkpoint_config(content, EnrTrainingConfig).model)
    model.load_state_dict_strict(weights, source=str(checkpoint))
    model.eval()
    publish_enr_weights(model, out_dir, "release weights", "export")
    return model
