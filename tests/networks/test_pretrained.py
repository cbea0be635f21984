import json

import pytest
import torch

from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminatorConfig,
    SpadeGenerator,
    SpadeGeneratorConfig,
    StateDictMismatchError,
    StyleEncoder,
    StyleEncoderConfig,
)
from viewgen.networks.pretrained import config_from_dict, config_to_dict

TINY_PATCH = PatchDiscriminatorConfig(base_channels=4, max_channels=16)
TINY_MODELS = [
    (StyleEncoder, StyleEncoderConfig(image_size=(64, 128), channels=(4, 4, 8, 8, 8, 8), style_dim=6)),
    (SpadeGenerator, SpadeGeneratorConfig(image_size=(64, 128), style_dim=6, base_channels=16,
                                          up_channels=(8, 8, 4, 4), spade_hidden_channels=8)),
    (MultiScaleDiscriminator, MultiScaleDiscriminatorConfig(patch=TINY_PATCH)),
    (StyleEncoder, StyleEncoderConfig(image_size=(32, 32), channels=(4, 4, 4), style_dim=3, spectral_norm=True)),
]  # fmt: skip


@pytest.mark.parametrize(("module_class", "config"), TINY_MODELS)
def test_save_and_load_round_trip(tmp_path, module_class, config):
    torch.manual_seed(0)
    module = module_class(config).eval()
    module.save_pretrained(tmp_path / "component")
    assert sorted(p.name for p in (tmp_path / "component").iterdir()) == ["config.json", "model.safetensors"]
    loaded = module_class.from_pretrained(tmp_path / "component")
    assert loaded.config == config and not loaded.training
    original, restored = module.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[key], restored[key]) for key in original)


def test_nested_config_survives_json():
    config = MultiScaleDiscriminatorConfig(patch=PatchDiscriminatorConfig(strides=(2, 1, 1, 2)), num_scales=3)
    data = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(MultiScaleDiscriminatorConfig, data) == config


def test_unknown_config_field_is_refused():
    with pytest.raises(ValueError, match="unknown StyleEncoderConfig fields: color"):
        config_from_dict(StyleEncoderConfig, {"color": 1})


def test_loading_into_the_wrong_class_is_refused(tmp_path):
    module_class, config = TINY_MODELS[0]
    module_class(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="holds a StyleEncoder, not a SpadeGenerator"):
        SpadeGenerator.from_pretrained(tmp_path)


def test_strict_loading_names_missing_unexpected_and_misshapen_keys():
    module_class, config = TINY_MODELS[0]
    module = module_class(config)
    state = dict(module.state_dict())
    del state["convs.0.bias"]
    state["convs.9.weight"] = torch.zeros(1)
    state["linear_mu.bias"] = torch.zeros(7)
    with pytest.raises(StateDictMismatchError) as error:
        module.load_state_dict_strict(state, source="test weights")
    message = str(error.value)
    assert "test weights" in message
    assert "missing keys (1):\n    convs.0.bias" in message
    assert "unexpected keys (1):\n    convs.9.weight" in message
    assert "linear_mu.bias: expected (6,), found (7,)" in message


def test_from_pretrained_reports_mismatched_files(tmp_path):
    module_class, config = TINY_MODELS[0]
    module_class(config).save_pretrained(tmp_path)
    payload = json.loads((tmp_path / "config.json").read_text())
    payload["style_dim"] = 5
    (tmp_path / "config.json").write_text(json.dumps(payload))
    with pytest.raises(StateDictMismatchError, match="linear_mu.weight: expected"):
        StyleEncoder.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        StyleEncoder.from_pretrained(tmp_path / "absent")
