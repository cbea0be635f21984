"""The co-modulated generator on tiny random models: shapes, reproducible randomness, input checks, loading."""

from __future__ import annotations

import json

import pytest
import torch

from viewgen.hub import WeightsFormatError
from viewgen.networks.pretrained import StateDictMismatchError
from viewgen.networks.stylegan2 import (
    CoModGenerator,
    CoModGeneratorConfig,
    find_latest_checkpoint,
    load_original_checkpoint,
)

TINY = CoModGeneratorConfig(resolution=16, latent_dim=8, mapping_layers=2, channel_base=64, style_channel_base=32,
                            channel_max=16)
SIZE = TINY.resolution


@pytest.fixture(scope="module")
def tiny() -> CoModGenerator:
    torch.manual_seed(0)
    model = CoModGenerator(TINY).eval()
    with torch.no_grad():  # biases and noise strengths start at zero: make them matter
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def inputs(batch: int = 1, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    rgbd = torch.rand(batch, 4, SIZE, SIZE, generator=gen)
    condition = torch.rand(batch, 5, SIZE, SIZE, generator=gen)
    z = torch.randn(batch, TINY.latent_dim, generator=gen)
    return rgbd, condition, z


def run(model, batch=1, noise_seed=1, **kwargs):
    rgbd, condition, z = inputs(batch)
    noise = model.make_noise(1, torch.Generator().manual_seed(noise_seed))
    with torch.no_grad():
        return model(model.encode_features(condition), model.encode_style(rgbd), [z], noise=noise, **kwargs)


def test_shapes(tiny):
    rgbd, condition, z = inputs(batch=2)
    code = tiny.encode_style(rgbd)
    features = tiny.encode_features(condition)
    assert code.shape == (2, TINY.code_dim)
    widths = {level: tiny.G_synthesis.width(max(level - 1, 1)) for level in features}
    assert {level: tuple(value.shape) for level, value in features.items()} == {
        level: (2, widths[level], 2**level, 2**level) for level in (4, 3, 2)}
    assert tiny.noise_names == ("G_4x4.Conv", "G_8x8.Conv0_up", "G_8x8.Conv1", "G_16x16.Conv0_up", "G_16x16.Conv1")
    out = tiny(features, code, [z])
    assert out.shape == (2, 4, SIZE, SIZE)
    assert out.min() >= 0 and out.max() <= 1


def test_fixed_noise_is_deterministic_and_noise_matters(tiny):
    torch.testing.assert_close(run(tiny), run(tiny), rtol=0, atol=0)
    assert not torch.equal(run(tiny), run(tiny, noise_seed=2))
    rgbd, condition, z = inputs()
    with torch.no_grad():
        features, code = tiny.encode_features(condition), tiny.encode_style(rgbd)
        drawn = [tiny(features, code, [z], noise_generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    torch.testing.assert_close(drawn[0], drawn[1], rtol=0, atol=0)


def test_a_batch_is_each_sample_on_its_own(tiny):
    both = run(tiny, batch=2)
    rgbd, condition, z = inputs(batch=2)
    noise = tiny.make_noise(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        for i in range(2):
            single = tiny(tiny.encode_features(condition[i:i + 1]), tiny.encode_style(rgbd[i:i + 1]), [z[i:i + 1]],
                          noise=noise)
            torch.testing.assert_close(both[i:i + 1], single, rtol=1e-5, atol=1e-6)


def test_dropout_is_controllable(tiny):
    rgbd = inputs()[0]
    with torch.no_grad():
        code = tiny.encode_style(rgbd)
        keep = torch.arange(TINY.code_dim) % 2 == 0
        torch.testing.assert_close(tiny.encode_style(rgbd, keep_mask=keep[None]), code * keep * 2)
        tiny.train()
        try:
            first = tiny.encode_style(rgbd, generator=torch.Generator().manual_seed(3))
            again = tiny.encode_style(rgbd, generator=torch.Generator().manual_seed(3))
        finally:
            tiny.eval()
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert set(torch.unique(first / code).tolist()) <= {0.0, 2.0}


def test_truncation_and_mean_latent(tiny):
    mean = tiny.mean_latent(64, torch.Generator().manual_seed(4))
    torch.testing.assert_close(mean, tiny.mean_latent(64, torch.Generator().manual_seed(4)))
    assert mean.shape == (1, TINY.latent_dim)
    z = inputs()[2]
    torch.testing.assert_close(tiny.map_latents([z], 0.0, mean)[0], mean)
    torch.testing.assert_close(tiny.map_latents([z], 1.0)[0], tiny.G_mapping(z))
    psi0 = run(tiny, truncation=0.0, truncation_mean=mean)
    with torch.no_grad():
        rgbd, condition, _ = inputs()
        noise = tiny.make_noise(1, torch.Generator().manual_seed(1))
        styles = mean.unsqueeze(1).repeat(1, TINY.num_layers, 1)
        direct = tiny.G_synthesis(styles, tiny.encode_style(rgbd), tiny.encode_features(condition), noise)
    torch.testing.assert_close(psi0, direct)


def test_style_mixing_at_the_last_layer_is_no_mixing(tiny):
    z2 = torch.randn(1, TINY.latent_dim)
    rgbd, condition, z = inputs()
    noise = tiny.make_noise(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        features, code = tiny.encode_features(condition), tiny.encode_style(rgbd)
        mixed = tiny(features, code, [z, z2], inject_index=TINY.num_layers, noise=noise)
        torch.testing.assert_close(mixed, tiny(features, code, [z], noise=noise))


@pytest.mark.parametrize("case, message", [
    ("rgb_only", "rgbd must be a"),
    ("wrong_size", "rgbd must be a"),
    ("condition_channels", "feature encoder input must be"),
    ("z_tensor", "latents must be a list"),
    ("missing_level", "features must be the feature encoder's dict"),
    ("noise_count", "noise must hold 5 maps"),
    ("noise_size", "noise for G_8x8.Conv0_up must be"),
    ("code_size", "global_code must be"),
    ("no_mean", "needs truncation_mean"),
    ("keep_mask", "keep_mask must be"),
])
def test_bad_input_gives_a_clear_value_error(tiny, case, message):
    rgbd, condition, z = inputs()
    features, code = tiny.encode_features(condition), tiny.encode_style(rgbd)
    noise = tiny.make_noise()
    calls = {
        "rgb_only": lambda: tiny.encode_style(rgbd[:, :3]),
        "wrong_size": lambda: tiny.encode_style(rgbd[..., :8, :8]),
        "condition_channels": lambda: tiny.encode_features(condition[:, :4]),
        "z_tensor": lambda: tiny(features, code, z),
        "missing_level": lambda: tiny(dict(list(features.items())[1:]), code, [z]),
        "noise_count": lambda: tiny(features, code, [z], noise=noise[:4]),
        "noise_size": lambda: tiny(features, code, [z], noise=[noise[0], noise[0], *noise[2:]]),
        "code_size": lambda: tiny(features, code[:, :3], [z]),
        "no_mean": lambda: tiny(features, code, [z], truncation=0.7),
        "keep_mask": lambda: tiny.encode_style(rgbd, keep_mask=torch.ones(1, 3, dtype=torch.bool)),
    }
    with pytest.raises(ValueError, match=message):
        calls[case]()


@pytest.mark.parametrize("field, value", [("resolution", 12), ("resolution", 4), ("latent_dim", 0), ("dropout", 1.0)])
def test_bad_config_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        CoModGeneratorConfig(**{field: value})


def test_release_folder_round_trip(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "refiner")
    assert json.loads((tmp_path / "refiner" / "config.json").read_text())["_class_name"] == "CoModGenerator"
    loaded = CoModGenerator.from_pretrained(tmp_path / "refiner")
    assert loaded.config == TINY
    assert not loaded.training
    for key, value in tiny.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.testing.assert_close(run(loaded), run(tiny), rtol=0, atol=0)


def test_strict_load_lists_every_mismatch(tiny):
    state = dict(tiny.state_dict())
    del state["G_mapping.G_mapping.Dense0.bias"]
    state["G_synthesis.G_4x4.extra"] = torch.zeros(1)
    state["style_encoder.E.4x4.Dense0.weight"] = torch.zeros(3, 3)
    with pytest.raises(StateDictMismatchError) as caught:
        CoModGenerator(TINY).load_state_dict_strict(state, source="test state")
    text = str(caught.value)
    assert "missing keys (1)" in text and "G_mapping.G_mapping.Dense0.bias" in text
    assert "unexpected keys (1)" in text and "G_synthesis.G_4x4.extra" in text
    assert "shape mismatches (1)" in text and "style_encoder.E.4x4.Dense0.weight: expected (16, 256)" in text


def test_original_checkpoint_format_loads_strictly(tiny, tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({"global_step": 1, "epoch": 0, "netG_ema": tiny.state_dict()}, folder / "a_latest.tar")
    torch.save({"global_step": 2, "epoch": 1, "netG_ema": tiny.state_dict()}, folder / "b_latest.tar")
    assert find_latest_checkpoint(folder).name == "b_latest.tar"
    loaded = load_original_checkpoint(folder, TINY)
    torch.testing.assert_close(run(loaded), run(tiny), rtol=0, atol=0)
    with pytest.raises(StateDictMismatchError, match="shape mismatches"):
        load_original_checkpoint(folder)  # the released config does not fit the tiny weights
    torch.save({"netG": tiny.state_dict()}, folder / "c_latest.tar")
    with pytest.raises(WeightsFormatError, match="'netG_ema'"):
        load_original_checkpoint(folder, TINY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*latest.tar in"):
        load_original_checkpoint(tmp_path / "empty", TINY)


@pytest.mark.parametrize("truncation", [1.0, 0.7])
def test_precomputed_style_kernels_give_the_same_output_bit_for_bit(tiny, truncation):
    rgbd, condition, z = inputs()
    noise = tiny.make_noise(1, torch.Generator().manual_seed(1))
    mean = tiny.mean_latent(64, torch.Generator().manual_seed(4))
    with torch.no_grad():
        code, features = tiny.encode_style(rgbd), tiny.encode_features(condition)
        kernels = tiny.style_kernels(code, z, truncation, mean)
        fresh = tiny(features, code, [z], truncation=truncation, truncation_mean=mean, noise=noise)
        kept = tiny(features, code, [z], truncation=truncation, truncation_mean=mean, noise=noise, kernels=kernels)
    assert len(kernels) == sum(1 for name, _ in tiny.named_modules() if name.endswith(".conv"))
    assert torch.equal(kept, fresh)
