"""StyleGAN2 layers against plain definitions: upfirdn2d, blur, equalized and modulated layers, noise."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from viewgen.networks.stylegan2 import (
    Blur,
    ConvLayer,
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    NoiseInjection,
    ToRGB,
    Upsample,
    blur_kernel,
    fused_leaky_relu,
    upfirdn2d,
)


def naive_upfirdn2d(x, kernel, up, down, pad):
    """Loop definition: zero-insert, pad, true convolution, keep every ``down``-th sample."""
    batch, channels, height, width = x.shape
    spread = torch.zeros(batch, channels, height * up, width * up, dtype=x.dtype)
    spread[:, :, ::up, ::up] = x
    padded = F.pad(spread, (pad[0], pad[1], pad[0], pad[1]))
    kh, kw = kernel.shape
    out_h, out_w = padded.shape[-2] - kh + 1, padded.shape[-1] - kw + 1
    out = torch.zeros(batch, channels, out_h, out_w, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += kernel[kh - 1 - i, kw - 1 - j] * padded[:, :, i:i + out_h, j:j + out_w]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up, down, pad", [(1, 1, (2, 2)), (2, 1, (2, 1)), (1, 2, (1, 1)), (2, 2, (1, 2)),
                                           (1, 1, (-1, 0))])
def test_upfirdn2d_matches_its_definition(up, down, pad):
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    kernel = torch.rand(4, 3, dtype=torch.float64)  # not symmetric: the flip matters
    expected = naive_upfirdn2d(x, kernel, up, down, pad)
    ours = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    assert ours.shape == expected.shape
    assert ours.shape[-2] == (7 * up + pad[0] + pad[1] - 4) // down + 1
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("up, down, pad", [(1, 1, (1, 1)), (2, 1, (2, 1)), (1, 2, (1, 2)), (1, 1, (-1, 0))])
def test_upfirdn2d_in_float32_is_bit_identical_to_filtering_single_channel_planes(up, down, pad):
    """The original's pure-PyTorch path filters a batch of one-channel planes; our depthwise call must
    round exactly as it does (the parity fixtures were made that way)."""
    x = torch.randn(2, 16, 33, 33, generator=torch.Generator().manual_seed(0))
    kernel = blur_kernel(gain=up**2)
    spread = torch.zeros(2, 16, 33 * up, 33 * up)
    spread[:, :, ::up, ::up] = x
    padded = F.pad(spread, (pad[0], pad[1], pad[0], pad[1]))
    planes = padded.reshape(32, 1, *padded.shape[-2:])
    expected = F.conv2d(planes, torch.flip(kernel, [0, 1])[None, None])[:, :, ::down, ::down]
    ours = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    assert torch.equal(ours.reshape(32, 1, *ours.shape[-2:]), expected)


def test_blur_kernel_and_resampling_keep_a_constant_image():
    assert blur_kernel().sum().item() == pytest.approx(1.0)
    assert blur_kernel(gain=4).sum().item() == pytest.approx(4.0)
    x = torch.full((1, 2, 8, 8), 3.0)
    assert Upsample()(x).shape == (1, 2, 16, 16)
    torch.testing.assert_close(Upsample()(x)[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 3.0))
    torch.testing.assert_close(Blur((1, 3, 3, 1), pad=(2, 1))(x)[..., 2:-2, 2:-2], torch.full((1, 2, 4, 4), 3.0))


def test_fused_leaky_relu_and_equal_linear():
    x, bias = torch.randn(2, 5, 3, 3), torch.randn(5)
    expected = F.leaky_relu(x + bias.view(1, 5, 1, 1), 0.2) * math.sqrt(2)
    torch.testing.assert_close(fused_leaky_relu(x, bias), expected)
    layer = EqualLinear(6, 4, bias_init=0.5, lr_mul=0.01, activation=False)
    v = torch.randn(3, 6)
    torch.testing.assert_close(layer(v), v @ (layer.weight * 0.01 / math.sqrt(6)).T + 0.5 * 0.01)
    layer.activation = True
    torch.testing.assert_close(layer(v), fused_leaky_relu(v @ (layer.weight * 0.01 / math.sqrt(6)).T, layer.bias * .01))


def test_equal_conv_and_downsampling_conv_layer():
    conv = EqualConv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(27), conv.bias, padding=1))
    layer = ConvLayer(3, 4, 3, downsample=True)
    assert [name for name, _ in layer.state_dict().items()] == ["0.kernel", "1.weight", "2.bias"]
    assert layer(x).shape == (1, 4, 4, 4)
    assert list(ConvLayer(3, 4, 1).state_dict()) == ["0.weight", "1.bias"]


@pytest.mark.parametrize("upsample", [False, True])
def test_modulated_conv_equals_a_per_sample_convolution(upsample):
    torch.manual_seed(0)
    layer = ModulatedConv2d(3, 5, 3, style_dim=6, upsample=upsample).double()
    x, style = torch.randn(2, 3, 6, 6, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)
    out = layer(x, style)
    assert out.shape == ((2, 5, 12, 12) if upsample else (2, 5, 6, 6))
    for sample in range(2):
        scales = layer.modulation(style[sample:sample + 1])[0]
        weight = layer.weight[0] / math.sqrt(27) * scales.view(1, 3, 1, 1)
        weight = weight / weight.square().sum((1, 2, 3), keepdim=True).add(1e-8).sqrt()
        if upsample:
            single = layer.blur(F.conv_transpose2d(x[sample:sample + 1], weight.transpose(0, 1), stride=2))
        else:
            single = F.conv2d(x[sample:sample + 1], weight, padding=1)
        torch.testing.assert_close(out[sample:sample + 1], single)


def test_noise_injection_is_reproducible():
    layer = NoiseInjection()
    with torch.no_grad():
        layer.weight.fill_(0.5)
    x, noise = torch.zeros(2, 3, 4, 4), torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(layer(x, noise), (0.5 * noise).expand(2, 3, 4, 4))
    first = layer(x, generator=torch.Generator().manual_seed(7))
    again = layer(x, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, layer(x, generator=torch.Generator().manual_seed(8)))


def test_to_rgb_adds_the_upsampled_skip():
    layer = ToRGB(6, style_dim=4, out_channels=4)
    x, style, skip = torch.randn(1, 6, 8, 8), torch.randn(1, 4), torch.randn(1, 4, 4, 4)
    torch.testing.assert_close(layer(x, style, skip), layer(x, style) + layer.upsample(skip))
    with pytest.raises(ValueError, match="takes no skip"):
        ToRGB(6, 4, out_channels=4, upsample=False)(x, style, skip)
