"""Training presets, by name: ``viewgen train <family> --preset NAME``.

ENR:

* ``chairs``: Apple's chairs experiment (its ``config.json``): 128x128, 11.5 M weights, 8 pairs per
  step, Adam 2e-4, 100 epochs.
* ``objects``: the model shipped as viewgen's default, trained on CPU on the synthetic object world
  (``viewgen synth-objects``): 64x64, a scene of 32 x 16^3, 0.9 M weights (3.5 MB).
* ``tiny``: 32x32 and a few thousand weights, for tests and smoke runs (two steps take a second on CPU).

Infinite Nature:

* ``paper``: the released architecture at 160x256 (so fine-tuning from converted official weights
  fits), a spectrally normalised discriminator, 4-step rollouts, 2 windows per step.
* ``small``: the flight resolution (160x256) with narrow networks sized for a 2-core CPU (a 0.9 M
  weight generator, 3.6 MB; a style of 32), 3-step rollouts, 2 windows per step, Adam 2e-4.
* ``tiny``: 32x48, two-step rollouts, for tests and smoke runs.

Infinite Nature Zero:

* ``paper``: the released generator (128x128, 65 M weights, so fine-tuning converted official weights fits), a
  StyleGAN2 discriminator of StyleGAN2's widths, 4 photos per step, flights growing from 2 to 6 steps.
* ``small``: 64x64 narrow networks sized for a 2-core CPU, 2 photos per step, flights of 2 then 3 steps.
* ``tiny``: 16x16, two-step flights, for tests and smoke runs.
"""

from __future__ import annotations

from dataclasses import replace

from viewgen.networks.enr import ENRConfig

__all__ = ["ENR_PRESETS", "INFINITE_NATURE_PRESETS", "INFINITE_NATURE_ZERO_PRESETS", "enr_preset", "preset"]


def _chairs():
    from viewgen.training.enr import EnrTrainingConfig

    return EnrTrainingConfig()


def _objects():
    from viewgen.training.enr import EnrTrainingConfig

    model = ENRConfig(image_size=(64, 64), encoder_2d=("res32", "down64", "res64", "down64", "res64"),
                      inverse_projection=(128, 256), encoder_3d=("res16", "down32", "res32", "up32", "res32"),
                      projection=(256, 128))
    return EnrTrainingConfig(model=model, pairs_per_batch=4, max_epochs=1000, max_steps=-1, checkpoint_every=100,
                             validate_every=500, sample_every=250, log_every=10)


def _tiny():
    from viewgen.training.enr import EnrTrainingConfig

    model = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                      encoder_3d=("res4", "down8", "up8"), projection=(32, 32))
    return EnrTrainingConfig(model=model, pairs_per_batch=2, max_epochs=1000, max_steps=2, checkpoint_every=1,
                             validate_every=1, sample_every=1, log_every=1)


ENR_PRESETS = {"chairs": _chairs, "objects": _objects, "tiny": _tiny}


def enr_preset(name: str, **overrides):
    """The preset ``name`` (:data:`ENR_PRESETS`) with ``overrides`` (fields of EnrTrainingConfig) applied."""
    if name not in ENR_PRESETS:
        raise ValueError(f"unknown ENR preset {name!r}; choose one of {', '.join(ENR_PRESETS)}")
    return replace(ENR_PRESETS[name](), **overrides)


def _paper():
    from viewgen.training.infinite_nature import InfiniteNatureTrainingConfig

    return InfiniteNatureTrainingConfig()


def _in_tiny():
    from viewgen.training.infinite_nature import tiny_config

    return tiny_config()


def _in_small():
    from viewgen.networks import SpadeGeneratorConfig, StyleEncoderConfig
    from viewgen.networks.infinite_nature.discriminator import MultiScaleDiscriminatorConfig, PatchDiscriminatorConfig
    from viewgen.training.infinite_nature import InfiniteNatureTrainingConfig

    size = (160, 256)
    encoder = StyleEncoderConfig(image_size=size, channels=(8, 16, 32, 32, 32, 32), style_dim=32, spectral_norm=True)
    generator = SpadeGeneratorConfig(image_size=size, style_dim=32, base_channels=64, up_channels=(64, 32, 16, 16),
                                     spade_hidden_channels=32, spectral_norm=True)
    patch = PatchDiscriminatorConfig(base_channels=16, max_channels=64, spectral_norm=True)
    return InfiniteNatureTrainingConfig(encoder=encoder, generator=generator,
                                        discriminator=MultiScaleDiscriminatorConfig(patch=patch), rollout_steps=3,
                                        batch_size=2, learning_rate=2e-4, checkpoint_every=50, sample_every=100,
                                        log_every=10)


INFINITE_NATURE_PRESETS = {"paper": _paper, "small": _in_small, "tiny": _in_tiny}


def _zero_paper():
    from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingConfig

    return InfiniteNatureZeroTrainingConfig(rollout_steps=6, rollout_schedule=((0, 2), (20_000, 4), (60_000, 6)))


def _zero_small():
    from viewgen.networks.stylegan2 import CoModGeneratorConfig, StyleGAN2DiscriminatorConfig
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig
    from viewgen.refiners.stylegan import StyleGANRefinerConfig
    from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingConfig

    refiner = StyleGANRefinerConfig(mean_latent_samples=10_000)
    generator = CoModGeneratorConfig(resolution=64, latent_dim=64, mapping_layers=4, channel_base=1024,
                                     style_channel_base=512, channel_max=64)
    discriminator = StyleGAN2DiscriminatorConfig(resolution=64, channel_base=512, channel_max=64)
    return InfiniteNatureZeroTrainingConfig(generator=generator, discriminator=discriminator, rollout_steps=3,
                                            rollout_schedule=((0, 2), (1000, 3)), batch_size=2,
                                            flight=InfiniteNatureZeroConfig(stop_on_crash=False, refiner=refiner),
                                            ema_decay=0.99, checkpoint_every=50, sample_every=100, log_every=10)


def _zero_tiny():
    from viewgen.training.infinite_nature_zero import zero_tiny_config

    return zero_tiny_config()


INFINITE_NATURE_ZERO_PRESETS = {"paper": _zero_paper, "small": _zero_small, "tiny": _zero_tiny}
_PRESETS = {"enr": ENR_PRESETS, "infinite-nature": INFINITE_NATURE_PRESETS,
            "infinite-nature-zero": INFINITE_NATURE_ZERO_PRESETS}


def preset(family: str, name: str, **overrides):
    """The preset ``name`` of ``family`` (``enr``, ``infinite-nature``, ``infinite-nature-zero``) with ``overrides``
    applied."""
    presets = _PRESETS[family]
    if name not in presets:
        raise ValueError(f"unknown {family} preset {name!r}; choose one of {', '.join(presets)}")
    return replace(presets[name](), **overrides)
