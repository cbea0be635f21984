"""Perceptual metrics from local weight files: LPIPS (AlexNet) per image pair; FID and KID per image set.

No torchvision, no lpips package: the networks are :mod:`viewgen.networks.perceptual`, loaded
strictly from the official files.

* LPIPS backbone: torchvision's ImageNet AlexNet, ``alexnet-owt-7be5be79.pth``, kept in
  :func:`viewgen.hub.weights_dir` (downloaded there on first use unless offline; the SHA-256
  prefix ``7be5be79`` in its name is checked, torch.hub's rule; the full hash is not published).
* LPIPS heads: the official v0.1 linear heads that torchmetrics (the ``eval`` extra) bundles as
  ``torchmetrics/functional/image/lpips_models/alex.pth``.

* FID / KID features: pytorch-fid's port of TensorFlow's FID Inception-v3,
  ``pt_inception-2015-12-05-6726825d.pth`` (SHA-256 prefix ``6726825d``), in the same folder; the
  statistics are torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` with
  our network as their ``feature`` module (no torch-fidelity). Images are resized to 299x299
  bilinearly as pytorch-fid does, so numbers match pytorch-fid's, not torch-fidelity's exactly.

A file already fetched by torchvision, lpips or pytorch-fid into torch.hub's checkpoint folder
(``$TORCH_HOME/hub/checkpoints``) is used where it is, without a second download.

A missing weights file raises :class:`viewgen.hub.WeightsNotFoundError` with a one-line message
naming the file, its URL and the folder to put it in.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.hub import WeightFile, WeightsFormatError, ensure_weights, find_weights, load_state_dict_file
from viewgen.networks.perceptual import AlexNetFeatures, FidInception, FidInceptionConfig, Lpips

__all__ = [
    "ALEXNET_WEIGHTS", "FID_INCEPTION_WEIGHTS", "KID_SUBSET_SIZE", "KID_SUBSETS", "LPIPS_MIN_SIZE", "fid", "kid",
    "find_local_weights", "load_fid_inception", "load_lpips", "lpips", "lpips_heads_path", "perceptual_scores",
    "torch_hub_checkpoints",
]

ALEXNET_WEIGHTS = WeightFile(
    filename="alexnet-owt-7be5be79.pth",
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
    sha256_prefix="7be5be79",
    description="AlexNet (ImageNet, torchvision) for LPIPS",
)
FID_INCEPTION_WEIGHTS = WeightFile(
    filename="pt_inception-2015-12-05-6726825d.pth",
    urls=("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",),
    sha256_prefix="6726825d",
    description="FID Inception-v3 (pytorch-fid)",
)
KID_SUBSET_SIZE = 1000  # torchmetrics' and torch-fidelity's default; capped at the smaller set's size
KID_SUBSETS = 100
LPIPS_MIN_SIZE = 31  # AlexNet's stride-4 convolution and two 3/2 max-pools leave a pixel from 31x31 up


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``), where torchvision etc. keep files."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_local_weights(spec: WeightFile) -> Path | None:
    """``spec``'s file in viewgen's cache, else in torch.hub's checkpoints, else None (nothing is fetched)."""
    return find_weights(spec) or find_weights(spec, torch_hub_checkpoints())


