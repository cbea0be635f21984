"""Sky segmentation through Hugging Face ``transformers``: RGB in [0, 1] -> a bool sky mask ``[H, W]``.

Infinite Nature Zero corrects each frame's sky with a sky mask of its first frame; the original made it with
DeepLab (COCO-Stuff sky and clouds). viewgen's backends are SegFormer models fine-tuned on ADE20K, whose 150
labels include "sky" (``pip install "viewgen[depth]"``, the extra that brings ``transformers``):

* ``segformer-b0-ade`` (default): ``nvidia/segformer-b0-finetuned-ade-512-512``, 3.8 M parameters, 512 x 512;
* ``segformer-b5-ade``: ``nvidia/segformer-b5-finetuned-ade-640-640``, 85 M parameters, 640 x 640, sharper.

A model comes from ``weights=FOLDER`` (``save_pretrained``'s ``config.json`` + weights, plus the image
processor's ``preprocessor_config.json``), else ``$VIEWGEN_HOME/weights/<name>/`` when it holds a
``config.json``, else the Hugging Face cache, downloaded into it when online (``HF_HUB_OFFLINE=1`` /
``VIEWGEN_OFFLINE=1`` forbid that: a missing model is then one line naming its id and the folder to put it in).
Loading, offline rules and preprocessing are the depth backends' (:mod:`viewgen.depth.hf`).

The sky is every label whose ``config.id2label`` name is "sky" (looked up by name, so any semantic segmentation
model with a sky class works); a model without one is refused.

Why parts are written here instead of calling ``SegformerImageProcessor``: its fast variant needs torchvision and
its Pillow variant works on 8-bit images on the CPU, so the processor config's resize and mean/std are applied in
torch on the segmenter's device (as for depth); and ``post_process_semantic_segmentation`` upsamples every
label's logits to the full image at once (150 x H x W floats: 1.8 GB for a 3 Mpx photo), so
:func:`upsampled_argmax` does the same bilinear upsampling and argmax a few labels at a time, with the same result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.depth.base import DepthError, check_image
from viewgen.depth.hf import (
    HFModel,
    Preprocess,
    download_model,
    dpt_input_size,
    import_transformers,
    load_transformers_model,
    mean_std,
    normalized_pixels,
    preprocess_from_dict,
    read_preprocessor,
    resolve_source,
)
from viewgen.errors import InputError
from viewgen.hub import weights_dir

__all__ = ["DEFAULT_SKY_BACKEND", "SKY_MODELS", "SkySegmentationError", "SkySegmenter", "available_sky_backends",
           "download_sky_backend", "is_sky_backend", "load_sky_segmenter", "sky_label_ids", "upsampled_argmax"]

DEFAULT_SKY_BACKEND = "segformer-b0-ade"
SKY_NAME = "sky"
_LABEL_CHUNK = 8  # labels upsampled at once: 8 x H x W floats (100 MB for a 3 Mpx photo)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_LICENSE = "NVIDIA Source Code License (non-commercial)"


def _segformer(size: int) -> Preprocess:
    """SegformerImageProcessor's defaults: a square resize (aspect not kept), bilinear, ImageNet mean/std."""
    return Preprocess(size=(size, size), resample="bilinear", mean=_IMAGENET_MEAN, std=_IMAGENET_STD)


SKY_MODELS: dict[str, HFModel] = {
    "segformer-b0-ade": HFModel("segformer-b0-ade", "nvidia/segformer-b0-finetuned-ade-512-512", _segformer(512),
                                _LICENSE),
    "segformer-b5-ade": HFModel("segformer-b5-ade", "nvidia/segformer-b5-finetuned-ade-640-640", _segformer(640),
                                _LICENSE),
}


class SkySegmentationError(InputError):
    """Unusable input or options for sky segmentation (one-line message)."""


def available_sky_backends() -> tuple[str, ...]:
    """Names of the sky segmentation backends (whether or not their weights or ``transformers`` are here)."""
    return tuple(SKY_MODELS)


def is_sky_backend(spec: str | Path) -> bool:
    """Whether :func:`load_sky_segmenter` takes ``spec`` as its name: a backend name or an existing model folder."""
    spec = str(spec)
    return spec in SKY_MODELS or (bool(spec.strip()) and Path(spec).expanduser().is_dir())


