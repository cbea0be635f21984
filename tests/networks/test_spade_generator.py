import pytest
import torch

from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig
from viewgen.networks.infinite_nature.spade import SpadeResBlock

TINY = {"style_dim": 6, "base_channels": 16, "up_channels": (8, 8, 4, 4), "spade_hidden_channels": 8}


def _inputs(batch: int, height: int, width: int, style_dim: int = 6):
    torch.manual_seed(1)
    mask = (torch.rand(batch, 1, height, width) > 0.3).float()
    return torch.rand(batch, 4, height, width) * mask, mask, torch.randn(batch, style_dim)


def test_default_config_is_the_released_model():
    config = SpadeGeneratorConfig()
    assert config.start_size == (5, 8) and config.upsampling_factor == 32
    generator = SpadeGenerator(config)
    assert generator.fc_expand_z.weight.shape == (20480, 256)
    assert sum(p.numel() for p in generator.parameters()) == 34_672_900
    assert [block.has_learned_shortcut for block in generator.up] == [True] * 4
    assert not generator.head.has_learned_shortcut


@pytest.mark.parametrize("image_size", [(64, 128), (160, 256), (64, 64)])
def test_output_shape_and_range(image_size):
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=image_size, **TINY))
    out, intermediates = generator(*_inputs(2, *image_size), return_intermediates=True)
    assert out.shape == (2, 4, *image_size)
    assert out.min() > 0 and out.max() < 1
    height0, width0 = image_size[0] // 32, image_size[1] // 32
    assert intermediates["fc_expand_z"].shape == (2, height0 * width0 * 16)
    assert intermediates["head"].shape == (2, 16, height0, width0)
    assert intermediates["middle_1"].shape == (2, 16, 2 * height0, 2 * width0)
    assert intermediates["up_3"].shape == (2, 4, *image_size)


def test_image_size_must_divide_by_the_upsampling_factor_into_at_least_2x2():
    with pytest.raises(ValueError, match="divisible by 32"):
        SpadeGeneratorConfig(image_size=(100, 256))
    with pytest.raises(ValueError, match="under 2x2"):
        SpadeGeneratorConfig(image_size=(32, 64))


def test_samples_in_a_batch_are_refined_independently():
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=(64, 128), **TINY))
    rgbd, mask, style = _inputs(2, 64, 128)
    out = generator(rgbd, mask, style)
    assert torch.allclose(generator(rgbd[1:], mask[1:], style[1:]), out[1:], atol=1e-6)


def test_resblock_shortcut_and_middle_width():
    block = SpadeResBlock(8, 4, condition_channels=5, hidden_channels=6)
    assert block.conv_0.weight.shape == (4, 8, 3, 3) and block.shortcut_conv.bias is None
    out = block(torch.randn(1, 8, 6, 10), torch.randn(1, 5, 12, 20))
    assert out.shape == (1, 4, 6, 10)
