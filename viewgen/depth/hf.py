"""Backends through Hugging Face ``transformers`` (optional: ``pip install "viewgen[depth]"``).

``dpt-hybrid`` / ``dpt-large`` are MiDaS v3 (DPT) and ``depth-anything-v2-*`` the relative
Depth Anything V2 models; all output relative inverse depth (disparity). They load with
``AutoModelForDepthEstimation.from_pretrained`` from a local folder (``weights=FOLDER``,
``config.json`` + weights + optionally ``preprocessor_config.json``) or from the Hugging Face
cache, downloading into it when online (``HF_HUB_OFFLINE=1`` / ``VIEWGEN_OFFLINE=1`` forbid it).

Preprocessing reads the model's ``preprocessor_config.json`` (size, keep_aspect_ratio,
ensure_multiple_of, resample, mean/std) and applies the DPT image processor's resize rule in
torch, on the estimator's device, so torchvision is not needed. The model's
``predicted_depth`` at that size is the raw disparity that the base class normalizes.

The loading (:func:`resolve_source`, :func:`load_transformers_model`, :func:`read_preprocessor`,
:func:`download_model`) and the preprocessing (:func:`preprocess_from_dict`, :func:`normalized_pixels`) take
the model class and spec as arguments: ``viewgen.segmentation``'s SegFormer sky backend uses them too.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.depth.base import DepthError, DepthEstimatorBase, MissingDependencyError
from viewgen.errors import one_line
from viewgen.hub import WeightsFormatError, WeightsNotFoundError, is_offline

__all__ = ["HF_MODELS", "HFModel", "Preprocess", "TransformersEstimator", "download", "download_model",
           "import_transformers", "load_transformers_model", "mean_std", "normalized_pixels", "preprocess_from_dict",
           "read_preprocessor", "resolve_source"]

INSTALL_HINT = 'pip install "viewgen[depth]"'
PREPROCESSOR_FILE = "preprocessor_config.json"
_PIL_RESAMPLE = {2: "bilinear", 3: "bicubic"}


@dataclass(frozen=True)
class Preprocess:
    """The parts of a DPT image processor config that viewgen applies (in torch)."""

    size: tuple[int, int] = (384, 384)
    keep_aspect_ratio: bool = False
    ensure_multiple_of: int = 1
    resample: str = "bicubic"
    do_resize: bool = True
    do_normalize: bool = True
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    pad_to_multiple: int = 0  # do_pad + size_divisor: centre padding (DINOv2-style)


DPT_PREPROCESS = Preprocess()
DEPTH_ANYTHING_PREPROCESS = Preprocess(size=(518, 518), keep_aspect_ratio=True, ensure_multiple_of=14,
                                       mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class HFModel:
    name: str
    model_id: str
    defaults: Preprocess
    license: str


HF_MODELS = {
    "dpt-hybrid": HFModel("dpt-hybrid", "Intel/dpt-hybrid-midas", DPT_PREPROCESS, "Apache-2.0"),
    "dpt-large": HFModel("dpt-large", "Intel/dpt-large", DPT_PREPROCESS, "Apache-2.0"),
    "depth-anything-v2-small": HFModel("depth-anything-v2-small", "depth-anything/Depth-Anything-V2-Small-hf",
                                       DEPTH_ANYTHING_PREPROCESS, "Apache-2.0"),
    "depth-anything-v2-base": HFModel("depth-anything-v2-base", "depth-anything/Depth-Anything-V2-Base-hf",
                                      DEPTH_ANYTHING_PREPROCESS, "CC-BY-NC-4.0 (non-commercial)"),
    "depth-anything-v2-large": HFModel("depth-anything-v2-large", "depth-anything/Depth-Anything-V2-Large-hf",
                                       DEPTH_ANYTHING_PREPROCESS, "CC-BY-NC-4.0 (non-commercial)"),
}


def _model(name: str) -> HFModel:
    try:
        return HF_MODELS[name]
    except KeyError:
        raise DepthError(f"unknown transformers depth backend {name!r}; choose one of {', '.join(HF_MODELS)}") from None


def import_transformers(what: str = "this depth backend"):
    """The ``transformers`` module; :class:`MissingDependencyError` (``"<what> needs ...: pip install ..."``)
    when it is not installed."""
    try:
        import transformers
    except ImportError:
        raise MissingDependencyError(f"{what} needs Hugging Face transformers: {INSTALL_HINT}") from None
    return transformers


def _one_line(error: BaseException, limit: int = 200) -> str:
    return one_line(error, limit)


def preprocess_from_dict(data: dict, defaults: Preprocess = DPT_PREPROCESS) -> Preprocess:
    """Read a ``preprocessor_config.json`` dict (DPT image processor fields) over ``defaults``."""
    values = {}
    size = data.get("size")
    if isinstance(size, int):
        values["size"] = (size, size)
    elif isinstance(size, dict):
        if "height" in size and "width" in size:
            values["size"] = (int(size["height"]), int(size["width"]))
        elif "shortest_edge" in size:
            values["size"] = (int(size["shortest_edge"]),) * 2
    elif isinstance(size, (list, tuple)) and len(size) == 2:
        values["size"] = (int(size[0]), int(size[1]))
    for key, field_name in (("keep_aspect_ratio", "keep_aspect_ratio"), ("do_resize", "do_resize"),
                            ("do_normalize", "do_normalize")):
        if data.get(key) is not None:
            values[field_name] = bool(data[key])
    if data.get("ensure_multiple_of"):
        values["ensure_multiple_of"] = int(data["ensure_multiple_of"])
    if data.get("resample") is not None:
        values["resample"] = _PIL_RESAMPLE.get(int(data["resample"]), "bicubic")
    for key, field_name in (("image_mean", "mean"), ("image_std", "std")):
        value = data.get(key)
        if isinstance(value, (int, float)):
            values[field_name] = (float(value),) * 3
        elif isinstance(value, (list, tuple)) and len(value) == 3:
            values[field_name] = tuple(float(v) for v in value)
    if data.get("do_pad") and data.get("size_divisor"):
        values["pad_to_multiple"] = int(data["size_divisor"])
    elif data.get("do_pad") is False:
        values["pad_to_multiple"] = 0
    return replace(defaults, **values)


def dpt_input_size(height: int, width: int, pre: Preprocess) -> tuple[int, int]:
    """The DPT image processor's resize rule (``get_resize_output_image_size``)."""
    if not pre.do_resize:
        return height, width
    out_h, out_w = pre.size
    scale_h, scale_w = out_h / height, out_w / width
    if pre.keep_aspect_ratio:  # scale as little as possible
        if abs(1 - scale_w) < abs(1 - scale_h):
            scale_h = scale_w
        else:
            scale_w = scale_h
    multiple = max(1, pre.ensure_multiple_of)

    def constrain(value: float) -> int:
        return max(int(round(value / multiple) * multiple), multiple)

    return constrain(scale_h * height), constrain(scale_w * width)


