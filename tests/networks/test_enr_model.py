"""ENR's model: configs (named stages, Apple's dict both ways), the transposed forward nets, the spherical mask,
shapes and determinism on a tiny model, and Apple's module layout (its 313 keys for the chairs config)."""

import pytest
import torch

from tests.helpers.shared import shared_path
from viewgen.networks.enr import ENRConfig, EquivariantRenderer, group_count, parse_stage, spherical_mask
from viewgen.networks.enr.model import transposed_stages

TINY = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                 encoder_3d=("res4", "down8", "up4", "res4"), projection=(16, 16))


def test_group_norm_groups_follow_apples_table():
    assert [group_count(c) for c in (3, 8, 31, 32, 64, 127, 128, 255, 256, 1024)] == [1, 2, 2, 4, 8, 8, 16, 16, 32, 32]


@pytest.mark.parametrize("stage", ["res", "down0", "up-2", "res 64", "side64", 64])
def test_a_bad_stage_is_one_line(stage):
    with pytest.raises(ValueError, match="a stage is res<C>, down<C> or up<C>"):
        parse_stage(stage)


def test_apples_config_dict_round_trips_and_the_default_is_chairs():
    chairs = {"img_shape": [3, 128, 128], "channels_2d": [64, 64, 128, 128, 128, 128, 256, 256, 128, 128, 128],
              "strides_2d": [1, 1, 2, 1, 2, 1, 2, 1, -2, 1, 1], "channels_3d": [32, 32, 128, 128, 128, 64, 64, 64],
              "strides_3d": [1, 1, 2, 1, 1, -2, 1, 1], "num_channels_inv_projection": [256, 512, 1024],
              "num_channels_projection": [512, 256, 256], "mode": "bilinear"}
    config = ENRConfig.from_apple(chairs)
    assert config == ENRConfig() and config.to_apple() == chairs
    assert config.scene_shape == (64, 32, 32, 32) and config.feature_size == (32, 32)
    assert ENRConfig.from_apple(TINY.to_apple()) == TINY
    with pytest.raises(ValueError, match="missing \\['mode'\\]"):
        ENRConfig.from_apple({k: v for k, v in chairs.items() if k != "mode"})
    with pytest.raises(ValueError, match="strides each 1, 2 or -2"):
        ENRConfig.from_apple({**chairs, "strides_3d": [1, 1, 3, 1, 1, -2, 1, 1]})


def test_the_forward_nets_are_the_inverse_ones_transposed():
    assert transposed_stages(ENRConfig().encoder_3d) == ("res64", "res64", "down128", "res128", "res128", "up32",
                                                        "res32", "res32")
    assert transposed_stages(ENRConfig().encoder_2d) == ("res128", "res128", "down256", "res256", "up128", "res128",
                                                        "up128", "res128", "up64", "res64", "res64")


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="do not divide the image size"):
        ENRConfig(image_size=(31, 31), encoder_2d=("res8", "down16", "res16"))
    with pytest.raises(ValueError, match="multiple of the feature height"):
        ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(30,))
    with pytest.raises(ValueError, match="mode must be"):
        ENRConfig(mode="cubic")
    with pytest.raises(ValueError, match="encoder_3d must not be empty"):
        ENRConfig(encoder_3d=())
    with pytest.raises(ValueError, match="3D stages do not divide"):
        ENRConfig(encoder_3d=("res32",) + ("down32",) * 6)
    with pytest.raises(ValueError, match="must not grow"):
        ENRConfig(encoder_2d=("res64", "up64"))


def test_a_residual_stage_may_be_narrower_than_its_input():
    config = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res4"), inverse_projection=(32,),
                       encoder_3d=("res2", "res1"), projection=(8,))
    model = EquivariantRenderer(config)
    bottleneck = model.inv_transform_2d.forward_layers[5].residual_layers.forward_layers
    assert bottleneck[2].weight.shape == (4, 16, 1, 1) and bottleneck[8].weight.shape == (16, 4, 1, 1)
    assert model.inverse_render(torch.rand(1, 3, 32, 32)).shape == (1, *config.scene_shape) == (1, 2, 16, 16, 16)


def test_the_spherical_mask_is_apples_ball():
    mask = spherical_mask((2, 32, 32, 32))
    assert int(mask[0].sum()) == 15408 and torch.equal(mask[0], mask[1])
    assert torch.equal(mask[0], mask[0].flip(0)) and torch.equal(mask[0], mask[0].transpose(0, 2))
    assert mask[0, 16, 16, 16] == 1 and mask[0, 0, 0, 0] == 0


def test_a_tiny_model_maps_images_to_scenes_and_back_deterministically():
    torch.manual_seed(0)
    model = EquivariantRenderer(TINY).eval()
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        scene = model.inverse_render(image)
        rendered = model.render(scene)
        again = model.render(model.inverse_render(image))
    assert scene.shape == (2, *TINY.scene_shape) == (2, 4, 16, 16, 16)
    assert bool((scene * (1 - model.spherical_mask.mask) == 0).all())  # nothing outside the ball
    assert rendered.shape == image.shape and bool(((rendered > 0) & (rendered < 1)).all())
    assert torch.equal(rendered, again)
    with pytest.raises(ValueError, match="image"):
        model.inverse_render(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="scene"):
        model.render(torch.rand(1, 4, 8, 8, 8))


def test_the_chairs_model_has_apples_keys_and_shapes():
    lines = shared_path("fixtures", "enr", "state_dict_keys.txt").read_text().splitlines()
    expected = {name: tuple(int(n) for n in shape.strip("()").split(",") if n.strip())
                for name, shape, _ in (line.split("\t") for line in lines if line.strip())}
    with torch.device("meta"):
        model = EquivariantRenderer()
    found = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    assert found == expected and len(found) == 313
    assert sum(t.numel() for n, t in model.state_dict().items() if n != "spherical_mask.mask") == 11_489_027


def test_a_release_folder_round_trips(tmp_path):
    torch.manual_seed(1)
    model = EquivariantRenderer(TINY)
    model.save_pretrained(tmp_path / "enr")
    loaded = EquivariantRenderer.from_pretrained(tmp_path / "enr")
    assert loaded.config == TINY
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
