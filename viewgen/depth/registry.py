"""The depth backends by name: :func:`get_estimator`, :func:`available_backends`, :func:`estimate_disparity`.

Backends are imported only when asked for, so listing them never imports ``transformers``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from viewgen.depth.base import DepthError, DepthEstimator, UnknownBackendError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "BackendInfo",
    "available_backends",
    "backend_info",
    "download_backend",
    "estimate_disparity",
    "get_estimator",
]

DEFAULT_BACKEND = "midas-v21"
FILE_PREFIX = "file:"


@dataclass(frozen=True)
class BackendInfo:
    """One registered backend.

    factory: ``"module:callable"`` building the estimator as ``callable(name, device=..., weights=..., **options)``.
    downloader: ``"module:callable"`` fetching its weights as ``callable(name, progress=...)``, or None.
    native_size: the size it estimates at (the longer side, or ``"H x W"``), for docs and benchmarks.
    requires: the optional extra it needs (``"depth"`` = transformers), or None.
    """

    name: str
    summary: str
    factory: str
    downloader: str | None
    native_size: str
    weights: str
    license: str
    requires: str | None = None


_MIDAS = "viewgen.depth.registry:_make_midas"
_HF = "viewgen.depth.registry:_make_transformers"

BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo("midas-v21", "MiDaS v2.1 large (ResNeXt-101), what Infinite Nature used; the default",
                    _MIDAS, "viewgen.depth.midas:download", "384 (longer side)",
                    "midas_v21-f6b98070.pt (github.com/isl-org/MiDaS, release v2_1)", "MIT"),
        BackendInfo("midas-v21-small", "MiDaS v2.1 small (EfficientNet-Lite3): fast, coarser",
                    _MIDAS, "viewgen.depth.midas:download", "256 (longer side)",
                    "midas_v21_small-70d6b9c8.pt (github.com/isl-org/MiDaS, release v2_1)", "MIT"),
        BackendInfo("dpt-hybrid", "MiDaS v3 DPT-Hybrid (ViT-B + ResNet-50) via transformers",
                    _HF, "viewgen.depth.hf:download", "384 x 384", "huggingface.co/Intel/dpt-hybrid-midas",
                    "Apache-2.0", "depth"),
        BackendInfo("dpt-large", "MiDaS v3 DPT-Large (ViT-L) via transformers",
                    _HF, "viewgen.depth.hf:download", "384 x 384", "huggingface.co/Intel/dpt-large",
                    "Apache-2.0", "depth"),
        BackendInfo("depth-anything-v2-small", "Depth Anything V2 small (ViT-S), sharp and fast, via transformers",
                    _HF, "viewgen.depth.hf:download", "518 (shorter side)",
                    "huggingface.co/depth-anything/Depth-Anything-V2-Small-hf", "Apache-2.0", "depth"),
        BackendInfo("depth-anything-v2-base", "Depth Anything V2 base (ViT-B) via transformers",
                    _HF, "viewgen.depth.hf:download", "518 (shorter side)",
                    "huggingface.co/depth-anything/Depth-Anything-V2-Base-hf", "CC-BY-NC-4.0", "depth"),
        BackendInfo("depth-anything-v2-large", "Depth Anything V2 large (ViT-L), the most detailed, via transformers",
                    _HF, "viewgen.depth.hf:download", "518 (shorter side)",
                    "huggingface.co/depth-anything/Depth-Anything-V2-Large-hf", "CC-BY-NC-4.0", "depth"),
        BackendInfo("file", "a disparity map you already have: file:PATH (.npy or 16-bit PNG)",
                    "viewgen.depth.registry:_make_file", None, "the file's", "your file", "-"),
    )
}


def available_backends() -> tuple[str, ...]:
    """Names of every registered backend (whether or not its weights or extras are installed)."""
    return tuple(BACKENDS)


def _split_name(name: str) -> tuple[str, str | None]:
    if not isinstance(name, str) or not name.strip():
        raise UnknownBackendError(f"a depth backend name is required; choose one of {', '.join(BACKENDS)}")
    name = name.strip()
    if name.startswith(FILE_PREFIX):
        path = name[len(FILE_PREFIX):]
        if not path:
            raise DepthError("'file:' needs a path, e.g. file:disp.png")
        return "file", path
    return name, None


def backend_info(name: str) -> BackendInfo:
    """The :class:`BackendInfo` of ``name`` (``file:PATH`` counts as ``file``)."""
    base, _ = _split_name(name)
    try:
        return BACKENDS[base]
    except KeyError:
        raise UnknownBackendError(f"unknown depth backend {base!r}; choose one of {', '.join(BACKENDS)}") from None


def _load(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _device(device: str | torch.device) -> torch.device:
    from viewgen.devices import usable_device

    try:
        return usable_device(device)
    except ValueError as error:
        raise DepthError(str(error)) from None


def get_estimator(name: str = DEFAULT_BACKEND, device: str | torch.device = "cpu",
                  weights: str | Path | None = None, **options) -> DepthEstimator:
    """Build the depth backend ``name`` on ``device``.

    name: one of :func:`available_backends`, or ``file:PATH`` for a disparity file.
    weights: a weights file (MiDaS), a model folder or Hugging Face id (transformers
        backends) or a disparity file (``file``); default: the official weights from the cache,
        downloaded when missing and online.
    options: backend keywords: ``download=False`` (every backend) never downloads missing
        weights; ``config=`` / ``keep_aspect_ratio=`` for MiDaS.
    Raises ``ValueError`` / ``OSError`` subclasses with one-line messages.
    """
    base, path = _split_name(name)
    info = backend_info(base)
    if path is not None:
        if weights is not None:
            raise DepthError("give the disparity file either as file:PATH or as weights, not both")
        weights = path
    factory = _load(info.factory)
    try:
        return factory(base, device=_device(device), weights=weights, **options)
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise DepthError(f"the {base} backend does not take that option ({error})") from None
        raise


def download_backend(name: str, progress: bool = True) -> Path:
    """Fetch the weights of backend ``name`` ahead of time; return where they are."""
    info = backend_info(name)
    if info.downloader is None:
        raise DepthError(f"the {info.name} backend has nothing to download")
    return _load(info.downloader)(info.name, progress=progress)


def estimate_disparity(image: Tensor, backend: str | DepthEstimator = DEFAULT_BACKEND,
                       size: tuple[int, int] | None = None, normalization: str = "minmax",
                       device: str | torch.device | None = None, weights: str | Path | None = None) -> Tensor:
    """Disparity ``[B, 1, H, W]`` in [0, 1] for RGB ``image`` ``[B, 3, H, W]`` in [0, 1].

    backend: a backend name (built for this call on ``device``, default the image's device)
        or an estimator from :func:`get_estimator` (reuse it for many images).
    size: output ``(H, W)`` (default: the image's). normalization: ``"minmax"`` (the
        original Infinite Nature's), ``"percentile"`` (p1/p97, clipped) or ``"none"``.
    """
    if isinstance(backend, str):
        where = device if device is not None else (image.device if isinstance(image, Tensor) else "cpu")
        estimator = get_estimator(backend, device=where, weights=weights)
    else:
        if weights is not None:
            raise DepthError("weights only apply when the backend is given by name")
        estimator = backend
    return estimator(image, size=size, normalization=normalization)


# ----------------------------------------------------------------------------- factories


def _make_midas(name: str, device: torch.device, weights=None, **options):
    from viewgen.depth.midas import MidasEstimator

    return MidasEstimator(name, device=device, weights=weights, **options)


def _make_transformers(name: str, device: torch.device, weights=None, **options):
    from viewgen.depth.hf import TransformersEstimator

    return TransformersEstimator(name, device=device, weights=weights, **options)


def _make_file(name: str, device: torch.device, weights=None, **options):
    from viewgen.depth.file import FileDisparity

    options.pop("download", None)  # accepted by every backend; a file has nothing to download
    if options:
        raise DepthError(f"the file backend takes no options (got {', '.join(options)})")
    return FileDisparity(weights, device=device)
