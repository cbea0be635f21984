"""Parity of the co-modulated generator with the original Infinite Nature Zero code (shared fixture).

The fixture (``shared/fixtures/infinite_nature_zero``, see its README) holds the original's
outputs for a seeded random checkpoint: latents, global codes, encoder skips and generator outputs,
with the fixed spatial noise maps and the dropout keep mask it used. Every input is read from it.
The seeds are derived from ``run_meta.json``'s ``--seeds-base``; the README gives the offsets
(mean latent +1, dropout and z +2, noise maps +3) and the 4096 mean-latent samples.

Observed on the CPU in float32 with one thread: every stage matches bit for bit (max |diff| 0).
The tolerance (1e-5) leaves room for other thread counts and CPU kernels; the original differs
from itself by up to 4.8e-7 between one and two threads.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers.shared import load_reference, shared_path
from viewgen.networks.stylegan2 import CoModGenerator

FIXTURE = "infinite_nature_zero"
ATOL = 1e-5
MEAN_LATENT_SAMPLES = 4096  # the README: mean_latent(4096), not the original flights' 50000
PSI = 0.7  # the README: render_and_refine's truncation in view_generation and the rr_next_rgbd_{train,eval} calls
SEED_OFFSETS = {"mean_latent": 1, "dropout_and_z": 2, "noise": 3}  # the README, over run_meta's --seeds-base


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_reference(FIXTURE)


@pytest.fixture(scope="module")
def seeds() -> dict[str, int]:
    argv = json.loads(shared_path("fixtures", FIXTURE, "run_meta.json").read_text())["argv"]
    base = int(argv[argv.index("--seeds-base") + 1])
    return {name: base + offset for name, offset in SEED_OFFSETS.items()}


@pytest.fixture(scope="module")
def generator(zero_fixture_generator) -> CoModGenerator:
    return zero_fixture_generator


def tensor(ref, key: str) -> torch.Tensor:
    return torch.from_numpy(ref[key])


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = ATOL) -> None:
    assert actual.shape == expected.shape
    difference = (actual - expected).abs().max().item()
    assert difference <= atol, f"max |diff| {difference:.3g} > {atol:.0e}"


@pytest.fixture(scope="module")
def fixed_noise(generator, ref) -> list[torch.Tensor]:
    return [tensor(ref, "noise__" + name.replace(".", "_")) for name in generator.noise_names]


@pytest.fixture(scope="module")
def features(generator, ref) -> dict[int, torch.Tensor]:
    with torch.no_grad():
        return generator.feature_encoder(tensor(ref, "rr_condition"))


def test_module_names_are_the_original_state_dict_keys():
    lines = shared_path("fixtures", FIXTURE, "state_dict_keys.txt").read_text().splitlines()
    expected = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")[:2]
            expected[key] = tuple(json.loads(shape))
    with torch.device("meta"):
        ours = {key: tuple(value.shape) for key, value in CoModGenerator().state_dict().items()}
    assert ours == expected


@torch.no_grad()
def test_mapping(generator, ref):
    assert_close(generator.G_mapping(tensor(ref, "z")), tensor(ref, "w"))


@torch.no_grad()
def test_mean_latent_is_regenerated(generator, ref, seeds):
    with torch.random.fork_rng():
        torch.manual_seed(seeds["mean_latent"])
        z = torch.randn(MEAN_LATENT_SAMPLES, generator.config.latent_dim)
        torch.manual_seed(seeds["mean_latent"])
        mean = generator.mean_latent(MEAN_LATENT_SAMPLES)
    assert_close(z.mean(0), tensor(ref, "mean_latent_z_colmean"))
    assert_close(mean, tensor(ref, "mean_latent"))
    seeded = torch.Generator().manual_seed(seeds["mean_latent"])
    assert_close(generator.mean_latent(MEAN_LATENT_SAMPLES, seeded), tensor(ref, "mean_latent"))


@torch.no_grad()
def test_global_code_eval_and_with_the_keep_mask(generator, ref):
    rgbd = tensor(ref, "input_real_rgbd")
    assert_close(generator.encode_style(rgbd), tensor(ref, "global_code_eval"))
    keep = tensor(ref, "dropout_keep_mask")
    assert_close(generator.encode_style(rgbd, keep_mask=keep), tensor(ref, "global_code_train"))


@torch.no_grad()
def test_train_mode_draws_the_originals_dropout_mask_and_z(generator, ref, seeds):
    generator.train()
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seeds["dropout_and_z"])
            code = generator.encode_style(tensor(ref, "input_real_rgbd"))
            z = torch.randn(1, generator.config.latent_dim)
    finally:
        generator.eval()
    assert_close(code, tensor(ref, "global_code_train"))
    assert_close(z, tensor(ref, "z"))


def test_noise_maps_are_regenerated_from_their_seed(generator, fixed_noise, seeds):
    drawn = generator.make_noise(1, torch.Generator().manual_seed(seeds["noise"]))
    for ours, theirs in zip(drawn, fixed_noise, strict=True):
        assert_close(ours, theirs)


@pytest.mark.parametrize("level", [7, 6, 5, 4, 3, 2])
def test_feature_encoder_skips(features, ref, level):
    stored = tensor(ref, f"rr_feat{level}")
    ours = features[level]
    assert ours.shape[-2:] == stored.shape[-2:] == (2**level, 2**level)
    assert_close(ours[:, : stored.shape[1]], stored)
    assert_close(ours.mean((2, 3)), tensor(ref, f"rr_feat{level}_chmean"))
    assert_close(ours.std((2, 3)), tensor(ref, f"rr_feat{level}_chstd"))


@torch.no_grad()
def test_condition_in_unit_range_gives_the_same_features(generator, ref, features):
    mask = tensor(ref, "rr_disocc_mask").float()
    condition = torch.cat([tensor(ref, "rr_rast_img") * mask, tensor(ref, "rr_rast_disp") * mask, mask], 1)
    assert_close(condition * 2.0 - 1.0, tensor(ref, "rr_condition"), atol=0.0)
    ours = generator.encode_features(condition)
    for level, value in features.items():
        assert_close(ours[level], value, atol=0.0)


@torch.no_grad()
def test_dlatents(generator, ref):
    z, mean = tensor(ref, "z"), tensor(ref, "mean_latent")
    assert_close(generator.map_latents([z])[0], tensor(ref, "rr_dlatent_psi1"))
    assert_close(generator.map_latents([z], PSI, mean)[0], tensor(ref, "rr_dlatent_train"))


@torch.no_grad()
@pytest.mark.parametrize("key, code_key, truncated", [
    ("rr_next_rgbd_eval_psi1", "global_code_eval", False),
    ("rr_next_rgbd_eval", "global_code_eval", True),
    ("rr_next_rgbd_train", "global_code_train", True),
])
def test_generator_output(generator, ref, features, fixed_noise, key, code_key, truncated):
    kwargs = {"truncation": PSI, "truncation_mean": tensor(ref, "mean_latent")} if truncated else {}
    rgbd = generator(features, tensor(ref, code_key), [tensor(ref, "z")], noise=fixed_noise, **kwargs)
    assert_close(rgbd, tensor(ref, key))