def sky_label_ids(id2label: dict, source: str = "the model") -> tuple[int, ...]:
    """The label ids whose name (``config.id2label``) is "sky", case and spaces aside; one-line
    :class:`SkySegmentationError` naming ``source`` and a few of its labels when there is none."""
    found = tuple(sorted(int(index) for index, label in id2label.items() if str(label).strip().lower() == SKY_NAME))
    if not found:
        shown = ", ".join(str(label) for _, label in sorted(id2label.items(), key=lambda item: int(item[0]))[:6])
        more = ", ..." if len(id2label) > 6 else ""
        raise SkySegmentationError(f"{source} has no 'sky' label among its {len(id2label)} labels ({shown}{more}): "
                                   "use a segmentation model with a sky class, e.g. segformer-b0-ade (ADE20K)")
    return found


def upsampled_argmax(logits: Tensor, size: tuple[int, int], chunk: int = _LABEL_CHUNK) -> Tensor:
    """The label ``[H, W]`` (int64) of each pixel: ``logits [1, C, h, w]`` upsampled bilinearly (no corner
    alignment) to ``size = (H, W)``, then argmax over ``C`` (the first on ties), ``chunk`` labels at a time."""
    best_value = best_index = None
    for start in range(0, logits.shape[1], chunk):
        upsampled = F.interpolate(logits[:, start:start + chunk], size=size, mode="bilinear", align_corners=False)[0]
        value, index = upsampled.max(dim=0)
        if best_value is None:
            best_value, best_index = value, index + start
            continue
        better = value > best_value  # strict: an earlier label keeps a tie, as argmax does
        best_value = torch.where(better, value, best_value)
        best_index = torch.where(better, index + start, best_index)
    return best_index


def _spec(name: str) -> HFModel:
    try:
        return SKY_MODELS[name]
    except KeyError:
        raise SkySegmentationError(f"unknown sky segmentation backend {name!r}; choose one of "
                                   f"{', '.join(SKY_MODELS)}, or give a model folder") from None


def _as_image(rgb) -> Tensor:
    """``[3, H, W]`` / ``[1, 3, H, W]`` float in [0, 1], or an ``H x W x 3`` uint8 array -> ``[1, 3, H, W]`` float32."""
    if isinstance(rgb, np.ndarray):
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise SkySegmentationError(f"a numpy image must be H x W x 3 uint8, got shape {list(rgb.shape)} "
                                       f"of {rgb.dtype}")
        rgb = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
    try:
        image = check_image(rgb)
    except DepthError as error:
        raise SkySegmentationError(str(error)) from None
    if image.shape[0] != 1:
        raise SkySegmentationError(f"sky_mask takes one image, got a batch of {image.shape[0]}")
    return image


