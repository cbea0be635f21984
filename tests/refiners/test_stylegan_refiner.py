"""Zero's refiner (splat + disocclusion mask + co-modulated generator): parity with the original, tiny models, errors.

The parity tests read ``fixtures/infinite_nature_zero`` (see its README): the original's
``render_and_refine`` at a fixed pose (``rr_*`` keys) for a seeded random checkpoint, with the
fixed noise maps, dropout keep mask, z and mean latent it used. Every input is read from the
fixture; the seeds come from ``run_meta.json``'s ``--seeds-base`` plus the README's offsets.

Observed on CPU, float32, one thread: every rr_* key matches bit for bit (max |diff| 0, no mask
pixel differs). The tolerance (1e-5) leaves room for other CPU kernels; the original differs from
itself by up to 4.8e-7 between one and two threads on these keys.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tests.helpers.shared import max_abs_diff, reference_tensors, shared_path
from viewgen.networks.stylegan2 import CoModGenerator, CoModGeneratorConfig
from viewgen.refiners.base import Refiner
from viewgen.refiners.stylegan import StyleGANRefiner, StyleGANRefinerConfig, ZeroStyle, generate

FIXTURE = "infinite_nature_zero"
ATOL = 1e-5
PSI = 0.7  # the README: render_and_refine's truncation in the rr_next_rgbd_{train,eval} calls
DROPOUT_AND_Z_SEED_OFFSET = 2  # the README: torch.manual_seed(base + 2) before the style encoder and z
RR_KEYS = {"rr_next_rgbd_train", "rr_next_rgbd_eval", "rr_next_rgbd_eval_psi1", "rr_rast_img", "rr_rast_disp",
           "rr_disocc_mask", "rr_condition", "rr_dlatent_train", "rr_dlatent_psi1"}
FEATURE_LEVELS = (7, 6, 5, 4, 3, 2)


@pytest.fixture(scope="module")
def ref() -> dict[str, torch.Tensor]:
    return reference_tensors(FIXTURE)


@pytest.fixture(scope="module")
def generator(zero_fixture_generator) -> CoModGenerator:
    return zero_fixture_generator


def fixed_noise(generator: CoModGenerator, ref) -> list[torch.Tensor]:
    return [ref["noise__" + name.replace(".", "_")] for name in generator.noise_names]


def fixture_style(refiner: StyleGANRefiner, ref, train: bool) -> ZeroStyle:
    """The rr calls' style: the recorded z, mean latent and noise; the keep mask for the train call."""
    keep = ref["dropout_keep_mask"] if train else None
    return refiner.sample_style(ref["input_real_rgbd"], keep_mask=keep, z=ref["z"], mean_latent=ref["mean_latent"],
                                noise=fixed_noise(refiner.generator, ref))


def fixed_step(refiner: StyleGANRefiner, ref, style: ZeroStyle):
    """The README's call: ``cur_rgba = [RGB, sobel alpha]``, ``real_rgbd[:, 3]``, pose_fixed, K_ref."""
    rgbd = ref["input_real_rgbd"]
    rgba = torch.cat([rgbd[:, :3], refiner.foreground_alpha(rgbd[:, 3:4])], dim=1)
    return refiner.render_and_refine(rgba, rgbd[:, 3:4], ref["pose_fixed_R"], ref["pose_fixed_t"], ref["input_k_ref"],
                                     style)


CASES = {  # key -> (refiner config, global code with the train-mode keep mask)
    "rr_next_rgbd_train": (StyleGANRefinerConfig(), True),
    "rr_next_rgbd_eval": (StyleGANRefinerConfig(dropout=False), False),
    "rr_next_rgbd_eval_psi1": (StyleGANRefinerConfig(dropout=False, truncation=1.0), False),
}


@pytest.fixture(scope="module")
def steps(generator, ref) -> dict:
    outputs = {}
    for key, (config, train) in CASES.items():
        refiner = StyleGANRefiner(generator, config)
        style = fixture_style(refiner, ref, train)
        outputs[key] = (fixed_step(refiner, ref, style), style)
    return outputs


# ----------------------------------------------------------------------------- parity with the original


