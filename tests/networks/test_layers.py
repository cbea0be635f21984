import pytest
import torch
import torch.nn.functional as F

from viewgen.networks.infinite_nature.layers import (
    SameConv2d,
    downsample_2x,
    instance_norm,
    pad_same,
    resize_condition,
    same_padding,
    sn_conv,
    upsample_nearest_2x,
)


@pytest.mark.parametrize(
    ("in_size", "kernel", "stride", "expected"),
    [
        (160, 3, 1, (1, 1)),
        (160, 3, 2, (1, 1)),
        (5, 3, 2, (1, 2)),
        (160, 4, 2, (1, 2)),
        (20, 4, 1, (1, 2)),
        (7, 1, 1, (0, 0)),
    ],
)
def test_same_padding_matches_tf_arithmetic(in_size, kernel, stride, expected):
    assert same_padding(in_size, kernel, stride) == expected


@pytest.mark.parametrize(("height", "width"), [(5, 8), (160, 256), (7, 3)])
@pytest.mark.parametrize("stride", [1, 2])
def test_same_conv_output_size_is_ceil_of_input_over_stride(height, width, stride):
    conv = SameConv2d(2, 3, 3, stride=stride)
    out = conv(torch.randn(1, 2, height, width))
    assert out.shape == (1, 3, -(-height // stride), -(-width // stride))


def test_pad_same_puts_the_odd_pixel_after_and_reflects():
    x = torch.arange(5.0).view(1, 1, 5, 1).expand(1, 1, 5, 2)
    padded = pad_same(x, (3, 1), (2, 1), "reflect")
    assert padded[0, 0, :, 0].tolist() == [1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
    zeros = pad_same(x, (3, 1), (2, 1), "zeros")
    assert zeros[0, 0, :, 0].tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]


def test_instance_norm_normalizes_each_channel():
    out = instance_norm(torch.randn(2, 3, 8, 8) * 5 + 2)
    assert torch.allclose(out.mean((2, 3)), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(out.var((2, 3), unbiased=False), torch.ones(2, 3), atol=1e-3)


def test_up_and_down_sampling_are_nearest_and_box():
    x = torch.randn(1, 2, 3, 4)
    up = upsample_nearest_2x(x)
    assert torch.equal(up[..., ::2, ::2], x) and torch.equal(up[..., 1::2, 1::2], x)
    assert torch.allclose(downsample_2x(up), x)


def test_resize_condition_average_pools_when_sizes_divide():
    cond = torch.randn(1, 5, 160, 256)
    assert torch.allclose(resize_condition(cond, (5, 8)), F.avg_pool2d(cond, 32))
    assert resize_condition(cond, (160, 256)) is cond


def test_resize_condition_handles_non_dividing_sizes():
    cond = torch.ones(1, 2, 10, 12)
    out = resize_condition(cond, (4, 5))
    assert out.shape == (1, 2, 4, 5) and torch.allclose(out, torch.ones_like(out))


def test_sn_conv_wraps_in_spectral_norm_only_when_asked():
    plain = sn_conv(3, 4, 3)
    wrapped = sn_conv(3, 4, 3, spectral_norm=True)
    assert set(plain.state_dict()) == {"weight", "bias"}
    assert "parametrizations.weight.original" in wrapped.state_dict()
    assert wrapped(torch.randn(1, 3, 6, 6)).shape == (1, 4, 6, 6)
