"""Apple's ENR checkpoints: read strictly with weights_only, every mismatch listed; converted to a release folder
by the API and by ``viewgen convert enr``; bad files are one line."""

import pytest
import torch

from tests.helpers.shared import shared_path
from viewgen.cli.main import main
from viewgen.convert import convert_enr_checkpoint, read_apple_checkpoint
from viewgen.hub import WeightsFormatError
from viewgen.networks.enr import ENRConfig, EquivariantRenderer
from viewgen.networks.pretrained import StateDictMismatchError

TINY = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                 encoder_3d=("res4", "down8", "up4", "res4"), projection=(16, 16))


@pytest.fixture
def apple_file(tmp_path):
    torch.manual_seed(0)
    model = EquivariantRenderer(TINY)
    path = tmp_path / "tiny.pt"
    torch.save({"config": TINY.to_apple(), "state_dict": model.state_dict()}, path)
    return path, model


def test_apples_file_loads_exactly_and_converts_to_a_folder(apple_file, tmp_path):
    path, model = apple_file
    loaded = read_apple_checkpoint(path)
    assert loaded.config == TINY and not loaded.training
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    convert_enr_checkpoint(path, tmp_path / "out")
    again = EquivariantRenderer.from_pretrained(tmp_path / "out")
    assert all(torch.equal(again.state_dict()[k], v) for k, v in model.state_dict().items())


def test_the_cli_converts_the_shared_chairs_checkpoint(tmp_path, capsys):
    source = shared_path("fixtures", "enr", "checkpoint.pt")
    assert main(["convert", "enr", str(source), str(tmp_path / "chairs")]) == 0
    assert "converted 313 tensors" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "chairs").iterdir()) == ["config.json", "model.safetensors"]
    assert EquivariantRenderer.from_pretrained(tmp_path / "chairs").config == ENRConfig()


def test_every_mismatching_key_is_listed(apple_file, tmp_path):
    path, model = apple_file
    state = dict(model.state_dict())
    state.pop("transform_2d.forward_layers.0.bias")
    state["extra.weight"] = torch.zeros(1)
    state["inv_projection.forward_layers.0.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save({"config": TINY.to_apple(), "state_dict": state}, tmp_path / "bad.pt")
    with pytest.raises(StateDictMismatchError) as caught:
        read_apple_checkpoint(tmp_path / "bad.pt")
    message = str(caught.value)
    for key in ("transform_2d.forward_layers.0.bias", "extra.weight", "inv_projection.forward_layers.0.weight"):
        assert key in message


def test_bad_files_are_one_line(tmp_path, capsys):
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    torch.save({"config": {"img_shape": [3, 8, 8]}, "state_dict": {}}, tmp_path / "config.pt")
    for name, needle in (("text.pt", "cannot read"), ("other.pt", "expected a dict with 'config'"),
                         ("config.pt", "its config cannot build an ENR model")):
        with pytest.raises(WeightsFormatError, match=needle):
            read_apple_checkpoint(tmp_path / name)
    assert main(["convert", "enr", str(tmp_path / "missing.pt"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pre-trained_models.zip" in err and not (tmp_path / "out").exists()