class SkySegmenter:
    """A ``transformers`` semantic segmentation model (SegFormer) that finds the sky.

    name: a backend of :data:`SKY_MODELS` (its model id and preprocessing defaults).
    weights: a model folder (``save_pretrained`` + ``preprocessor_config.json``) or a Hugging Face id; default:
        ``$VIEWGEN_HOME/weights/<name>/`` when it holds a ``config.json``, else the backend's model id.
    download: ``None`` = download a missing model unless offline; ``False`` = never.
    Attributes: ``source`` (folder or id), ``sky_labels`` (the "sky" label ids), ``preprocess``.
    """

    def __init__(self, name: str = DEFAULT_SKY_BACKEND, weights: str | Path | None = None,
                 device: str | torch.device = "cpu", download: bool | None = None) -> None:
        spec = _spec(name)
        transformers = import_transformers("this sky segmentation backend")
        local = weights_dir() / spec.name
        if weights is None and (local / "config.json").is_file():
            weights = local
        source, is_dir = resolve_source(weights, spec, SkySegmentationError)
        model, local_only = load_transformers_model(
            transformers.AutoModelForSemanticSegmentation, spec.name, source, is_dir, download,
            lambda reason: _missing_message(spec, source, reason))
        data = read_preprocessor(source, is_dir, local_only)
        self._setup(spec.name, source, model, device, preprocess_from_dict(data, spec.defaults) if data else None)

    @classmethod
    def from_model(cls, model, name: str = DEFAULT_SKY_BACKEND, device: str | torch.device = "cpu",
                   preprocess: Preprocess | None = None) -> SkySegmenter:
        """Wrap an already built ``transformers`` segmentation model (e.g. random weights for benchmarks)."""
        segmenter = cls.__new__(cls)
        segmenter._setup(_spec(name).name, None, model, device, preprocess)
        return segmenter

    def _setup(self, name: str, source: str | None, model, device, preprocess: Preprocess | None) -> None:
        self.name, self.source, self.device = name, source, torch.device(device)
        self.sky_labels = sky_label_ids(dict(model.config.id2label), source or f"the {name} model")
        self.model = model.float().to(self.device).eval()  # some hub checkpoints are stored in float16
        self.preprocess = preprocess or SKY_MODELS[name].defaults
        self._mean, self._std = mean_std(self.preprocess, self.device)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the model sees for a ``height x width`` image (the processor's resize)."""
        return dpt_input_size(height, width, self.preprocess)

    def logits(self, image: Tensor) -> Tensor:
        """The model's label logits ``[1, C, h, w]`` (its own output size) for RGB ``[1, 3, H, W]`` in [0, 1]."""
        image = image.to(self.device)
        pixels = normalized_pixels(image, self.input_size(*image.shape[-2:]), self.preprocess, self._mean, self._std)
        with torch.inference_mode():
            return self.model(pixel_values=pixels).logits.float()

    def sky_mask(self, rgb) -> Tensor:
        """The sky of ``rgb`` (``[3, H, W]`` / ``[1, 3, H, W]`` float in [0, 1], or an ``H x W x 3`` uint8 array):
        bool ``[H, W]`` on the CPU, True where the argmax of the logits, upsampled to ``H x W``, is a sky label."""
        image = _as_image(rgb)
        with torch.inference_mode():
            labels = upsampled_argmax(self.logits(image), tuple(image.shape[-2:]))
            sky = torch.isin(labels, torch.tensor(self.sky_labels, device=labels.device))
        return sky.cpu()

    __call__ = sky_mask

    def __repr__(self) -> str:
        return f"SkySegmenter(name={self.name!r}, source={self.source!r}, device={str(self.device)!r})"


def _missing_message(spec: HFModel, source: str, reason: str) -> str:
    folder = weights_dir() / spec.name
    return (f"sky segmentation model {source} ({spec.name}) unavailable ({reason}): save "
            f"https://huggingface.co/{source} (config.json, model.safetensors, preprocessor_config.json) into "
            f"{folder} (e.g. `hf download {source} --local-dir {folder}`), or pass a folder holding it as the weights")


def load_sky_segmenter(name: str | Path = DEFAULT_SKY_BACKEND, weights: str | Path | None = None,
                       device: str | torch.device = "cpu", download: bool | None = None) -> SkySegmenter:
    """The sky segmenter ``name`` on ``device``: a backend of :func:`available_sky_backends` (``weights``: its
    model folder or Hugging Face id, optional), or a model folder itself (loaded with the default backend's
    preprocessing defaults). ``download=False`` never downloads. One-line ``ValueError`` / ``OSError`` subclasses
    (:class:`SkySegmentationError`, ``MissingDependencyError``, ``WeightsNotFoundError``, ``WeightsFormatError``)."""
    from viewgen.devices import usable_device

    if str(name) not in SKY_MODELS and is_sky_backend(name):
        if weights is not None:
            raise SkySegmentationError(f"{name} is a model folder already; give weights only with a backend name")
        name, weights = DEFAULT_SKY_BACKEND, name
    return SkySegmenter(_spec(str(name)).name, weights=weights, device=usable_device(device), download=download)


def download_sky_backend(name: str = DEFAULT_SKY_BACKEND) -> Path:
    """Fetch backend ``name``'s model into the Hugging Face cache ahead of time (then it works offline); return
    the snapshot folder. One-line ``WeightsNotFoundError`` offline or when the download fails."""
    return download_model(_spec(name))
