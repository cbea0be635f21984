"""Spectral normalisation live during training, baked into plain weights at export exactly as the converter does.

Infinite Nature spectrally normalises some convolutions (:func:`viewgen.networks.infinite_nature.layers.sn_conv`
with ``spectral_norm=True``: PyTorch's parametrization, whose power iteration updates ``u`` at every
training forward). Release weights hold plain kernels: the converter of Google's checkpoint divides
each kernel by the sigma of one power iteration from the stored ``u``
(:func:`viewgen.convert.infinite_nature.bake_spectral_norm`). :func:`bake_spectral_norms` does the
same, with that very function, on a trained module, so a model we train exports to the same kind
of release folder as a converted one and reloads with ``from_pretrained`` unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from viewgen.convert.infinite_nature import bake_spectral_norm

__all__ = ["bake_spectral_norms", "baked_weight"]


def baked_weight(weight: Tensor, u: Tensor) -> Tensor:
    """``weight [out, in, kh, kw] / sigma`` with the converter's sigma from ``u [out]`` (computed in float32 NumPy
    on TensorFlow's layout ``[kh, kw, in, out]``, as the converter reads Google's kernels)."""
    kernel = weight.detach().to("cpu", torch.float32).permute(2, 3, 1, 0).contiguous().numpy()
    baked = bake_spectral_norm(kernel, u.detach().to("cpu", torch.float32).reshape(1, -1).numpy())
    return torch.from_numpy(baked).permute(3, 2, 0, 1).contiguous().to(weight.device, weight.dtype)


def _spectral_norm_of(module: nn.Module):
    if not parametrize.is_parametrized(module, "weight"):
        return None
    found = [p for p in module.parametrizations.weight if type(p).__name__ == "_SpectralNorm"]
    return found[0] if found else None


def bake_spectral_norms(network: nn.Module) -> int:
    """Replace every spectrally normalised ``weight`` in ``network`` by its baked plain weight, in place (the
    parametrization is removed, so the state dict has plain ``weight`` keys). Returns how many were baked."""
    count = 0
    for module in network.modules():
        norm = _spectral_norm_of(module)
        if norm is None:
            continue
        baked = baked_weight(module.parametrizations.weight.original, norm._u)
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        with torch.no_grad():
            module.weight.copy_(baked)
        count += 1
    return count
