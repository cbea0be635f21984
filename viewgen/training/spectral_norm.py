"""Spectral normalisation live during training, baked into plain weights at export exactly as the converter does.

Infinite Nature spectrally normalises some convolutions (:func:`viewgen.networks.infinite_nature.layers.sn_conv`
with ``spectral_norm=True``: PyTorch's parametrization, whose power iteration updates ``u`` at every
training forward). Release weights hold plain kernels: the converter of Google's checkpoint divides
each kernel by the sigma of one power iteration from the stored ``u``
(:func:`viewgen.convert.infinite_nature.bake_spectral_norm`). :func:`bake_spectral_norms` does the
same, with that very function, on a trained module, so a model we train exports to the same kind
of release folder as a converted one and reloads with ``from_pretrained`` unchanged.
:func:`load_plain_weights` goes the other way, to fine-tune a release: each plain kernel becomes the
parametrization's ``original`` and ``u`` is converged on it by power iteration, so the normalised
kernel is the release's divided by its largest singular value (about 1 for a kernel baked from a
converged ``u``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from viewgen.convert.infinite_nature import bake_spectral_norm

__all__ = ["bake_spectral_norms", "baked_weight", "load_plain_weights"]

_POWER_ITERATIONS = 50  # to converge u on a loaded kernel


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


def load_plain_weights(network: nn.Module, state_dict: dict[str, Tensor]) -> None:
    """Load a release's plain ``state_dict`` (baked kernels, ``<layer>.weight``) into ``network`` whose layers may be
    spectrally normalised (``<layer>.parametrizations.weight.original``); strict: a missing or extra key raises
    ``RuntimeError`` listing them, as ``load_state_dict`` does. ``u`` and ``v`` are converged on each loaded kernel."""
    normalised = {name: module for name, module in network.named_modules() if _spectral_norm_of(module) is not None}
    renamed = {}
    for key, value in state_dict.items():
        layer, _, leaf = key.rpartition(".")
        normalised_weight = leaf == "weight" and layer in normalised
        renamed[f"{layer}.parametrizations.weight.original" if normalised_weight else key] = value
    vectors = {key: value for key, value in network.state_dict().items() if key.endswith(("._u", "._v"))}
    network.load_state_dict({**renamed, **vectors}, strict=True)  # u, v: the network's own, converged below
    with torch.no_grad():
        for module in normalised.values():
            norm = _spectral_norm_of(module)
            norm._power_method(norm._reshape_weight_to_matrix(module.parametrizations.weight.original),
                               _POWER_ITERATIONS)
