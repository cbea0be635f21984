"""The MiDaS v2.1 architectures: official key layout (checked on the meta device) and tiny forwards."""

import pytest
import torch
import torch.nn.functional as F

from tests.helpers.depth import TINY_LARGE, TINY_SMALL, random_midas
from viewgen.depth.midas_net import (
    MIDAS_V21_LARGE,
    MIDAS_V21_SMALL,
    Conv2dSame,
    FeatureFusionBlock,
    MidasNet,
    ResidualConvUnit,
)


def meta_shapes(config):
    with torch.device("meta"):
        model = MidasNet(config)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}, model


def test_large_preset_has_the_official_layout():
    shapes, model = meta_shapes(MIDAS_V21_LARGE)
    # 105M parameters, as upstream's model card says (ResNeXt-101 32x8d without its fc + decoder)
    assert sum(p.numel() for p in model.parameters()) == 105_362_945
    # the encoder plus torchvision's fc is exactly torchvision's resnext101_32x8d (88,791,336)
    assert sum(p.numel() for p in model.pretrained.parameters()) + 2048 * 1000 + 1000 == 88_791_336
    assert len(shapes) == 666
    expected = {
        # layer1 = [conv1, bn1, relu, maxpool, torchvision layer1]
        "pretrained.layer1.0.weight": (64, 3, 7, 7),
        "pretrained.layer1.1.running_var": (64,),
        "pretrained.layer1.1.num_batches_tracked": (),
        "pretrained.layer1.4.0.conv1.weight": (256, 64, 1, 1),
        "pretrained.layer1.4.0.conv2.weight": (256, 8, 3, 3),  # 32 groups of width 8
        "pretrained.layer1.4.0.downsample.0.weight": (256, 64, 1, 1),
        "pretrained.layer1.4.2.conv3.weight": (256, 256, 1, 1),
        "pretrained.layer2.0.conv2.weight": (512, 16, 3, 3),
        "pretrained.layer2.3.bn3.bias": (512,),
        "pretrained.layer3.22.conv3.weight": (1024, 1024, 1, 1),  # 23 blocks in layer3
        "pretrained.layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
        "pretrained.layer4.2.conv2.weight": (2048, 64, 3, 3),
        "scratch.layer1_rn.weight": (256, 256, 3, 3),
        "scratch.layer4_rn.weight": (256, 2048, 3, 3),
        "scratch.refinenet4.resConfUnit1.conv1.weight": (256, 256, 3, 3),
        "scratch.refinenet1.resConfUnit2.conv2.bias": (256,),
        "scratch.output_conv.0.weight": (128, 256, 3, 3),
        "scratch.output_conv.2.weight": (32, 128, 3, 3),
        "scratch.output_conv.4.weight": (1, 32, 1, 1),
        "scratch.output_conv.4.bias": (1,),
    }
    for key, shape in expected.items():
        assert shapes[key] == shape, key
    assert "pretrained.layer3.23.conv1.weight" not in shapes
    assert not any("out_conv" in key for key in shapes)  # the large decoder has no 1x1 out convs
    assert not any(key.startswith("pretrained.layer1.4.0.conv1.bias") for key in shapes)


