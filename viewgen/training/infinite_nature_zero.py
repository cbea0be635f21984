"""Training Infinite Nature Zero from single photos (Lightning, manual optimisation); its authors released none.

One step on a batch of photos (:mod:`viewgen.training.zero_rollouts` has the trajectories)::

    style    = global code (dropout on), z ~ N(0, I), noise maps           drawn per photo, seeded by the step
    cycle    = photo -> refine at a random nearby camera -> refine back at the photo's camera
    flight   = T steps of Zero's autopilot from the photo (T grows with rollout_schedule)
    generator:     w_rec (L1 RGB + L1 disparity)(returned, photo) + w_perc VGG(returned, photo)
                   + w_adv mean over groups [virtual, returned, flight step 1, ..., step T] of softplus(-D(fake))
    discriminator: softplus(-D(photo)) + softplus(D(fake)), one fake per photo drawn from those groups
                   uniformly (balanced), + lazy R1 (gamma / 2 |grad D(photo)|^2 every r1_every steps)

Which parts follow the paper's text and which are our choices is written in docs/training.md. The
networks are :class:`~viewgen.networks.stylegan2.CoModGenerator` (the released architecture) and a
StyleGAN2 residual discriminator on RGBD; an exponential moving average of the generator (the original
checkpoint's ``netG_ema``) is what samples and exports fly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import Tensor

from viewgen.data.seeding import item_generator
from viewgen.networks.pretrained import config_from_dict, config_to_dict
from viewgen.networks.stylegan2 import (
    CoModGenerator,
    CoModGeneratorConfig,
    StyleGAN2Discriminator,
    StyleGAN2DiscriminatorConfig,
)
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig
from viewgen.refiners.stylegan import StyleGANRefinerConfig
from viewgen.training.losses import (
    logistic_discriminator_loss,
    logistic_generator_loss,
    r1_penalty,
    reconstruction_l1,
)
from viewgen.training.rollouts import check_rollout_schedule, rollout_at
from viewgen.training.runs import check_schedule
from viewgen.training.zero_rollouts import (
    VirtualCameraRange,
    autopilot_rollout,
    cycle_views,
    draw_style,
    virtual_cameras,
)

__all__ = ["InfiniteNatureZeroTrainingConfig", "InfiniteNatureZeroTrainingModule", "ZeroLossWeights", "batch_inputs",
           "export_zero_checkpoint", "export_zero_weights", "load_zero_release", "read_zero_release",
           "zero_tiny_config"]

SAMPLE_FLIGHT_STRIDE = 3  # the samples' autopilot flight shows every 3rd frame


@dataclass(frozen=True)
class ZeroLossWeights:
    """reconstruction: L1 of the returned view's RGB and disparity to the photo's; perceptual: the VGG19 term of its
    RGB (when the weights are here); adversarial: the generator's logistic term; r1_gamma: the R1 penalty's gamma."""

    reconstruction: float = 1.0
    perceptual: float = 1.0
    adversarial: float = 0.1
    r1_gamma: float = 1.0


def _discriminator_config() -> StyleGAN2DiscriminatorConfig:
    return StyleGAN2DiscriminatorConfig()


def _flight_config() -> InfiniteNatureZeroConfig:
    return InfiniteNatureZeroConfig(stop_on_crash=False)


@dataclass(frozen=True)
class InfiniteNatureZeroTrainingConfig:
    """A whole Infinite Nature Zero training run; the defaults are the released generator at 128x128.

    generator, discriminator: the networks (one resolution). cameras: how far a cycle's virtual camera strays.
    rollout_steps / rollout_schedule: ``T``, the autopilot flight's length, and its growth by step
    (:mod:`viewgen.training.rollouts`; the paper's "progressive trajectory growth"). flight: the flight trained for
    and exported (autopilot, refiner thresholds and clamps, sky correction and crash test; training runs no
    truncation, samples and exports the refiner's). batch_size: photos per process and step. learning_rate,
    betas: Adam's for both networks (StyleGAN2's). weights: :class:`ZeroLossWeights`. r1_every: steps between lazy R1
    penalties. perceptual: use the VGG19 term when its weights are here. ema_decay: the generator's moving average
    (0: none; samples and exports use it). seed: weights and every draw. items_per_epoch: photos per epoch of the
    synthetic world (a folder's epoch is its photo count). The schedule fields are the other families'.
    """

    generator: CoModGeneratorConfig = field(default_factory=CoModGeneratorConfig)
    discriminator: StyleGAN2DiscriminatorConfig = field(default_factory=_discriminator_config)
    cameras: VirtualCameraRange = field(default_factory=VirtualCameraRange)
    rollout_steps: int = 4
    rollout_schedule: tuple[tuple[int, int], ...] = ()
    flight: InfiniteNatureZeroConfig = field(default_factory=_flight_config)
    batch_size: int = 4
    learning_rate: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    weights: ZeroLossWeights = field(default_factory=ZeroLossWeights)
    r1_every: int = 16
    perceptual: bool = True
    ema_decay: float = 0.999
    seed: int = 0
    items_per_epoch: int = 10_000
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
        if self.generator.resolution != self.discriminator.resolution:
            raise ValueError("the generator and the discriminator must share one resolution")
        if self.generator.image_channels != 4 or self.discriminator.image_channels != 4:
            raise ValueError("Infinite Nature Zero trains RGBD networks: image_channels must be 4")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0: no moving average), got {self.ema_decay}")
        if self.rollout_steps < 1 or self.batch_size < 1 or self.r1_every < 1 or not self.learning_rate > 0:
            raise ValueError("rollout_steps, batch_size and r1_every must be >= 1 and learning_rate > 0")
        object.__setattr__(self, "rollout_schedule", check_rollout_schedule(self.rollout_schedule, self.rollout_steps))

    @property
    def size(self) -> int:
        """Side of the square frames (the generator's resolution)."""
        return self.generator.resolution

    def rollout_at(self, step: int) -> int:
        """``T`` at training step ``step``."""
        return rollout_at(self.rollout_schedule, self.rollout_steps, step)

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InfiniteNatureZeroTrainingConfig:
        return config_from_dict(cls, data)


def _fake_groups(generator_net: CoModGenerator, batch: dict, config: InfiniteNatureZeroTrainingConfig, step: int,
                 draws: torch.Generator):
    """``(cycle, [virtual, returned, flight step 1, ..., step T] each [B, 4, S, S])`` for the module doc's step."""
    rgbd = batch["rgbd"]
    style = draw_style(generator_net, rgbd, draws)
    rotation, translation = virtual_cameras(rgbd.shape[0], config.cameras, draws)
    cycle = cycle_views(generator_net, rgbd, batch["pixel_matrix"], style, rotation.to(rgbd.device),
                        translation.to(rgbd.device), config.flight.refiner)
    flight = autopilot_rollout(generator_net, batch, style, config.rollout_at(step), config.flight)
    return cycle, [cycle.virtual, cycle.returned, *flight.unbind(1)]


class InfiniteNatureZeroTrainingModule(pl.LightningModule):
    """The networks, the trajectories and both optimisers' steps; ``config``:
    :meth:`InfiniteNatureZeroTrainingConfig.to_dict` output (kept in check-points). ``perceptual_network``: VGG19
    for the perceptual term, or None (term off)."""

    def __init__(self, config: dict, perceptual_network=None) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.automatic_optimization = False
        self.config = InfiniteNatureZeroTrainingConfig.from_dict(config)
        torch.manual_seed(self.config.seed)
        self.generator = CoModGenerator(self.config.generator)
        self.discriminator = StyleGAN2Discriminator(self.config.discriminator)
        self.perceptual_network = perceptual_network  # not a submodule's state: its weights are a file of their own
        if self.config.ema_decay > 0:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema_decay),
                                               use_buffers=True)

    def flight_generator(self) -> CoModGenerator:
        """The generator that flies: its moving average when ``ema_decay`` is on, else the trained one."""
        return self.generator_ema.module if self.config.ema_decay > 0 else self.generator

    def generator_losses(self, batch: dict, groups: list[Tensor], returned: Tensor) -> dict[str, Tensor]:
        """The generator's weighted terms and their ``total``."""
        weights, photo = self.config.weights, batch["rgbd"]
        adversarial = [logistic_generator_loss(self.discriminator(fake)) for fake in groups]  # balanced: per group
        terms = {"reconstruction": reconstruction_l1(returned, photo), "adversarial": torch.stack(adversarial).mean()}
        total = weights.reconstruction * terms["reconstruction"] + weights.adversarial * terms["adversarial"]
        if self.perceptual_network is not None:
            from viewgen.training.perceptual import perceptual_loss

            network = self.perceptual_network.to(photo.device)
            terms["perceptual"] = perceptual_loss(network, returned[:, :3], photo[:, :3])
            total = total + weights.perceptual * terms["perceptual"]
        return {**terms, "total": total}

    def discriminator_loss(self, photo: Tensor, groups: list[Tensor], draws: torch.Generator) -> dict[str, Tensor]:
        """The logistic loss on the photos and one fake per photo from a uniformly drawn group, plus lazy R1."""
        pick = torch.randint(len(groups), (photo.shape[0],), generator=draws).to(photo.device)
        fakes = torch.stack([group.detach() for group in groups], dim=1)  # [B, G, 4, S, S]
        fake = fakes[torch.arange(photo.shape[0], device=photo.device), pick]
        terms = {"logistic": logistic_discriminator_loss(self.discriminator(photo), self.discriminator(fake))}
        total = terms["logistic"]
        if self.global_step % self.config.r1_every == 0 and self.config.weights.r1_gamma > 0:
            real = photo.detach().requires_grad_(True)
            terms["r1"] = r1_penalty(self.discriminator(real), real)
            total = total + self.config.weights.r1_gamma / 2 * self.config.r1_every * terms["r1"]
        return {**terms, "total": total}

    def training_step(self, batch: dict, batch_index: int) -> None:
        optimizer_g, optimizer_d = self.optimizers()
        draws = item_generator(self.config.seed, self.global_step)
        cycle, groups = _fake_groups(self.generator, batch, self.config, self.global_step, draws)
        self.discriminator.requires_grad_(False)
        losses = self.generator_losses(batch, groups, cycle.returned)
        optimizer_g.zero_grad(set_to_none=True)
        self.manual_backward(losses["total"])
        optimizer_g.step()
        if self.config.ema_decay > 0:
            self.generator_ema.update_parameters(self.generator)
        self.discriminator.requires_grad_(True)
        critic = self.discriminator_loss(batch["rgbd"], groups, draws)
        optimizer_d.zero_grad(set_to_none=True)
        self.manual_backward(critic["total"])
        optimizer_d.optimizer.step()  # the raw optimizer: a training step counts once (see Infinite Nature's)
        size = batch["rgbd"].shape[0]
        self.log("train/loss", losses["total"], prog_bar=True, batch_size=size)
        self.log_dict({f"train/{name}": value for name, value in losses.items() if name != "total"}, batch_size=size)
        self.log("train/discriminator", critic["total"], prog_bar=True, batch_size=size)
        if "r1" in critic:
            self.log("train/r1", critic["r1"], batch_size=size)

    def configure_optimizers(self):
        config = self.config
        return (torch.optim.Adam(self.generator.parameters(), lr=config.learning_rate, betas=config.betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=config.learning_rate, betas=config.betas))

    def sample_grid(self, batch: dict) -> Tensor:
        """``[3, 2S, 5S]`` for the first photo: (photo, virtual warp, virtual view, return warp, returned view) on
        top; below, the photo and frames of a flight from it (every :data:`SAMPLE_FLIGHT_STRIDE`-th), flown by the
        pipeline ``viewgen fly --model infinite-nature-zero`` runs."""
        first = {key: value[:1] for key, value in batch.items()}
        draws = item_generator(self.config.seed, 0)
        generator_net = self.flight_generator()
        style = draw_style(generator_net, first["rgbd"], draws)
        rotation, translation = virtual_cameras(1, self.config.cameras, draws)
        device = first["rgbd"].device
        cycle = cycle_views(generator_net, first["rgbd"], first["pixel_matrix"], style, rotation.to(device),
                            translation.to(device), self.config.flight.refiner)
        top = [first["rgbd"], cycle.virtual_warp, cycle.virtual, cycle.return_warp, cycle.returned]
        top_row = torch.cat([view[0, :3] for view in top], dim=2)
        return torch.cat([top_row, self._sample_flight(first, len(top))], dim=1).clamp(0, 1)

    def _sample_flight(self, first: dict, count: int) -> Tensor:
        """``[3, S, count S]``: the photo and every :data:`SAMPLE_FLIGHT_STRIDE`-th frame of its flight (a crash
        leaves the rest black)."""
        from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

        device = str(first["rgbd"].device)
        pipeline = InfiniteNatureZeroPipeline(self.flight_generator(), replace(self.config.flight, device=device,
                                                                               stop_on_crash=False))
        flight = pipeline(batch_inputs(first), (count - 1) * SAMPLE_FLIGHT_STRIDE, output_type="tensor")
        frames = [first["rgbd"][0, :3]]
        for index in range(SAMPLE_FLIGHT_STRIDE - 1, (count - 1) * SAMPLE_FLIGHT_STRIDE, SAMPLE_FLIGHT_STRIDE):
            frames.append(flight[index, :3].to(first["rgbd"]) if index < flight.shape[0]
                          else torch.zeros_like(first["rgbd"][0, :3]))
        return torch.cat(frames, dim=2)


def batch_inputs(batch: dict):
    """The first photo of a training batch as a flight's :class:`~viewgen.pipelines.zero_inputs.ZeroInputs`."""
    from viewgen.pipelines.zero_inputs import ZeroInputs

    sky_offset = float(batch["sky_offset"][0])
    return ZeroInputs(batch["rgbd"][:1].cpu(), batch["rgbd_full"][:1].cpu(),
                      (batch["rgbd_full"][:1, 3:4].cpu() < sky_offset).float(), sky_offset, 0.0,
                      batch["pixel_matrix"][0].cpu(), batch["full_pixel_matrix"][0].cpu(), (0.0, 1.0))


def zero_tiny_config(**overrides) -> InfiniteNatureZeroTrainingConfig:
    """A few thousand weights at 16x16 and two-step flights: for tests and smoke runs on CPU."""
    generator = CoModGeneratorConfig(resolution=16, latent_dim=8, mapping_layers=2, channel_base=64,
                                     style_channel_base=32, channel_max=8)
    discriminator = StyleGAN2DiscriminatorConfig(resolution=16, channel_base=32, channel_max=8)
    config = InfiniteNatureZeroTrainingConfig(
        generator=generator, discriminator=discriminator, rollout_steps=2, batch_size=2, perceptual=False,
        flight=InfiniteNatureZeroConfig(refiner=StyleGANRefinerConfig(mean_latent_samples=256), stop_on_crash=False),
        r1_every=2, ema_decay=0.9, items_per_epoch=64,
        max_steps=2, checkpoint_every=1, sample_every=1, log_every=1)
    return replace(config, **overrides)


def read_zero_release(release, config: InfiniteNatureZeroTrainingConfig) -> dict:
    """The generator state dict of a release to fine-tune from (the original ``*latest.tar``, its converted folder
    or an export), read once; its architecture must be ``config.generator`` (one-line ``ValueError`` naming the
    fields that differ; the ``paper`` preset is the released one)."""
    from dataclasses import fields

    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

    generator_net = InfiniteNatureZeroPipeline.from_pretrained(release).refiner.generator
    differing = [item.name for item in fields(config.generator)
                 if getattr(config.generator, item.name) != getattr(generator_net.config, item.name)]
    if differing:
        raise ValueError(f"--init {release}: its generator is not this preset's ({', '.join(differing)} differ); "
                         "fine-tune a release of the same architecture (the paper preset fits the released model)")
    return generator_net.state_dict()


def load_zero_release(module: InfiniteNatureZeroTrainingModule, state: dict) -> None:
    """Start ``module``'s generator (and its moving average) from :func:`read_zero_release`'s ``state``; the
    discriminator starts fresh: none was released."""
    module.generator.load_state_dict(state)
    if module.config.ema_decay > 0:
        module.generator_ema.module.load_state_dict(state)


def export_zero_weights(module: InfiniteNatureZeroTrainingModule, out_dir) -> object:
    """Write the flying generator (its moving average when kept) as a release folder that
    ``InfiniteNatureZeroPipeline.from_pretrained`` and ``viewgen fly --model infinite-nature-zero --weights`` read,
    with the training's flight settings (stopping at a crash, as the original). The module is not changed. Returns
    the pipeline."""
    import copy

    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

    generator_net = copy.deepcopy(module.flight_generator()).cpu().eval()
    pipeline = InfiniteNatureZeroPipeline(generator_net, replace(module.config.flight, device="cpu",
                                                                 stop_on_crash=True))
    pipeline.save_pretrained(out_dir)
    return pipeline


def export_zero_checkpoint(checkpoint, out_dir) -> object:
    """:func:`export_zero_weights` of the module saved in ``checkpoint`` (a run's ``stepNNNNNNNN.ckpt``)."""
    from viewgen.training.checkpoints import read_checkpoint

    content = read_checkpoint(Path(checkpoint))
    module = InfiniteNatureZeroTrainingModule(content["hyper_parameters"]["config"])
    module.load_state_dict(content["state_dict"])
    return export_zero_weights(module, out_dir)
