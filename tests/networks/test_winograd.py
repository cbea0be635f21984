"""Winograd F(4x4, 3x3) convolution: equal to the direct one, used only where it pays, kernels cached."""

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig
from viewgen.networks.infinite_nature.layers import SameConv2d
from viewgen.networks.winograd import (
    MIN_INTENSITY,
    MIN_PIXELS,
    KernelCache,
    conv_algorithm,
    winograd_conv3x3,
    winograd_kernel,
    winograd_pays,
)


def random_layer(batch, in_channels, out_channels, height, width, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_channels, height + 2, width + 2, generator=generator, dtype=dtype)
    weight = torch.randn(out_channels, in_channels, 3, 3, generator=generator, dtype=dtype) / (9 * in_channels) ** 0.5
    bias = torch.randn(out_channels, generator=generator, dtype=dtype)
    return x, weight, bias


@pytest.mark.parametrize("shape", [(1, 8, 5, 12, 16), (2, 3, 4, 7, 9), (1, 16, 32, 5, 4), (1, 4, 2, 1, 1)])
def test_equals_the_direct_convolution_in_float64(shape):
    x, weight, bias = random_layer(*shape, dtype=torch.float64)
    out = winograd_conv3x3(x, winograd_kernel(weight), bias)
    torch.testing.assert_close(out, F.conv2d(x, weight, bias), rtol=0, atol=1e-12)
    assert out.is_contiguous()


def test_float32_error_is_float_rounding():
    x, weight, bias = random_layer(1, 128, 64, 40, 64)
    out, direct = winograd_conv3x3(x, winograd_kernel(weight), bias), F.conv2d(x, weight, bias)
    exact = F.conv2d(x.double(), weight.double(), bias.double())
    assert (out.double() - exact).abs().max() <= 2e-5 * exact.abs().max()  # measured ~5e-6 relative
    assert (direct.double() - exact).abs().max() <= 2e-5 * exact.abs().max()
    assert torch.equal(out, winograd_conv3x3(x, winograd_kernel(weight), bias))  # deterministic


def test_without_bias():
    x, weight, _ = random_layer(1, 6, 3, 9, 10, dtype=torch.float64)
    torch.testing.assert_close(winograd_conv3x3(x, winograd_kernel(weight)), F.conv2d(x, weight), rtol=0, atol=1e-12)


@pytest.mark.parametrize("x_shape, kernel_shape", [((1, 4, 8, 8), (36, 2, 3)), ((4, 8, 8), (36, 2, 4)),
                                                   ((1, 4, 8, 8), (16, 2, 4)), ((1, 4, 2, 8), (36, 2, 4))])
def test_mismatched_shapes_are_refused(x_shape, kernel_shape):
    with pytest.raises(ValueError, match="do not match"):
        winograd_conv3x3(torch.zeros(x_shape), torch.zeros(kernel_shape))


@torch.no_grad()
def test_it_pays_only_for_wide_layers_on_large_maps_without_gradients():
    wide = torch.zeros(128, 128, 3, 3)
    big = torch.zeros(1, 128, 32, MIN_PIXELS // 32)
    assert winograd_pays(big, wide)
    assert not winograd_pays(big[..., :-1], wide)  # one column under MIN_PIXELS
    thin = torch.zeros(MIN_INTENSITY, 128, 3, 3)  # C K / (C + K) < MIN_INTENSITY
    assert not winograd_pays(big, thin) and winograd_pays(big, thin, out_channels=2 * 128)
    assert not winograd_pays(big, torch.zeros(128, 128, 1, 1))
    assert not winograd_pays(big.half(), wide.half())
    with torch.enable_grad():  # training, or a bias-only trainable layer: always direct
        assert not winograd_pays(big, wide)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # reduced-precision transforms would lose 30x accuracy
        assert not winograd_pays(big, wide)
    with conv_algorithm("direct"):
        assert not winograd_pays(big, wide)
        with conv_algorithm("winograd"):
            assert winograd_pays(big, wide)
        assert not winograd_pays(big, wide)


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="winograd, direct"):
        with conv_algorithm("fft"):
            pass


def test_kernel_cache_follows_the_weights():
    conv = SameConv2d(8, 4, 3)
    cache = KernelCache()
    first = cache.get((conv.weight,), (conv.bias,))
    assert cache.get((conv.weight,), (conv.bias,)) is first  # reused
    with torch.no_grad():
        conv.weight.mul_(2)  # in place
    second = cache.get((conv.weight,), (conv.bias,))
    torch.testing.assert_close(second[0], 2 * first[0])
    conv.weight.data.add_(1)  # behind the version counter
    third = cache.get((conv.weight,), (conv.bias,))
    torch.testing.assert_close(third[0], winograd_kernel(conv.weight.detach()))
    conv.load_state_dict({"weight": torch.ones(4, 8, 3, 3), "bias": torch.zeros(4)})
    assert cache.get((conv.weight,), (conv.bias,))[1].abs().sum() == 0
    conv.double()  # .to swaps the parameters' storage
    assert cache.get((conv.weight,), (conv.bias,))[0].dtype == torch.float64
    joined, bias = cache.get((conv.weight, conv.weight), (None, None))
    assert joined.shape == (36, 8, 8) and bias is None
    with pytest.raises(ValueError, match="every joined layer's bias, or none"):
        cache.get((conv.weight, conv.weight), (conv.bias, None))


def test_copies_of_a_layer_start_with_an_empty_cache():
    conv = SameConv2d(128, 128, 3)
    with torch.inference_mode():
        conv(torch.rand(1, 128, 40, 64))
    assert conv._winograd._entry is not None
    assert copy.deepcopy(conv)._winograd._entry is None
    assert pickle.loads(pickle.dumps(conv))._winograd._entry is None


@pytest.fixture(scope="module")
def generator_64():
    """The released generator's widths at 64x64: its 32x32 and 64x64 SPADE layers take the Winograd path."""
    torch.manual_seed(0)
    return SpadeGenerator(SpadeGeneratorConfig(image_size=(64, 64))).eval()


def test_generator_output_matches_the_direct_path(generator_64):
    generator = torch.Generator().manual_seed(1)
    rgbd = torch.rand(1, 4, 64, 64, generator=generator)
    mask = (torch.rand(1, 1, 64, 64, generator=generator) > 0.3).float()
    style = torch.randn(1, 256, generator=generator)
    with torch.inference_mode():
        with conv_algorithm("direct"):
            direct = generator_64(rgbd, mask, style)
        winograd = generator_64(rgbd, mask, style)
        again = generator_64(rgbd, mask, style)
    assert not torch.equal(winograd, direct)  # the Winograd path did run
    assert (winograd - direct).abs().max() <= 1e-5
    assert torch.equal(winograd, again)


def test_training_keeps_the_direct_path(generator_64):
    """With gradients the layers convolve directly (Winograd here is inference-only)."""
    rgbd, mask, style = torch.rand(1, 4, 64, 64), torch.ones(1, 1, 64, 64), torch.zeros(1, 256)
    with torch.no_grad(), conv_algorithm("direct"):
        direct = generator_64(rgbd, mask, style)
    with_grad = generator_64(rgbd, mask, style)
    assert with_grad.requires_grad and torch.equal(with_grad.detach(), direct)
