"""Every network: the same seed builds the same weights, and the same input gives the same output."""

import pytest
import torch

from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminatorConfig,
    SpadeGenerator,
    SpadeGeneratorConfig,
    StyleEncoder,
    StyleEncoderConfig,
)


def _rgbd_mask_style():
    generator = torch.Generator().manual_seed(3)
    mask = (torch.rand(1, 1, 64, 128, generator=generator) > 0.3).float()
    return torch.rand(1, 4, 64, 128, generator=generator) * mask, mask, torch.randn(1, 6, generator=generator)


CASES = {
    "style_encoder": (StyleEncoder, StyleEncoderConfig(image_size=(64, 128), channels=(4, 4, 8, 8, 8, 8), style_dim=6),
                      lambda: _rgbd_mask_style()[:1]),
    "spade_generator": (SpadeGenerator, SpadeGeneratorConfig(image_size=(64, 128), style_dim=6, base_channels=16,
                                                             up_channels=(8, 8, 4, 4), spade_hidden_channels=8),
                        _rgbd_mask_style),
    "discriminator": (MultiScaleDiscriminator, MultiScaleDiscriminatorConfig(PatchDiscriminatorConfig(base_channels=4)),
                      lambda: _rgbd_mask_style()[:1]),
}  # fmt: skip


def _flatten(outputs) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [tensor for item in outputs for tensor in _flatten(item)]


@pytest.mark.parametrize("name", list(CASES))
def test_same_seed_same_weights_and_outputs(name):
    module_class, config, make_inputs = CASES[name]
    torch.manual_seed(0)
    first = module_class(config)
    torch.manual_seed(0)
    second = module_class(config)
    inputs = make_inputs()
    with torch.no_grad():
        outputs = _flatten(first(*inputs))
        assert all(torch.equal(a, b) for a, b in zip(outputs, _flatten(second(*inputs)), strict=True))
        assert all(torch.equal(a, b) for a, b in zip(outputs, _flatten(first(*inputs)), strict=True))
