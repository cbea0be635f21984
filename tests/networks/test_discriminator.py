import torch

from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminator,
    PatchDiscriminatorConfig,
)

TINY_PATCH = PatchDiscriminatorConfig(base_channels=4, max_channels=16)


def test_default_shapes_at_160x256():
    discriminator = PatchDiscriminator()
    assert discriminator.config.channels == (64, 128, 256, 512)
    assert sum(p.numel() for p in discriminator.parameters()) == 2_765_761
    features, logits = PatchDiscriminator(TINY_PATCH)(torch.rand(1, 4, 160, 256))
    assert [f.shape[-2:] for f in features] == [(40, 64), (20, 32), (20, 32)]
    assert logits.shape == (1, 1, 20, 32)


def test_multiscale_halves_the_input_per_scale():
    discriminator = MultiScaleDiscriminator(MultiScaleDiscriminatorConfig(patch=TINY_PATCH, num_scales=3))
    features, logits = discriminator(torch.rand(2, 4, 128, 256))
    assert [logit.shape for logit in logits] == [(2, 1, 16, 32), (2, 1, 8, 16), (2, 1, 4, 8)]
    assert len(features) == 3 and all(len(per_scale) == 3 for per_scale in features)
    assert features[0][-1].shape == (2, 16, 16, 32)


def test_port_strides_are_configurable():
    config = PatchDiscriminatorConfig(base_channels=4, max_channels=16, strides=(2, 1, 1, 2))
    _, logits = PatchDiscriminator(config)(torch.rand(1, 4, 64, 64))
    assert logits.shape == (1, 1, 16, 16)
