"""Backends ``midas-v21`` and ``midas-v21-small``: MiDaS v2.1 with the official released weights.

The networks are :mod:`viewgen.depth.midas_net` (no torch.hub code download, no timm). The
weights are the official release files, kept in :func:`viewgen.hub.weights_dir` and downloaded
there on first use unless offline; a ``.safetensors`` conversion with the same keys works too.

Preprocessing follows upstream's ``default_transform`` / ``small_transform``: bicubic resize
keeping the aspect ratio so the longer side is 384 (256 for small) and both sides are
multiples of 32 (``resize_method="upper_bound"``), ImageNet mean/std normalization. The
network's output is relative inverse depth at that size; the shared base class normalizes and
resizes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.depth.base import DepthError, DepthEstimatorBase
from viewgen.depth.midas_net import MIDAS_V21_LARGE, MIDAS_V21_SMALL, MidasConfig, MidasNet
from viewgen.hub import WeightFile, WeightsFormatError, download_weights, ensure_weights, load_state_dict_file

__all__ = [
    "MIDAS_VARIANTS",
    "MidasEstimator",
    "MidasVariant",
    "download",
    "load_midas_model",
    "midas_input_size",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MAX_LISTED = 4


@dataclass(frozen=True)
class MidasVariant:
    name: str
    config: MidasConfig
    weights: WeightFile


# The v2.1 release assets. The hash-named files are the ones upstream's v2.1 hubconf loaded
# with check_hash=True (SHA-256 prefix in the name); upstream's current hubconf loads the same
# weights as midas_v21_384.pt / midas_v21_small_256.pt from the same release.
MIDAS_VARIANTS = {
    "midas-v21": MidasVariant(
        "midas-v21",
        MIDAS_V21_LARGE,
        WeightFile(
            filename="midas_v21-f6b98070.pt",
            urls=(
                "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-f6b98070.pt",
                "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_384.pt",
                "https://github.com/AlexeyAB/MiDaS/releases/download/midas_dpt/midas_v21-f6b98070.pt",
            ),
            sha256_prefix="f6b98070",
            aliases=("model-f6b98070.pt", "midas_v21_384.pt"),
            description="MiDaS v2.1 large",
        ),
    ),
    "midas-v21-small": MidasVariant(
        "midas-v21-small",
        MIDAS_V21_SMALL,
        WeightFile(
            filename="midas_v21_small-70d6b9c8.pt",
            urls=(
                "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small-70d6b9c8.pt",
                "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt",
                "https://github.com/AlexeyAB/MiDaS/releases/download/midas_dpt/midas_v21_small-70d6b9c8.pt",
            ),
            sha256_prefix="70d6b9c8",
            aliases=("model-small-70d6b9c8.pt", "midas_v21_small_256.pt"),
            description="MiDaS v2.1 small",
        ),
    ),
}


def _variant(name: str) -> MidasVariant:
    try:
        return MIDAS_VARIANTS[name]
    except KeyError:
        raise DepthError(f"unknown MiDaS variant {name!r}; choose one of {', '.join(MIDAS_VARIANTS)}") from None


def midas_input_size(height: int, width: int, bound: int, multiple: int = 32,
                     keep_aspect_ratio: bool = True) -> tuple[int, int]:
    """Upstream ``Resize(bound, bound, keep_aspect_ratio, ensure_multiple_of=32, "upper_bound")``.

    The image is scaled so its longer side fits ``bound``; each side is then rounded to the
    nearest multiple of 32 (rounded down if that exceeds ``bound``; at least 32).
    """
    scale_h, scale_w = bound / height, bound / width
    if keep_aspect_ratio:
        scale_h = scale_w = min(scale_h, scale_w)

    def constrain(value: float) -> int:
        rounded = round(value / multiple) * multiple
        if rounded > bound:
            rounded = int(value // multiple) * multiple
        return max(rounded, multiple)

    return constrain(scale_h * height), constrain(scale_w * width)


def _describe_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    return shown + (f", ... ({len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else "")


def _guess_variant(state: dict[str, Tensor]) -> str | None:
    if "pretrained.layer1.3.0.conv_dw.weight" in state:
        return "midas-v21-small"
    if "pretrained.layer1.4.0.conv1.weight" in state:
        return "midas-v21"
    if "pretrained.model.cls_token" in state:
        return "a DPT (MiDaS v3) checkpoint"
    return None


def _check_keys(model: MidasNet, state: dict[str, Tensor], source: str, label: str) -> dict[str, Tensor]:
    """Strict key/shape check in one line; fills ``num_batches_tracked`` buffers old files lack."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(f"{key} {tuple(state[key].shape)} != {expected[key]}"
                   for key in set(expected) & set(state) if tuple(state[key].shape) != expected[key])
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_describe_keys(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_describe_keys(unexpected)})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches ({_describe_keys(wrong)})")
        guess = _guess_variant(state)
        hint = f"; it looks like {guess}" if guess else ""
        raise WeightsFormatError(f"{source} does not fit {label}: {'; '.join(parts)}{hint}")
    return state


