"""Perceptual metrics from local weight files: LPIPS (AlexNet) per image pair.

No torchvision, no lpips package: the networks are :mod:`viewgen.networks.perceptual`, loaded
strictly from the official files.

* LPIPS backbone: torchvision's ImageNet AlexNet, ``alexnet-owt-7be5be79.pth``, kept in
  :func:`viewgen.hub.weights_dir` (downloaded there on first use unless offline; the SHA-256
  prefix ``7be5be79`` in its name is checked, torch.hub's rule; the full hash is not published).
* LPIPS heads: the official v0.1 linear heads that torchmetrics (the ``eval`` extra) bundles as
  ``torchmetrics/functional/image/lpips_models/alex.pth``.

A missing backbone file raises :class:`viewgen.hub.WeightsNotFoundError` with a one-line message
naming the file, its URL and the folder to put it in.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.hub import WeightFile, WeightsFormatError, ensure_weights, load_state_dict_file
from viewgen.networks.perceptual import AlexNetFeatures, Lpips

__all__ = ["ALEXNET_WEIGHTS", "LPIPS_MIN_SIZE", "load_lpips", "lpips", "lpips_heads_path"]

ALEXNET_WEIGHTS = WeightFile(
    filename="alexnet-owt-7be5be79.pth",
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
    sha256_prefix="7be5be79",
    description="AlexNet (ImageNet, torchvision) for LPIPS",
)
LPIPS_MIN_SIZE = 31  # AlexNet's stride-4 convolution and two 3/2 max-pools leave a pixel from 31x31 up


def lpips_heads_path() -> Path:
    """torchmetrics' bundled LPIPS AlexNet heads (``.../lpips_models/alex.pth``)."""
    import torchmetrics

    path = Path(torchmetrics.__file__).parent / "functional" / "image" / "lpips_models" / "alex.pth"
    if not path.is_file():
        raise WeightsFormatError(f"LPIPS heads not found at {path}: reinstall torchmetrics (pip install viewgen[eval])")
    return path


def load_lpips(weights: str | Path | None = None, heads: str | Path | None = None, *,
               download: bool | None = None, device: str | torch.device = "cpu") -> Lpips:
    """The LPIPS network: AlexNet from ``weights`` (default: the cached official file) and the heads.

    weights: an AlexNet file in torchvision's key format (``.pth`` or ``.safetensors``).
    heads: a file with ``lin{k}.model.1.weight`` (default: :func:`lpips_heads_path`).
    download: ``None`` = fetch a missing backbone unless offline; ``False`` = never.
    """
    if weights is None:
        path = ensure_weights(ALEXNET_WEIGHTS, download=download, command=None)
    else:
        path = Path(weights).expanduser()
    backbone = AlexNetFeatures.from_torchvision_state_dict(load_state_dict_file(path), source=path.name)
    heads_path = Path(heads).expanduser() if heads is not None else lpips_heads_path()
    model = Lpips(backbone, load_state_dict_file(heads_path), source=heads_path.name)
    return model.to(device).eval()


def lpips(image: Tensor, target: Tensor, *, model: Lpips | None = None, weights: str | Path | None = None,
          download: bool | None = None) -> Tensor:
    """LPIPS distance per image: ``[B, 3, H, W]`` x 2, RGB in [0, 1], H, W >= 31 -> ``[B]`` (0 if identical).

    model: a network from :func:`load_lpips` (reuse it across calls); else one is loaded from
    ``weights`` / the cache for this call.
    """
    sizes = check_shape(image, ("B", 3, "H", "W"), "image", hint=" (RGB in [0, 1])")
    check_shape(target, ("B", 3, "H", "W"), "target", sizes=sizes, hint=" (RGB in [0, 1], the same size as image)")
    check_min_size(image, LPIPS_MIN_SIZE, "image", hint=" (LPIPS's AlexNet)")
    if model is None:
        model = load_lpips(weights, download=download, device=image.device)
    with torch.no_grad():
        return model(image.to(torch.float32), target.to(torch.float32))