def test_every_rr_key_is_checked(ref):
    recorded = {key for key in ref if key.startswith("rr_") and not key.startswith("rr_feat")}
    features = {key for key in ref if key.startswith("rr_feat")}
    assert recorded == RR_KEYS
    assert features == {f"rr_feat{level}{suffix}" for level in FEATURE_LEVELS for suffix in ("", "_chmean", "_chstd")}


def test_the_defaults_are_the_originals():
    config = StyleGANRefinerConfig()
    assert (config.truncation, config.alpha_threshold, config.mask_threshold) == (PSI, 0.3, 0.9)
    assert (config.min_disparity, config.sobel_beta, config.mean_latent_samples, config.dropout) == (0.01, 4.0,
                                                                                                     50000, True)


@pytest.mark.parametrize("key", sorted(CASES))
def test_next_rgbd_through_the_refiner(steps, ref, key):
    refinement, _ = steps[key]
    assert max_abs_diff(refinement.rgbd, ref[key]) <= ATOL


@pytest.mark.parametrize("key", sorted(CASES))
def test_warp_mask_and_condition(steps, ref, key):
    warp = steps[key][0].warp
    assert max_abs_diff(warp.rgb, ref["rr_rast_img"]) <= ATOL
    assert max_abs_diff(warp.disparity, ref["rr_rast_disp"]) <= ATOL
    assert warp.mask.dtype == torch.float32 and set(warp.mask.unique().tolist()) <= {0.0, 1.0}
    assert int((warp.mask.bool() != ref["rr_disocc_mask"]).sum()) == 0
    assert max_abs_diff(warp.condition * 2.0 - 1.0, ref["rr_condition"]) <= ATOL


def test_features_and_dlatents_of_the_refiners_condition(steps, generator, ref):
    refinement, style = steps["rr_next_rgbd_train"]
    with torch.no_grad():
        features = generator.encode_features(refinement.warp.condition)
        truncated = generator.map_latents([style.z], PSI, style.mean_latent)[0]
        plain = generator.map_latents([style.z])[0]
    for level in FEATURE_LEVELS:
        stored = ref[f"rr_feat{level}"]
        assert max_abs_diff(features[level][:, :stored.shape[1]], stored) <= ATOL
        assert max_abs_diff(features[level].mean((2, 3)), ref[f"rr_feat{level}_chmean"]) <= ATOL
        assert max_abs_diff(features[level].std((2, 3)), ref[f"rr_feat{level}_chstd"]) <= ATOL
    assert max_abs_diff(truncated, ref["rr_dlatent_train"]) <= ATOL
    assert max_abs_diff(plain, ref["rr_dlatent_psi1"]) <= ATOL


def test_refine_of_the_recorded_warp_gives_the_same_frame(steps, generator, ref):
    """The Refiner-protocol call (warped RGBD + mask + style) on the original's recorded warp."""
    refiner = StyleGANRefiner(generator)
    warped = torch.cat([ref["rr_rast_img"], ref["rr_rast_disp"]], dim=1)
    rgbd = refiner.refine(warped, ref["rr_disocc_mask"].float(), steps["rr_next_rgbd_train"][1])
    assert max_abs_diff(rgbd, ref["rr_next_rgbd_train"]) <= ATOL


def test_seeded_style_draws_the_originals_dropout_mask_and_z(generator, ref):
    argv = json.loads(shared_path("fixtures", FIXTURE, "run_meta.json").read_text())["argv"]
    seed = int(argv[argv.index("--seeds-base") + 1]) + DROPOUT_AND_Z_SEED_OFFSET
    refiner = StyleGANRefiner(generator)
    style = refiner.sample_style(ref["input_real_rgbd"], torch.Generator().manual_seed(seed),
                                 mean_latent=ref["mean_latent"], noise=fixed_noise(generator, ref))
    dropped = style.global_code == 0
    assert torch.equal(dropped, ref["global_code_train"] == 0)  # the same dropout mask, drawn from the seed
    assert max_abs_diff(style.global_code, ref["global_code_train"]) <= ATOL  # the encoder's rounding is the CPU's
    assert max_abs_diff(style.z, ref["z"]) == 0.0
    no_dropout = StyleGANRefiner(generator, StyleGANRefinerConfig(dropout=False))
    code, logvar = no_dropout.encode_style(ref["input_real_rgbd"])
    assert max_abs_diff(code, ref["global_code_eval"]) <= ATOL and not logvar.any()