def read_preprocessor(source: str, is_dir: bool, local_only: bool) -> dict | None:
    """The ``preprocessor_config.json`` of a model folder or hub id as a dict, or None when missing or unreadable."""
    try:
        if is_dir:
            path = Path(source) / PREPROCESSOR_FILE
            if not path.is_file():
                return None
        else:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(source, PREPROCESSOR_FILE, local_files_only=local_only))
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except Exception:  # missing or unreadable: the family defaults apply
        return None


def _load_model(auto_class, source: str, local_only: bool):
    model, info = auto_class.from_pretrained(source, local_files_only=local_only, output_loading_info=True)
    missing = sorted(info.get("missing_keys") or ())
    mismatched = list(info.get("mismatched_keys") or ())
    if missing or mismatched:
        shown = ", ".join(str(key) for key in (missing + mismatched)[:4])
        raise WeightsFormatError(f"weights of {source} do not fit its config: {len(missing)} missing and "
                                 f"{len(mismatched)} mismatched keys ({shown})")
    return model


def _hub_host() -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return urllib.parse.urlparse(endpoint).hostname or "huggingface.co"


def _resolves(host: str) -> bool:
    """Whether ``host`` resolves: a quick no-network check before huggingface_hub's slow retries."""
    try:
        socket.getaddrinfo(host, 443)
    except (OSError, UnicodeError):
        return False
    return True


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_source(weights: str | Path | None, spec: HFModel, error: type[Exception] = DepthError) -> tuple[str, bool]:
    """``(model folder or Hugging Face id, whether it is a local folder)`` for ``weights`` (None: ``spec.model_id``).

    One-line ``error`` for a file, ``FileNotFoundError`` for a missing folder that is no hub id either.
    """
    if weights is None:
        return spec.model_id, False
    path = Path(weights).expanduser()
    if path.is_dir():
        return str(path), True
    if path.exists():
        raise error(f"{weights} is a file; the {spec.name} backend needs a model folder "
                    f"(config.json + weights) or a Hugging Face model id")
    if _REPO_ID.match(str(weights)):
        return str(weights), False
    raise FileNotFoundError(f"model folder {weights} does not exist")


