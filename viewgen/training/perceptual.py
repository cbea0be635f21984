"""Infinite Nature's perceptual loss: VGG19 activations of generated and real frames, the reference's weights.

``perceptual = mean|d conv1_2| / 2.6 + mean|d conv2_2| / 4.8 + mean|d conv3_2| / 3.7 + mean|d conv4_2| / 5.6
+ mean|d conv5_2| * 10 / 1.5`` (:class:`~viewgen.networks.perceptual.vgg19.VGG19Features`, RGB only), weighted
0.01 in the generator's loss.

The weights are MatConvNet's ``imagenet-vgg-verydeep-19.mat`` (about 535 MB; what the reference
loads), looked for in viewgen's weights folder (``viewgen download vgg19``) or given as a path.
:func:`read_matconvnet_vgg19` reads it with SciPy (``loadmat``), finding each layer by its name, so
no pickled code is involved. When the file is not here, :func:`load_vgg19_or_none` says which file
to fetch, from where and with what command, and training goes on without the term.

Hand-written because no maintained package ships this network with these weights; torchvision's
VGG19 was trained differently (other weights, max pooling, other input scaling).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from viewgen.hub import WeightFile, WeightsFormatError, find_weights
from viewgen.networks.perceptual.vgg19 import VGG19_LAYERS, VGG19Config, VGG19Features

__all__ = ["PERCEPTUAL_LAYER_WEIGHTS", "VGG19_WEIGHTS", "load_vgg19", "load_vgg19_or_none", "perceptual_loss",
           "read_matconvnet_vgg19"]

log = logging.getLogger(__name__)

VGG19_WEIGHTS = WeightFile(
    filename="imagenet-vgg-verydeep-19.mat",
    urls=("https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat",),
    description="VGG19 (MatConvNet, ImageNet) for Infinite Nature's perceptual loss",
)
PERCEPTUAL_LAYER_WEIGHTS = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)  # conv1_2 .. conv5_2


def _layers_by_name(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from scipy.io import loadmat

    try:
        content = loadmat(str(path))
        cells = content["layers"].reshape(-1)
        found = {}
        for cell in cells:
            layer = cell.reshape(-1)[0]
            name = str(np.asarray(layer["name"]).reshape(-1)[0])
            if name in VGG19_LAYERS:
                weights = np.asarray(layer["weights"]).reshape(-1)
                found[name] = (np.asarray(weights[0], np.float32), np.asarray(weights[1], np.float32).reshape(-1))
    except Exception as error:  # an untrusted file: SciPy's MatReadError, a missing field, a wrong layout
        raise WeightsFormatError(f"cannot read {path.name} as MatConvNet's VGG19 (.mat with 'layers'): "
                                 f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return found


def read_matconvnet_vgg19(path: str | Path) -> VGG19Features:
    """VGG19 (``conv1_1`` .. ``conv5_2``) from MatConvNet's ``.mat``: kernels ``[3, 3, in, out]`` become
    ``[out, in, 3, 3]``. One-line :class:`~viewgen.hub.WeightsFormatError` for a file that does not fit."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no VGG19 weights at {path}")
    layers = _layers_by_name(path)
    missing = [name for name in VGG19_LAYERS if name not in layers]
    if missing:
        raise WeightsFormatError(f"{path.name} lacks the VGG19 layers {', '.join(missing)}")
    widths = tuple(layers[f"conv{block}_1"][0].shape[-1] for block in range(1, 6))
    network = VGG19Features(VGG19Config(channels=widths))
    state = {}
    for name in VGG19_LAYERS:
        kernel, bias = layers[name]
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        state[f"{name}.bias"] = torch.from_numpy(bias)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise WeightsFormatError(f"{path.name}: the VGG19 layers do not chain: {str(error).splitlines()[-1]}") from None
    return network.eval().requires_grad_(False)


def load_vgg19(weights: str | Path | None = None) -> VGG19Features:
    """VGG19 from ``weights`` or, by default, viewgen's weights folder; ``FileNotFoundError`` naming the file, its
    URL and ``viewgen download vgg19`` when it is not there."""
    path = Path(weights).expanduser() if weights is not None else find_weights(VGG19_WEIGHTS)
    if path is None:
        raise FileNotFoundError(f"the perceptual loss needs {VGG19_WEIGHTS.filename} ({VGG19_WEIGHTS.urls[0]}): run "
                                "`viewgen download vgg19` or put the file in viewgen's weights folder")
    return read_matconvnet_vgg19(path)


def load_vgg19_or_none(weights: str | Path | None = None) -> VGG19Features | None:
    """:func:`load_vgg19`, or None with a logged warning (the message above): training then skips the term."""
    try:
        return load_vgg19(weights)
    except FileNotFoundError as error:
        log.warning("perceptual loss off: %s", error)
        return None


def perceptual_loss(network: VGG19Features, generated: Tensor, truth: Tensor) -> Tensor:
    """The weighted L1 of the five activations (see the module doc); ``[B, 3, H, W]`` RGB in [0, 1] each, truth's
    activations computed without grad."""
    if generated.shape != truth.shape or generated.shape[-3] != 3:
        raise ValueError(f"generated {tuple(generated.shape)} and truth {tuple(truth.shape)} must be RGB of one shape")
    with torch.no_grad():
        real = network(truth)
    fake = network(generated)
    return sum(weight * (f - r).abs().mean() for weight, f, r in zip(PERCEPTUAL_LAYER_WEIGHTS, fake, real))