def test_small_preset_has_the_official_layout():
    shapes, model = meta_shapes(MIDAS_V21_SMALL)
    assert sum(p.numel() for p in model.parameters()) == 21_320_545  # upstream: 21M
    # the trunk plus conv_head, bn2 and classifier is timm's tf_efficientnet_lite3 (8,197,096)
    assert sum(p.numel() for p in model.pretrained.parameters()) + 384 * 1280 + 2 * 1280 + 1281 * 1000 == 8_197_096
    assert len(shapes) == 482
    expected = {
        "pretrained.layer1.0.weight": (32, 3, 3, 3),  # conv_stem
        "pretrained.layer1.1.weight": (32,),  # bn1
        "pretrained.layer1.3.0.conv_dw.weight": (32, 1, 3, 3),  # blocks[0]: depthwise-separable
        "pretrained.layer1.3.0.conv_pw.weight": (24, 32, 1, 1),
        "pretrained.layer1.4.0.conv_pw.weight": (144, 24, 1, 1),  # blocks[1]: inverted residuals, x6
        "pretrained.layer1.4.2.conv_pwl.weight": (32, 192, 1, 1),
        "pretrained.layer2.0.2.conv_dw.weight": (288, 1, 5, 5),
        "pretrained.layer3.0.4.bn3.running_mean": (96,),
        "pretrained.layer3.1.4.conv_pwl.weight": (136, 816, 1, 1),
        "pretrained.layer4.0.5.conv_dw.weight": (1392, 1, 5, 5),
        "pretrained.layer4.1.0.conv_pwl.weight": (384, 1392, 1, 1),
        "scratch.layer1_rn.weight": (64, 32, 3, 3),
        "scratch.layer2_rn.weight": (128, 48, 3, 3),
        "scratch.layer3_rn.weight": (256, 136, 3, 3),
        "scratch.layer4_rn.weight": (512, 384, 3, 3),
        "scratch.refinenet4.resConfUnit1.conv1.weight": (512, 512, 3, 3),
        "scratch.refinenet4.out_conv.weight": (256, 512, 1, 1),
        "scratch.refinenet2.out_conv.weight": (64, 128, 1, 1),
        "scratch.refinenet1.out_conv.weight": (64, 64, 1, 1),
        "scratch.output_conv.0.weight": (32, 64, 3, 3),
        "scratch.output_conv.2.weight": (32, 32, 3, 3),
        "scratch.output_conv.4.weight": (1, 32, 1, 1),
    }
    for key, shape in expected.items():
        assert shapes[key] == shape, key
    # stage depths of tf_efficientnet_lite3: 1, 3, 3, 5, 5, 6, 1 blocks
    assert "pretrained.layer1.4.2.conv_pw.weight" in shapes and "pretrained.layer1.4.3.conv_pw.weight" not in shapes
    assert "pretrained.layer4.0.5.conv_pw.weight" in shapes and "pretrained.layer4.0.6.conv_pw.weight" not in shapes
    assert "pretrained.layer4.1.0.conv_pw.weight" in shapes and "pretrained.layer4.1.1.conv_pw.weight" not in shapes
    assert not any(".bias" in key for key in shapes if key.startswith("pretrained.") and ".conv" in key)


@pytest.mark.parametrize("config", [MIDAS_V21_LARGE, MIDAS_V21_SMALL], ids=["large", "small"])
def test_official_presets_run_shapes_on_meta(config):
    with torch.device("meta"):
        out = MidasNet(config)(torch.empty(2, 3, 256, 384))
    assert tuple(out.shape) == (2, 1, 256, 384)


@pytest.mark.parametrize("config", [TINY_LARGE, TINY_SMALL], ids=["large", "small"])
def test_tiny_forward_shape_and_sign(config):
    model = random_midas(config)
    with torch.no_grad():
        for size in ((64, 64), (32, 96)):
            out = model(torch.randn(1, 3, *size))
            assert out.shape == (1, 1, *size)
            assert torch.isfinite(out).all() and (out >= 0).all() and out.std() > 0


def test_same_padding_matches_tensorflow():
    # TF "SAME", stride 2: output ceil(n / 2), the odd padding pixel goes to the bottom/right
    for n in (32, 33):
        conv = Conv2dSame(1, 1, 5, stride=2)
        x = torch.randn(1, 1, n, n)
        total = max((-(-n // 2) - 1) * 2 + 5 - n, 0)
        expected = F.conv2d(F.pad(x, (total // 2, total - total // 2) * 2), conv.weight, stride=2)
        torch.testing.assert_close(conv(x), expected)
        assert conv(x).shape[-1] == -(-n // 2)
    # stride 1 is static and symmetric
    conv = Conv2dSame(2, 2, 3, groups=2)
    x = torch.randn(1, 2, 7, 9)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=1, groups=2))


def test_residual_units_keep_the_original_skips():
    x = torch.randn(1, 4, 5, 5)
    for relu_skip, expected in ((True, F.relu(x)), (False, x)):
        unit = ResidualConvUnit(4, relu_skip=relu_skip)
        with torch.no_grad():
            unit.conv2.weight.zero_()
            unit.conv2.bias.zero_()
            torch.testing.assert_close(unit(x), expected)


def test_fusion_block_upsamples_with_align_corners():
    block = FeatureFusionBlock(3, None, relu_skip=True)
    for unit in (block.resConfUnit1, block.resConfUnit2):
        for conv in (unit.conv1, unit.conv2):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
    x = torch.rand(1, 3, 4, 6)
    out = block(x)
    torch.testing.assert_close(out, F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))