def load_transformers_model(auto_class, name: str, source: str, is_dir: bool, download: bool | None,
                            missing: Callable[[str], str]) -> tuple[object, bool]:
    """``(model, local_only)``: ``auto_class.from_pretrained(source)`` (``auto_class`` e.g.
    ``transformers.AutoModelForDepthEstimation``) from a local folder or the Hugging Face cache, else downloaded
    unless offline or ``download=False``.

    local_only: whether the files came from the folder or the cache (not downloaded now).
    missing(reason): the one-line :class:`WeightsNotFoundError` message when the model is not here and cannot be
    fetched. An unloadable folder or weights that do not fit the config: :class:`WeightsFormatError`.
    """
    try:
        return _load_model(auto_class, source, local_only=True), True
    except WeightsFormatError:
        raise
    except Exception as error:  # transformers raises OSError/ValueError/EnvironmentError variants
        if is_dir:
            raise WeightsFormatError(f"cannot load the {name} model from {source}: {_one_line(error)}") from None
        if download is False or (download is None and is_offline()):
            why = "offline" if download is None else "downloads disabled"
            raise WeightsNotFoundError(missing(f"not in the Hugging Face cache, {why}")) from None
        host = _hub_host()
        if not _resolves(host):
            reason = f"not in the Hugging Face cache, and {host} cannot be reached"
            raise WeightsNotFoundError(missing(reason)) from None
    try:
        return _load_model(auto_class, source, local_only=False), False
    except WeightsFormatError:
        raise
    except Exception as download_error:
        reason = f"not in the Hugging Face cache and the download failed: {_one_line(download_error, 160)}"
        raise WeightsNotFoundError(missing(reason)) from None


def normalized_pixels(image: Tensor, size: tuple[int, int], pre: Preprocess, mean: Tensor, std: Tensor) -> Tensor:
    """RGB ``[B, 3, H, W]`` in [0, 1] -> the model's ``pixel_values`` ``[B, 3, *size]``: resized with
    ``pre.resample`` (antialiased, as Pillow's resize), clamped to [0, 1], then ``(x - mean) / std`` when
    ``pre.do_normalize`` (``mean``, ``std``: ``[1, 3, 1, 1]`` on the image's device)."""
    x = image
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode=pre.resample, align_corners=False, antialias=True)
    x = x.clamp(0, 1)  # the processor works on 8-bit images, so the resize cannot overshoot
    return (x - mean) / std if pre.do_normalize else x


def mean_std(pre: Preprocess, device: torch.device) -> tuple[Tensor, Tensor]:
    """``pre.mean`` and ``pre.std`` as ``[1, 3, 1, 1]`` tensors on ``device`` (for :func:`normalized_pixels`)."""
    return (torch.tensor(pre.mean, device=device).view(1, 3, 1, 1),
            torch.tensor(pre.std, device=device).view(1, 3, 1, 1))