def _cached_file(spec: WeightFile, download: bool | None) -> Path:
    """``spec``'s file from viewgen's cache, else torch.hub's checkpoints, else downloaded (or the one-line error)."""
    found = find_local_weights(spec)
    return found if found is not None else ensure_weights(spec, download=download)


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

    weights: an AlexNet file in torchvision's key format (``.pth`` or ``.safetensors``); default: the
        official file from viewgen's cache or torch.hub's, downloaded if missing and online.
    heads: a file with ``lin{k}.model.1.weight`` (default: :func:`lpips_heads_path`).
    download: ``None`` = fetch a missing backbone unless offline; ``False`` = never.
    """
    if weights is None:
        path = _cached_file(ALEXNET_WEIGHTS, download)
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


def load_fid_inception(weights: str | Path | None = None, *, download: bool | None = None,
                       device: str | torch.device = "cpu",
                       config: FidInceptionConfig | None = None) -> FidInception:
    """The FID Inception from ``weights`` (default: pytorch-fid's file, cached as for LPIPS), strictly loaded.

    config: input size etc. (default: the graph's 299x299).
    """
    if weights is None:
        path = _cached_file(FID_INCEPTION_WEIGHTS, download)
    else:
        path = Path(weights).expanduser()
    model = FidInception.from_state_dict(load_state_dict_file(path), source=path.name,
                                       config=config or FidInceptionConfig())
    return model.to(device).eval()


def _check_sets(images: Tensor, reference: Tensor) -> None:
    """Two ``[N, 3, H, W]`` sets (sizes may differ) of at least 2 images each."""
    for name, value in (("images", images), ("reference", reference)):
        sizes = check_shape(value, ("N", 3, "H", "W"), name, hint=" (RGB in [0, 1])")
        if sizes["N"] < 2:
            raise ValueError(f"{name} must hold at least 2 images for FID/KID statistics, got {sizes['N']}")


def _feed(metric, images: Tensor, reference: Tensor, batch_size: int):
    with torch.no_grad():
        for start in range(0, reference.shape[0], batch_size):
            metric.update(reference[start:start + batch_size].float(), real=True)
        for start in range(0, images.shape[0], batch_size):
            metric.update(images[start:start + batch_size].float(), real=False)
        return metric.compute()


def fid(images: Tensor, reference: Tensor, *, model: FidInception | None = None, weights: str | Path | None = None,
        download: bool | None = None, batch_size: int = 32) -> Tensor:
    """Frechet Inception distance between two image sets ``[N, 3, H, W]``, ``[M, 3, H', W']`` in [0, 1] -> scalar.

    0 for identical statistics. Meaningful values need hundreds of images per set (the
    covariances are 2048x2048); with fewer it only ranks methods.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_sets(images, reference)
    model = model if model is not None else load_fid_inception(weights, download=download, device=images.device)
    metric = FrechetInceptionDistance(feature=model, normalize=True).to(images.device)
    return _feed(metric, images, reference, batch_size).float()


def kid(images: Tensor, reference: Tensor, *, model: FidInception | None = None, weights: str | Path | None = None,
        download: bool | None = None, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0, batch_size: int = 32) -> tuple[Tensor, Tensor]:
    """Kernel Inception distance (cubic polynomial kernel MMD^2): two image sets in [0, 1] -> ``(mean, std)``.

    ``subset_size`` is capped at the smaller set's size; the subsets are drawn with ``seed``.
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    _check_sets(images, reference)
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    model = model if model is not None else load_fid_inception(weights, download=download, device=images.device)
    size = min(subset_size, images.shape[0], reference.shape[0])
    with warnings.catch_warnings():  # "will save all extracted features": that is what KID is
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(feature=model, normalize=True, subsets=subsets, subset_size=size)
    metric = metric.to(images.device)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws the subsets with torch.randperm (CPU)
        torch.manual_seed(seed)
        mean, std = _feed(metric, images, reference, batch_size)
    return mean.float(), std.float()


def perceptual_scores(results, model=None, reason: str | None = None) -> dict:
    """FID and KID of protocol (b)'s flights' frames in the distance ranges (``results``: its
    :class:`~viewgen.evaluation.long_range.LongRangeResult` list; their ``set_frames``, pooled over samples)
    against the truth at the same poses, with ``model`` (:func:`load_fid_inception`).

    Returns ``{"fid", "kid_mean", "kid_std", "images"}``, or ``{"fid": None, "kid": None, "fid_reason"}``
    without a model (``reason`` says why) or with fewer than 2 frames per set.
    """
    sets = [result.set_frames for result in results if result.set_frames is not None]
    count = sum(len(flight) for flight, _ in sets)
    if model is None or count < 2:
        return {"fid": None, "kid": None, "fid_reason": reason or "fewer than 2 frames in the distance ranges"}
    flight = torch.cat([frames for frames, _ in sets]).float() / 255.0
    truth = torch.cat([frames for _, frames in sets]).float() / 255.0
    mean, std = kid(flight, truth, model=model)
    return {"fid": float(fid(flight, truth, model=model)), "kid_mean": float(mean), "kid_std": float(std),
            "images": count}
