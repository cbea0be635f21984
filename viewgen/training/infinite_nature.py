"""Training Infinite Nature (Lightning, manual optimisation): render -> refine -> repeat along posed clips.

One step on a batch of clip windows (``rgbd [B, T + 1, 4, H, W]``, ``cam_from_world [B, T + 1, 3, 4]``
relative to frame 0, ``intrinsics [B, 4]``), as the paper trains and as a flight runs::

    mu, logvar = style_encoder(rgbd[:, 0]);   style = mu + exp(logvar / 2) * eps
    frame = rgbd[:, 0]
    for t in 1 .. T:                                       # the rollout, gradients through every step
        warped, mask = warp_rgbd(frame, pose[t - 1], pose[t], K)      # OUR mesh renderer: train = test
        refined = generator(warped, mask, style)
        frame = [refined RGB, rescale_refined_disparity(warped disparity, mask, refined disparity)]
    generator step:      0.5 L1 + 1.5 hinge_G + 10 feature matching + 0.05 KL (+ 0.01 perceptual)
    discriminator step:  1.5 hinge_D(real frames 1..T, generated frames 1..T detached)

with the reference's weights (:mod:`viewgen.training.losses`, :mod:`viewgen.training.perceptual`).
The discriminator is spectrally normalised (live: its power iteration runs at every training
forward), as the reference's. :class:`InfiniteNatureTrainingConfig` holds all of it; presets are
in :mod:`viewgen.training.presets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import Tensor

from viewgen.data.seeding import item_generator
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig, StyleEncoder, StyleEncoderConfig
from viewgen.networks.infinite_nature.discriminator import MultiScaleDiscriminator, MultiScaleDiscriminatorConfig
from viewgen.networks.pretrained import config_from_dict, config_to_dict
from viewgen.rendering.warp import warp_rgbd
from viewgen.training.losses import (
    InfiniteNatureLossWeights,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    kl_divergence,
    reconstruction_l1,
)
from viewgen.training.rollouts import check_rollout_schedule, rollout_at
from viewgen.training.runs import check_schedule

__all__ = ["InfiniteNatureTrainingConfig", "InfiniteNatureTrainingModule", "export_flight_checkpoint",
           "export_flight_weights", "load_flight_release", "read_flight_release", "rollout",
           "tiny_config"]


SAMPLE_FLIGHT_STRIDE = 5  # the samples' autopilot flight shows every 5th frame


def _encoder_config() -> StyleEncoderConfig:
    return StyleEncoderConfig(spectral_norm=True)


def _generator_config() -> SpadeGeneratorConfig:
    return SpadeGeneratorConfig(spectral_norm=True)


def _discriminator_config() -> MultiScaleDiscriminatorConfig:
    from viewgen.networks.infinite_nature.discriminator import PatchDiscriminatorConfig

    return MultiScaleDiscriminatorConfig(patch=PatchDiscriminatorConfig(spectral_norm=True))


@dataclass(frozen=True)
class InfiniteNatureTrainingConfig:
    """A whole Infinite Nature training run; the defaults are the released architecture at 160x256.

    encoder, generator, discriminator: the networks, spectrally normalised where the reference's are (every conv
    of the encoder, the generator's resblock and output convs, the discriminator's convs after the first), live:
    the power iteration updates ``u`` at every training forward; the export bakes it.
    rollout_steps: ``T``, refine steps per window (windows hold ``T + 1`` frames).
    rollout_schedule: ``((step, T_s), ...)``: from training step ``step`` on, roll out only ``T_s <= T`` steps
        (the first ``T_s + 1`` frames of each window), so rollouts can grow as training goes; empty: always ``T``.
    clip_stride: clip frames between two window frames, for posed clips in the RealEstate10K / ACID layout (their
    frames are a video's, 1/30 s apart).
    batch_size: windows per process and step. learning_rate, betas: Adam's, for both networks (the
    reference released none; these are the usual SPADE settings). weights: the loss weights.
    perceptual: use the VGG19 term when its weights are here (:mod:`viewgen.training.perceptual`).
    ema_decay: 0 (off), or the decay of an exponential moving average of the style encoder's and generator's
    weights (and spectral-norm vectors), updated after every generator step; samples and exports then use it.
    seed: weights, style noise and data. max_epochs / max_steps (Lightning's; an epoch is
    ``windows_per_epoch`` windows), checkpoint_every, sample_every, log_every (steps; validate_every is
    unused: the synthetic world has no split), num_workers, precision: the run's schedule.
    """

    encoder: StyleEncoderConfig = field(default_factory=_encoder_config)
    generator: SpadeGeneratorConfig = field(default_factory=_generator_config)
    discriminator: MultiScaleDiscriminatorConfig = field(default_factory=_discriminator_config)
    rollout_steps: int = 4
    rollout_schedule: tuple[tuple[int, int], ...] = ()
    clip_stride: int = 1
    batch_size: int = 2
    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weights: InfiniteNatureLossWeights = field(default_factory=InfiniteNatureLossWeights)
    perceptual: bool = True
    ema_decay: float = 0.0
    seed: int = 0
    windows_per_epoch: int = 10_000
    max_epochs: int = 1000
    max_steps: int = -1
    checkpoint_every: int = 500
    validate_every: int = 1000
    sample_every: int = 500
    log_every: int = 20
    num_workers: int = 0
    precision: str = "32-true"

    def __post_init__(self) -> None:
        check_schedule(self)
        if tuple(self.encoder.image_size) != tuple(self.generator.image_size):
            raise ValueError("the style encoder and the generator must share one image size")
        if self.encoder.style_dim != self.generator.style_dim:
            raise ValueError("the style encoder and the generator must share one style size")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0: no moving average), got {self.ema_decay}")
        if self.rollout_steps < 1 or self.batch_size < 1 or self.clip_stride < 1 or not self.learning_rate > 0:
            raise ValueError("rollout_steps, batch_size and clip_stride must be >= 1 and learning_rate > 0")
        schedule = check_rollout_schedule(self.rollout_schedule, self.rollout_steps)
        object.__setattr__(self, "rollout_schedule", schedule)  # JSON gives lists back: keep pairs as tuples

    def rollout_at(self, step: int) -> int:
        """``T`` at training step ``step`` (:attr:`rollout_schedule`, else :attr:`rollout_steps`)."""
        return rollout_at(self.rollout_schedule, self.rollout_steps, step)

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InfiniteNatureTrainingConfig:
        return config_from_dict(cls, data)


def rollout(encoder: StyleEncoder, generator: SpadeGenerator, rgbd: Tensor, cam_from_world: Tensor,
            intrinsics: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The render-refine-repeat of the module doc: ``(generated [B, T, 4, H, W], mu, logvar)`` for windows
    ``rgbd [B, T + 1, 4, H, W]`` along ``cam_from_world [B, T + 1, 3, 4]`` with ``intrinsics [B, 4]`` and the
    style noise ``noise [B, style_dim]`` (standard normal)."""
    mu, logvar = encoder(rgbd[:, 0])
    style = mu + torch.exp(0.5 * logvar) * noise
    frame, generated = rgbd[:, 0], []
    for step in range(1, rgbd.shape[1]):
        warped, mask = warp_rgbd(frame, cam_from_world[:, step - 1], cam_from_world[:, step], intrinsics)
        refined = generator(warped, mask, style)
        disparity = rescale_refined_disparity(warped[:, 3:], mask, refined[:, 3:])
        frame = torch.cat([refined[:, :3], disparity], dim=1)
        generated.append(frame)
    return torch.stack(generated, dim=1), mu, logvar


