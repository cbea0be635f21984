"""Weight folders that cannot be read give one line naming the file; written files are readable by others."""

import json
import os

import pytest
import torch

from viewgen.hub import WeightsFormatError
from viewgen.networks import StyleEncoder, StyleEncoderConfig
from viewgen.networks.pretrained import check_release_manifest, write_release_manifest

CONFIG = StyleEncoderConfig(image_size=(32, 32), channels=(4, 4, 4), style_dim=3)


def umask_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@pytest.fixture
def component(tmp_path):
    torch.manual_seed(0)
    return StyleEncoder(CONFIG).save_pretrained(tmp_path / "style_encoder")


def assert_one_line(error, *needles):
    message = str(error.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message


def test_written_files_follow_the_umask_and_leave_no_temporary(component):
    assert sorted(path.name for path in component.iterdir()) == ["config.json", "model.safetensors"]
    for path in component.iterdir():
        assert path.stat().st_mode & 0o777 == umask_mode()  # 0o644 under the default umask, not 0o600


@pytest.mark.parametrize("content", [b"", b"\x00" * 5, os.urandom(4096), (10**15).to_bytes(8, "little") + b"{}",
                                     "truncated"], ids=["empty", "short", "random", "absurd-header", "truncated"])
def test_corrupt_weights_are_one_line_naming_the_file(component, content):
    weights = component / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100] if content == "truncated" else content)
    with pytest.raises(WeightsFormatError) as error:
        StyleEncoder.from_pretrained(component)
    assert_one_line(error, str(weights), "convert or download the weights again")


@pytest.mark.parametrize("text, needle", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"),
                                          ('{"channels": "abc"}', "config.json"),
                                          ('{"style_dim": -3}', "config.json"), ("\xff\xfe", "config.json")])
def test_a_broken_config_is_one_line_naming_the_file(component, text, needle):
    config = component / "config.json"
    config.write_text(text, encoding="latin-1")
    with pytest.raises(WeightsFormatError) as error:
        StyleEncoder.from_pretrained(component)
    assert_one_line(error, str(config), needle)


def test_a_component_of_another_release_is_detected(tmp_path, component):
    write_release_manifest(tmp_path, ["style_encoder"])
    check_release_manifest(component)  # as written: fine
    StyleEncoder.from_pretrained(component)
    other = StyleEncoder(CONFIG).save_pretrained(tmp_path / "other")
    (component / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(WeightsFormatError) as error:
        StyleEncoder.from_pretrained(component)
    assert_one_line(error, str(component / "model.safetensors"), "manifest.json", "mixed")
    with pytest.raises(WeightsFormatError, match="not one of the components"):
        StyleEncoder.from_pretrained(other)


def test_saving_a_component_again_drops_the_manifest_that_no_longer_fits(tmp_path, component):
    write_release_manifest(tmp_path, ["style_encoder"])
    torch.manual_seed(1)
    StyleEncoder(CONFIG).save_pretrained(component)
    assert not (tmp_path / "manifest.json").exists()
    StyleEncoder.from_pretrained(component)


def test_a_broken_manifest_is_one_line(tmp_path, component):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(WeightsFormatError) as error:
        StyleEncoder.from_pretrained(component)
    assert_one_line(error, str(tmp_path / "manifest.json"))
