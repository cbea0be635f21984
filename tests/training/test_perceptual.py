"""Infinite Nature's perceptual loss: VGG19 read from MatConvNet's .mat layout, the reference's layer weights,
and a clear message (the term off) when the file is not here."""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viewgen.hub import WeightsFormatError
from viewgen.networks.perceptual.vgg19 import VGG19_LAYERS, VGG19_TAPS
from viewgen.training.perceptual import (
    PERCEPTUAL_LAYER_WEIGHTS,
    VGG19_WEIGHTS,
    load_vgg19,
    load_vgg19_or_none,
    perceptual_loss,
    read_matconvnet_vgg19,
)

WIDTHS = (4, 6, 6, 8, 8)


def _write_matconvnet(path, widths=WIDTHS, drop=()):
    """A small file laid out as imagenet-vgg-verydeep-19.mat: a cell array 'layers' of structs (name, type,
    weights = {kernel [3, 3, in, out], bias [out, 1]}), relu and pool layers in between."""
    from scipy.io import savemat

    generator = np.random.default_rng(0)
    layers, in_channels, kernels = [], 3, {}
    for name in VGG19_LAYERS:
        block = int(name[4])
        out_channels = widths[block - 1]
        if name.endswith("_1") and block > 1:
            layers.append({"name": f"pool{block - 1}", "type": "pool", "weights": np.zeros((0, 0))})
        kernel = generator.standard_normal((3, 3, in_channels, out_channels)).astype(np.float32) * 0.2
        bias = generator.standard_normal((out_channels, 1)).astype(np.float32) * 0.1
        kernels[name] = (kernel, bias)
        if name not in drop:
            weights = np.empty((1, 2), dtype=object)
            weights[0, 0], weights[0, 1] = kernel, bias
            layers.append({"name": name, "type": "conv", "weights": weights})
        layers.append({"name": name.replace("conv", "relu"), "type": "relu", "weights": np.zeros((0, 0))})
        in_channels = out_channels
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = np.empty((1, len(layers)), dtype=object)
    for index, layer in enumerate(layers):
        cells[0, index] = layer
    savemat(str(path), {"layers": cells})
    return kernels


def test_the_mat_file_is_read_by_layer_name_into_the_reference_network(tmp_path):
    kernels = _write_matconvnet(tmp_path / VGG19_WEIGHTS.filename)
    network = read_matconvnet_vgg19(tmp_path / VGG19_WEIGHTS.filename)
    kernel, bias = kernels["conv1_1"]
    assert torch.equal(network.conv1_1.weight, torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
    rgb = torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(1))
    taps = network(rgb)
    assert [t.shape[1] for t in taps] == list(WIDTHS) and [t.shape[-1] for t in taps] == [28, 14, 7, 4, 2]
    x = rgb * 255 - torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1)
    for name in ("conv1_1", "conv1_2"):  # 3x3 "SAME" convolutions, each followed by a ReLU
        w, b = kernels[name]
        x = F.relu(F.conv2d(x, torch.from_numpy(w.transpose(3, 2, 0, 1)), torch.from_numpy(b.reshape(-1)), padding=1))
    torch.testing.assert_close(taps[0], x)
    assert len(taps) == len(VGG19_TAPS) and not any(p.requires_grad for p in network.parameters())


def test_the_loss_weighs_the_five_layers_as_the_reference(tmp_path):
    _write_matconvnet(tmp_path / "vgg.mat")
    network = read_matconvnet_vgg19(tmp_path / "vgg.mat")
    generator = torch.Generator().manual_seed(2)
    truth = torch.rand(2, 3, 16, 16, generator=generator)
    generated = torch.rand(2, 3, 16, 16, generator=generator).requires_grad_(True)
    loss = perceptual_loss(network, generated, truth)
    expected = sum(w * (f - r).abs().mean() for w, f, r in zip(PERCEPTUAL_LAYER_WEIGHTS, network(generated),
                                                               network(truth)))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert generated.grad is not None and float(perceptual_loss(network, truth, truth)) == 0.0
    with pytest.raises(ValueError, match="must be RGB of one shape"):
        perceptual_loss(network, truth[:, :2], truth[:, :2])


def test_a_missing_file_turns_the_term_off_with_what_to_fetch(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="viewgen download vgg19"):
        load_vgg19()
    with caplog.at_level(logging.WARNING, logger="viewgen.training.perceptual"):
        assert load_vgg19_or_none() is None
    assert VGG19_WEIGHTS.filename in caplog.text and VGG19_WEIGHTS.urls[0] in caplog.text
    _write_matconvnet(tmp_path / "weights" / VGG19_WEIGHTS.filename)
    assert load_vgg19().conv5_2.weight.shape == (8, 8, 3, 3)  # found in the weights folder


def test_files_that_do_not_fit_are_one_line(tmp_path):
    _write_matconvnet(tmp_path / "short.mat", drop=("conv4_2",))
    with pytest.raises(WeightsFormatError, match="lacks the VGG19 layers conv4_2"):
        read_matconvnet_vgg19(tmp_path / "short.mat")
    (tmp_path / "text.mat").write_text("not a mat file")
    with pytest.raises(WeightsFormatError, match="cannot read text.mat as MatConvNet's VGG19"):
        read_matconvnet_vgg19(tmp_path / "text.mat")
