"""Spectral norm trained live (u moves) and baked at export with the converter's own formula."""

import numpy as np
import pytest
import torch

from viewgen.convert.infinite_nature import bake_spectral_norm
from viewgen.networks.infinite_nature.discriminator import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminatorConfig,
)
from viewgen.training.spectral_norm import bake_spectral_norms, baked_weight


def _discriminator(spectral_norm: bool) -> MultiScaleDiscriminator:
    torch.manual_seed(0)
    patch = PatchDiscriminatorConfig(base_channels=4, max_channels=8, spectral_norm=spectral_norm)
    return MultiScaleDiscriminator(MultiScaleDiscriminatorConfig(patch=patch, num_scales=2))


def test_training_moves_u_and_the_bake_matches_the_converter():
    live = _discriminator(spectral_norm=True).train()
    conv = live.scales[0].convs[0]
    u_before = conv.parametrizations.weight[0]._u.clone()
    live(torch.rand(2, 4, 64, 64))  # a training forward runs a power iteration
    u_after = conv.parametrizations.weight[0]._u
    assert not torch.equal(u_before, u_after)

    weight, u = conv.parametrizations.weight.original.detach().clone(), u_after.clone()
    kernel_tf = weight.permute(2, 3, 1, 0).numpy()
    expected = torch.from_numpy(bake_spectral_norm(kernel_tf, u.reshape(1, -1).numpy())).permute(3, 2, 0, 1)
    assert torch.equal(baked_weight(weight, u), expected)

    assert bake_spectral_norms(live) == 2 * len(live.scales[0].convs)
    assert torch.equal(conv.weight, expected)
    plain = _discriminator(spectral_norm=False)
    assert set(plain.state_dict()) == set(live.state_dict())  # loads where converted weights load
    plain.load_state_dict(live.state_dict())


def _largest_singular_value(matrix: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(matrix.double(), ord=2))


def test_a_baked_kernel_has_unit_spectral_norm_once_u_has_converged():
    torch.manual_seed(1)
    weight, u = torch.randn(8, 4, 3, 3) * 5, torch.randn(8)
    matrix = weight.reshape(8, -1)
    for _ in range(200):  # what training's power iterations converge to
        u = torch.nn.functional.normalize(matrix @ torch.nn.functional.normalize(matrix.T @ u, dim=0), dim=0)
    assert np.isclose(_largest_singular_value(baked_weight(weight, u).reshape(8, -1)), 1.0, atol=1e-4)


def test_plain_weights_load_under_live_spectral_norm_and_bake_back():
    from viewgen.training.spectral_norm import load_plain_weights

    trained = _discriminator(spectral_norm=True)
    load_plain_weights(trained, _discriminator(spectral_norm=False).state_dict())  # converges u on its kernels
    bake_spectral_norms(trained)
    release = trained.state_dict()  # plain kernels of spectral norm 1, as a release baked from a converged u
    tuned = _discriminator(spectral_norm=True)
    load_plain_weights(tuned, release)
    tuned.eval()  # the normalised kernels a fine-tune starts from are the release's
    for name, module in tuned.named_modules():
        if hasattr(module, "parametrizations"):
            assert torch.allclose(module.weight, release[f"{name}.weight"], atol=1e-4)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_plain_weights(_discriminator(spectral_norm=True), {k: v for k, v in release.items() if "bias" not in k})