class TransformersEstimator(DepthEstimatorBase):
    """A ``transformers`` depth model (DPT / Depth Anything) as a viewgen depth estimator.

    weights: a local folder saved with ``save_pretrained`` (plus optionally the image
        processor's ``preprocessor_config.json``), or a Hugging Face model id; default: the
        backend's official model id, from the Hugging Face cache.
    download: ``None`` = download a missing model unless offline; ``False`` = never.
    """

    def __init__(self, name: str = "dpt-hybrid", device: str | torch.device = "cpu",
                 weights: str | Path | None = None, download: bool | None = None) -> None:
        spec = _model(name)
        transformers = import_transformers()
        self.name = spec.name
        self.device = torch.device(device)
        source, is_dir = resolve_source(weights, spec)
        self.source = source
        model, local_only = load_transformers_model(
            transformers.AutoModelForDepthEstimation, name, source, is_dir, download,
            lambda reason: self._missing_message(spec, source, reason))
        self.model = model.float().to(self.device).eval()  # some hub checkpoints are stored in float16
        data = read_preprocessor(source, is_dir, local_only)
        self._set_preprocess(preprocess_from_dict(data, spec.defaults) if data else spec.defaults)

    @classmethod
    def from_model(cls, model, name: str = "dpt-hybrid", device: str | torch.device = "cpu",
                   preprocess: Preprocess | None = None) -> TransformersEstimator:
        """Wrap an already built ``transformers`` depth model (e.g. random weights for benchmarks)."""
        spec = _model(name)
        estimator = cls.__new__(cls)
        estimator.name = spec.name
        estimator.device = torch.device(device)
        estimator.source = None
        estimator.model = model.to(estimator.device).eval()
        estimator._set_preprocess(preprocess or spec.defaults)
        return estimator

    def _set_preprocess(self, preprocess: Preprocess) -> None:
        self.preprocess = preprocess
        self._mean, self._std = mean_std(preprocess, self.device)

    @staticmethod
    def _missing_message(spec: HFModel, source: str, reason: str) -> str:
        return (f"{spec.name} model {source} unavailable ({reason}): run `viewgen download {spec.name}` when "
                f"online, or save https://huggingface.co/{source} to a folder and pass it as the weights")

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return dpt_input_size(height, width, self.preprocess)

    def predict_raw(self, image: Tensor) -> Tensor:
        pre = self.preprocess
        x = normalized_pixels(image, self.input_size(*image.shape[-2:]), pre, self._mean, self._std)
        crop = None
        if pre.pad_to_multiple > 1:
            height, width = x.shape[-2:]
            pad_h = math.ceil(height / pre.pad_to_multiple) * pre.pad_to_multiple - height
            pad_w = math.ceil(width / pre.pad_to_multiple) * pre.pad_to_multiple - width
            top, left = pad_h // 2, pad_w // 2
            x = F.pad(x, (left, pad_w - left, top, pad_h - top))
            crop = (top, left, height, width)
        depth = self.model(pixel_values=x).predicted_depth
        if depth.dim() == 3:
            depth = depth.unsqueeze(1)
        if crop is not None:
            top, left, height, width = crop
            depth = depth[..., top: top + height, left: left + width]
        return depth.float()


def download(name: str, progress: bool = True) -> Path:
    """Fetch the model files of ``name`` into the Hugging Face cache; return the snapshot folder."""
    return download_model(_model(name))


def download_model(spec: HFModel) -> Path:
    """Fetch ``spec.model_id``'s config and weights (safetensors, else ``pytorch_model*.bin``) into the Hugging Face
    cache; return the snapshot folder. One-line :class:`WeightsNotFoundError` offline or when it fails."""
    import_transformers()
    if is_offline():
        raise WeightsNotFoundError(f"cannot download {spec.model_id}: offline mode (VIEWGEN_OFFLINE / HF_HUB_OFFLINE)")
    from huggingface_hub import snapshot_download

    if not _resolves(_hub_host()):
        raise WeightsNotFoundError(f"cannot download {spec.model_id}: {_hub_host()} cannot be reached")
    try:
        folder = Path(snapshot_download(spec.model_id, allow_patterns=["*.json", "*.safetensors"]))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(spec.model_id, allow_patterns=["*.json", "pytorch_model*.bin"]))
    except Exception as error:
        raise WeightsNotFoundError(f"download of {spec.model_id} failed: {_one_line(error)}") from None
    return folder