# ----------------------------------------------------------------------------- tiny random models

TINY = CoModGeneratorConfig(resolution=32, latent_dim=8, mapping_layers=2, channel_base=64, style_channel_base=32,
                            channel_max=16)
TINY_CONFIG = StyleGANRefinerConfig(mean_latent_samples=64)
TINY_K = torch.tensor([[30.7, 0.0, 15.5], [0.0, 30.7, 15.5], [0.0, 0.0, 1.0]])  # 55 degrees across 32 pixels


@pytest.fixture(scope="module")
def tiny() -> StyleGANRefiner:
    torch.manual_seed(0)
    model = CoModGenerator(TINY)
    with torch.no_grad():  # zero-initialised biases and noise strengths: make them matter
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return StyleGANRefiner(model, TINY_CONFIG)


def tiny_frame(seed: int = 0, batch: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rgb = torch.rand(batch, 3, 32, 32, generator=gen)
    disparity = torch.linspace(0.02, 0.9, 32).view(1, 1, 32, 1).expand(batch, 1, 32, 32)
    return torch.cat([rgb, disparity], dim=1)


def tiny_step(refiner: StyleGANRefiner, style: ZeroStyle, rgbd: torch.Tensor, **kwargs):
    angle = torch.tensor(0.03)
    rotation = torch.tensor([[angle.cos(), 0.0, angle.sin()], [0.0, 1.0, 0.0], [-angle.sin(), 0.0, angle.cos()]])
    rgba = torch.cat([rgbd[:, :3], refiner.foreground_alpha(rgbd[:, 3:4])], dim=1)
    return refiner.render_and_refine(rgba, rgbd[:, 3:4], rotation[None], torch.tensor([[0.0, 0.0, -0.05]]), TINY_K,
                                     style, **kwargs)


def test_tiny_shapes_and_protocol(tiny):
    assert isinstance(tiny, Refiner)
    assert tiny.image_size == (32, 32) and tiny.style_dim == TINY.code_dim and tiny.name == "stylegan"
    rgbd = tiny_frame(batch=2)
    style = tiny.sample_style(rgbd, torch.Generator().manual_seed(1))
    assert style.global_code.shape == (2, TINY.code_dim) and style.z.shape == (2, TINY.latent_dim)
    assert style.mean_latent.shape == (1, TINY.latent_dim) and len(style.noise) == len(tiny.generator.noise_names)
    out = tiny_step(tiny, style, rgbd)
    assert out.rgbd.shape == (2, 4, 32, 32) and out.warp.condition.shape == (2, 5, 32, 32)
    assert 0 <= float(out.rgbd.min()) and float(out.rgbd.max()) <= 1 and bool(torch.isfinite(out.rgbd).all())
    assert 0.0 < float(out.warp.mask.mean()) < 1.0  # a hole opens at the edge, the rest is known


def test_tiny_flights_are_reproducible_and_seeds_matter(tiny):
    rgbd = tiny_frame()
    first = tiny_step(tiny, tiny.sample_style(rgbd, torch.Generator().manual_seed(5)), rgbd).rgbd
    again = tiny_step(tiny, tiny.sample_style(rgbd, torch.Generator().manual_seed(5)), rgbd).rgbd
    other = tiny_step(tiny, tiny.sample_style(rgbd, torch.Generator().manual_seed(6)), rgbd).rgbd
    assert torch.equal(first, again)
    assert max_abs_diff(first, other) > 1e-4
    assert torch.equal(tiny.mean_latent(), tiny.mean_latent())  # cached, drawn from its own seed


def test_fresh_noise_needs_a_generator_and_is_seeded(tiny):
    refiner = StyleGANRefiner(tiny.generator, dataclasses.replace(TINY_CONFIG, fixed_noise=False))
    rgbd = tiny_frame()
    style = refiner.sample_style(rgbd, torch.Generator().manual_seed(2))
    assert style.noise is None
    with pytest.raises(ValueError, match="pass a noise_generator"):
        tiny_step(refiner, style, rgbd)
    first = tiny_step(refiner, style, rgbd, noise_generator=torch.Generator().manual_seed(3)).rgbd
    again = tiny_step(refiner, style, rgbd, noise_generator=torch.Generator().manual_seed(3)).rgbd
    assert torch.equal(first, again)


def test_dropout_keeps_part_of_the_code_doubled(tiny):
    rgbd = tiny_frame()
    plain, _ = tiny.encode_style(rgbd)
    keep = tiny.draw_keep_mask(1, torch.Generator().manual_seed(0))
    style = tiny.sample_style(rgbd, keep_mask=keep)
    torch.testing.assert_close(style.global_code, plain * keep * 2.0, rtol=0, atol=0)
    no_dropout = StyleGANRefiner(tiny.generator, dataclasses.replace(TINY_CONFIG, dropout=False))
    assert torch.equal(no_dropout.sample_style(rgbd).global_code, plain)


IDENTITY = (torch.eye(3)[None], torch.zeros(1, 3), TINY_K)


@pytest.mark.parametrize("rgba, disparity, match", [
    (torch.zeros(1, 4, 16, 16), torch.ones(1, 1, 16, 16), r"rgba must be a \[B, 4, 32, 32\] tensor"),
    (torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32), r"rgba must be a \[B, 4, 32, 32\] tensor"),
    (torch.zeros(1, 4, 32, 32), torch.ones(1, 32, 32), r"disparity must be a \[1, 1, 32, 32\] tensor"),
    (torch.zeros(1, 4, 32, 32), torch.zeros(1, 1, 32, 32), r"depth must be positive and finite"),
])
def test_bad_inputs_are_refused(tiny, rgba, disparity, match):
    with pytest.raises(ValueError, match=match):
        tiny.render(rgba, disparity, *IDENTITY)