class InfiniteNatureTrainingModule(pl.LightningModule):
    """The networks, the rollout and both optimisers' steps; ``config``: :meth:`InfiniteNatureTrainingConfig.to_dict`
    output (kept in check-points). ``perceptual_network``: VGG19 for the perceptual term, or None (term off)."""

    def __init__(self, config: dict, perceptual_network=None) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.automatic_optimization = False
        self.config = InfiniteNatureTrainingConfig.from_dict(config)
        torch.manual_seed(self.config.seed)
        self.encoder = StyleEncoder(self.config.encoder)
        self.generator = SpadeGenerator(self.config.generator)
        self.discriminator = MultiScaleDiscriminator(self.config.discriminator)
        self.perceptual_network = perceptual_network  # not a submodule's state: its weights are a file of their own
        if self.config.ema_decay > 0:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            average = get_ema_multi_avg_fn(self.config.ema_decay)
            self.encoder_ema = AveragedModel(self.encoder, multi_avg_fn=average, use_buffers=True)
            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=average, use_buffers=True)

    def flight_networks(self) -> tuple[StyleEncoder, SpadeGenerator]:
        """``(style encoder, generator)`` that fly: their moving averages when the config's ``ema_decay`` is on, else
        the trained networks themselves."""
        if self.config.ema_decay > 0:
            return self.encoder_ema.module, self.generator_ema.module
        return self.encoder, self.generator

    def _noise(self, batch: int) -> Tensor:
        generator = item_generator(self.config.seed, self.global_step)
        return torch.randn(batch, self.config.encoder.style_dim, generator=generator).to(self.device)

    def sample_grid(self, batch: dict) -> Tensor:
        """``[3, 3H, (T + 1) W]`` for the first window: its real frames on top; frame 0 and its rollout along the
        window's poses below them; then frame 0 and a flight from it on autopilot (the pipeline ``viewgen fly``
        runs), every :data:`SAMPLE_FLIGHT_STRIDE`-th of its frames, so the bottom row shows the longer range."""
        rgbd = batch["rgbd"][:1]
        generated, _, _ = rollout(*self.flight_networks(), rgbd, batch["cam_from_world"][:1],
                                  batch["intrinsics"][:1], torch.zeros(1, self.config.encoder.style_dim,
                                                                       device=rgbd.device))
        real_row = torch.cat(list(rgbd[0, :, :3]), dim=2)
        generated_row = torch.cat([rgbd[0, 0, :3], *generated[0, :, :3]], dim=2)
        return torch.cat([real_row, generated_row, self._sample_flight(rgbd[0, 0], rgbd.shape[1])], dim=1).clamp(0, 1)

    def _sample_flight(self, start: Tensor, count: int) -> Tensor:
        """``[3, H, count W]``: ``start [4, H, W]`` and every :data:`SAMPLE_FLIGHT_STRIDE`-th frame of its flight."""
        from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

        encoder, generator = self.flight_networks()
        config = FlyThroughConfig(image_size=tuple(generator.config.image_size), device=str(start.device),
                                  seed=self.config.seed)
        flight = FlyThroughPipeline(encoder, generator, config)(start[None], (count - 1) * SAMPLE_FLIGHT_STRIDE + 1,
                                                                output_type="tensor")
        return torch.cat([start[:3], *flight[SAMPLE_FLIGHT_STRIDE::SAMPLE_FLIGHT_STRIDE, :3].to(start)], dim=2)

    def generator_losses(self, real: Tensor, fake: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        """The generator's weighted terms and their ``total`` for frames ``[N, 4, H, W]`` (real and generated)."""
        weights = self.config.weights
        real_features, _ = self.discriminator(real)
        fake_features, fake_logits = self.discriminator(fake)
        terms = {"reconstruction": reconstruction_l1(fake, real), "adversarial": hinge_generator_loss(fake_logits),
                 "feature_matching": feature_matching_loss(real_features, fake_features),
                 "kl": kl_divergence(mu, logvar)}
        total = (weights.reconstruction * terms["reconstruction"] + weights.adversarial * terms["adversarial"]
                 + weights.feature_matching * terms["feature_matching"] + weights.kl * terms["kl"])
        if self.perceptual_network is not None:
            from viewgen.training.perceptual import perceptual_loss

            terms["perceptual"] = perceptual_loss(self.perceptual_network.to(fake.device), fake[:, :3], real[:, :3])
            total = total + weights.perceptual * terms["perceptual"]
        return {**terms, "total": total}

    def training_step(self, batch: dict, batch_index: int) -> None:
        optimizer_g, optimizer_d = self.optimizers()
        frames = self.config.rollout_at(self.global_step) + 1
        rgbd = batch["rgbd"][:, :frames]
        generated, mu, logvar = rollout(self.encoder, self.generator, rgbd, batch["cam_from_world"][:, :frames],
                                        batch["intrinsics"], self._noise(rgbd.shape[0]))
        real, fake = rgbd[:, 1:].flatten(0, 1), generated.flatten(0, 1)
        self.discriminator.requires_grad_(False)
        losses = self.generator_losses(real, fake, mu, logvar)
        optimizer_g.zero_grad(set_to_none=True)
        self.manual_backward(losses["total"])
        optimizer_g.step()
        if self.config.ema_decay > 0:
            self.encoder_ema.update_parameters(self.encoder)
            self.generator_ema.update_parameters(self.generator)
        self.discriminator.requires_grad_(True)
        _, real_logits = self.discriminator(real)
        _, fake_logits = self.discriminator(fake.detach())
        discriminator_loss = self.config.weights.discriminator * hinge_discriminator_loss(real_logits, fake_logits)
        optimizer_d.zero_grad(set_to_none=True)
        self.manual_backward(discriminator_loss)
        # the raw optimizer: Lightning counts a step per wrapped optimizer step, and a training step is one
        # batch (both networks' updates), so that check-points and max_steps count batches as in ENR's runs
        optimizer_d.optimizer.step()
        size = rgbd.shape[0]
        self.log("train/loss", losses["total"], prog_bar=True, batch_size=size)
        self.log_dict({f"train/{name}": value for name, value in losses.items() if name != "total"}, batch_size=size)
        self.log("train/discriminator", discriminator_loss, prog_bar=True, batch_size=size)

    def configure_optimizers(self):
        config = self.config
        generator_parameters = [*self.encoder.parameters(), *self.generator.parameters()]
        return (torch.optim.Adam(generator_parameters, lr=config.learning_rate, betas=config.betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=config.learning_rate, betas=config.betas))


def tiny_config(**overrides) -> InfiniteNatureTrainingConfig:
    """A few thousand weights at 32x48 and two-step rollouts: for tests and smoke runs on CPU."""
    from viewgen.networks.infinite_nature.discriminator import PatchDiscriminatorConfig

    size = (32, 48)
    encoder = StyleEncoderConfig(image_size=size, channels=(4, 8, 8, 8), style_dim=8, spectral_norm=True)
    generator = SpadeGeneratorConfig(image_size=size, style_dim=8, base_channels=16, up_channels=(8, 4, 4),
                                     spade_hidden_channels=8, spectral_norm=True)
    patch = PatchDiscriminatorConfig(base_channels=4, max_channels=8, strides=(2, 2, 1, 1), spectral_norm=True)
    discriminator = MultiScaleDiscriminatorConfig(patch=patch)
    config = InfiniteNatureTrainingConfig(encoder=encoder, generator=generator, discriminator=discriminator,
                                          rollout_steps=2, batch_size=2, perceptual=False, windows_per_epoch=64,
                                          max_steps=2, checkpoint_every=1, sample_every=1, log_every=1)
    return replace(config, **overrides)


def read_flight_release(release, config: InfiniteNatureTrainingConfig) -> tuple[dict, dict]:
    """The plain state dicts ``(style encoder, generator)`` of a release folder (converted official weights, or an
    export) to fine-tune from, read once. Its networks must be ``config``'s (one-line ``ValueError`` naming what
    differs; the ``paper`` preset is the released architecture)."""
    from dataclasses import fields

    from viewgen.pipelines import FlyThroughPipeline

    pipe = FlyThroughPipeline.from_pretrained(release)
    for label, wanted, source in (("style encoder", config.encoder, pipe.style_encoder),
                                  ("generator", config.generator, pipe.generator)):
        wanted = replace(wanted, spectral_norm=False)
        differing = [item.name for item in fields(wanted) if getattr(wanted, item.name) != getattr(source.config,
                                                                                                   item.name)]
        if differing:
            raise ValueError(f"--init {release}: its {label} is not this preset's ({', '.join(differing)} differ); "
                             "fine-tune a release of the same architecture (the paper preset fits converted "
                             "official weights)")
    return pipe.style_encoder.state_dict(), pipe.generator.state_dict()


def load_flight_release(module: InfiniteNatureTrainingModule, states: tuple[dict, dict]) -> None:
    """Start ``module``'s style encoder and generator from :func:`read_flight_release`'s ``states``: their plain
    kernels loaded under live spectral norm (:func:`~viewgen.training.spectral_norm.load_plain_weights`). The
    discriminator starts fresh: none was released."""
    from viewgen.training.spectral_norm import load_plain_weights

    for target, state in zip((module.encoder, module.generator), states):
        load_plain_weights(target, state)


def export_flight_weights(module: InfiniteNatureTrainingModule, out_dir) -> object:
    """Write the trained style encoder and generator (their moving averages when the run keeps them) as a release
    folder ``FlyThroughPipeline.from_pretrained`` (and ``viewgen fly --weights``) reads: spectral norm baked by the
    converter's formula, configs without it. The module is not changed (copies are baked). Returns the pipeline."""
    import copy

    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
    from viewgen.training.spectral_norm import bake_spectral_norms

    networks = []
    for network in module.flight_networks():
        baked = copy.deepcopy(network).cpu().eval()
        bake_spectral_norms(baked)
        baked.config = replace(baked.config, spectral_norm=False)
        networks.append(baked)
    pipeline = FlyThroughPipeline(networks[0], networks[1], FlyThroughConfig(image_size=networks[1].config.image_size))
    pipeline.save_pretrained(out_dir)
    return pipeline


def export_flight_checkpoint(checkpoint, out_dir) -> object:
    """:func:`export_flight_weights` of the module saved in ``checkpoint`` (a run's ``stepNNNNNNNN.ckpt``)."""
    from viewgen.training.checkpoints import read_checkpoint

    content = read_checkpoint(Path(checkpoint))
    module = InfiniteNatureTrainingModule(content["hyper_parameters"]["config"])
    module.load_state_dict(content["state_dict"])
    return export_flight_weights(module, out_dir)