def load_midas_model(path: str | Path, config: MidasConfig = MIDAS_V21_LARGE, device: str | torch.device = "cpu",
                     label: str = "MiDaS v2.1") -> MidasNet:
    """Build :class:`MidasNet` for ``config`` and load ``path`` (``.pt``/``.pth`` or ``.safetensors``) strictly.

    The module is built on the ``meta`` device and takes the file's tensors directly, so the
    105M-parameter model is never randomly initialised. Raises :class:`WeightsFormatError`
    (one line naming missing / unexpected keys and shape mismatches) when the file does not fit.
    """
    path = Path(path)
    state = load_state_dict_file(path)
    with torch.device("meta"):
        model = MidasNet(config)
    state = _check_keys(model, state, path.name, label)
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()


class MidasEstimator(DepthEstimatorBase):
    """MiDaS v2.1 large (``"midas-v21"``) or small (``"midas-v21-small"``) as a depth estimator.

    weights: a weights file; default: the official file from the cache (downloaded if missing
        and online). config: the architecture (default: the variant's official preset).
    keep_aspect_ratio: upstream's transform (True); False stretches to a square like the
        original Infinite Nature notebook's TF-Hub MiDaS call.
    download: ``None`` = download a missing file unless offline; ``False`` = never.
    """

    def __init__(self, variant: str = "midas-v21", device: str | torch.device = "cpu",
                 weights: str | Path | None = None, config: MidasConfig | None = None,
                 keep_aspect_ratio: bool = True, download: bool | None = None) -> None:
        spec = _variant(variant)
        config = config or spec.config
        if weights is None:
            path = ensure_weights(spec.weights, download=download, command=f"viewgen download {spec.name}")
        else:
            path = Path(weights).expanduser()
        model = load_midas_model(path, config, device, label=spec.weights.description)
        self._setup(spec.name, model, device, keep_aspect_ratio, path)

    def _setup(self, name: str, model: MidasNet, device, keep_aspect_ratio: bool, path: Path | None) -> None:
        self.name = name
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.keep_aspect_ratio = keep_aspect_ratio
        self.weights_path = path
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @classmethod
    def from_network(cls, model: MidasNet, variant: str = "midas-v21", device: str | torch.device = "cpu",
                     keep_aspect_ratio: bool = True) -> MidasEstimator:
        """Wrap an already built :class:`MidasNet` (e.g. random weights for benchmarks)."""
        estimator = cls.__new__(cls)
        estimator._setup(_variant(variant).name, model, device, keep_aspect_ratio, None)
        return estimator

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return midas_input_size(height, width, self.config.input_size, keep_aspect_ratio=self.keep_aspect_ratio)

    def predict_raw(self, image: Tensor) -> Tensor:
        size = self.input_size(*image.shape[-2:])
        x = image if tuple(image.shape[-2:]) == size else F.interpolate(image, size=size, mode="bicubic",
                                                                         align_corners=False)
        x = (x - self._mean) / self._std
        return self.model(x)


def download(name: str = "midas-v21", progress: bool = True) -> Path:
    """Fetch the official weights of ``name`` into the cache (no-op if present); return the path."""
    return download_weights(_variant(name).weights, progress=progress)