def test_bad_arguments_are_refused(tiny):
    with pytest.raises(TypeError, match="must be a CoModGenerator"):
        StyleGANRefiner(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="rgbd must be a torch.Tensor"):
        tiny.sample_style([[0.0]])
    with pytest.raises(ValueError, match=r"z must be a \[B, 8\] tensor"):
        tiny.sample_style(tiny_frame(), z=torch.zeros(1, 9))
    with pytest.raises(ValueError, match=r"mask must be a \[1, 1, 32, 32\] tensor"):
        tiny.refine(tiny_frame(), torch.ones(1, 32, 32), tiny.sample_style(tiny_frame()))


@pytest.mark.parametrize("options, match", [
    ({"truncation": -0.5}, "truncation must be a non-negative number"),
    ({"min_disparity": 0.0}, r"min_disparity must lie in \(0, 1\]"),
    ({"mean_latent_samples": 0}, "mean_latent_samples must be >= 1"),
    ({"dropout": 1}, "dropout must be true or false"),
    ({"alpha_threshold": float("nan")}, "alpha_threshold must be a non-negative number"),
])
def test_config_refuses_bad_values(options, match):
    with pytest.raises(ValueError, match=match):
        StyleGANRefinerConfig(**options)


def test_a_style_with_its_kernels_refines_the_same_and_training_never_uses_them(tiny):
    rgbd = tiny_frame(batch=2)
    style = tiny.sample_style(rgbd, torch.Generator().manual_seed(1))
    assert style.kernels is None
    with_kernels = tiny.with_kernels(style)
    assert len(with_kernels.kernels) > 0 and not any(k.requires_grad for k in with_kernels.kernels)
    assert torch.equal(tiny_step(tiny, with_kernels, rgbd).rgbd, tiny_step(tiny, style, rgbd).rgbd)
    condition = torch.rand(2, 5, 32, 32)
    trained = generate(tiny.generator, condition, with_kernels, truncation=1.0)  # gradients on: kernels ignored
    trained.mean().backward()
    modulation = tiny.generator.G_synthesis.G_4x4.Conv.conv.modulation.weight
    assert modulation.grad is not None and modulation.grad.abs().sum() > 0
    tiny.generator.zero_grad(set_to_none=True)
