"""The original Infinite Nature Zero checkpoints (``checkpoints/*latest.tar``), read without the original code.

The released file is a ``torch.save`` of ``{"global_step", "epoch", "netG_ema"}``; ``netG_ema``
is the state dict of ``co_mod_gan.Generator`` (165 entries: 145 parameters and 20 blur kernels).
Our module names are the original's, so the state dict loads as it is: the key map is the
identity (:data:`ORIGINAL_KEY_MAP` is empty and kept as the one place a rename would go).
Loading is strict: every missing, unexpected or misshapen key is listed in one
:class:`~viewgen.networks.pretrained.StateDictMismatchError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from viewgen.hub import WeightsFormatError, load_torch_file
from viewgen.networks.stylegan2.generator import CoModGenerator, CoModGeneratorConfig

__all__ = ["ORIGINAL_KEY_MAP", "find_latest_checkpoint", "load_original_checkpoint", "read_original_state_dict"]

ORIGINAL_KEY_MAP: dict[str, str] = {}  # original key -> our key; empty: the names are the same
CHECKPOINT_PATTERN = "*latest.tar"
EMA_KEY = "netG_ema"


def find_latest_checkpoint(path: str | Path) -> Path:
    """``path`` itself if it is a file; in a folder, the last ``*latest.tar`` by name (as the original picks)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        found = sorted(path.glob(CHECKPOINT_PATTERN))
        if found:
            return found[-1]
        raise FileNotFoundError(f"no {CHECKPOINT_PATTERN} in {path}: give the checkpoint file or the folder that "
                                f"holds it (the original's ./checkpoints)")
    raise FileNotFoundError(f"no Infinite Nature Zero checkpoint at {path}")


def read_original_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``netG_ema`` state dict of an original checkpoint (a file, or a folder with ``*latest.tar``), on the CPU,
    with keys renamed by :data:`ORIGINAL_KEY_MAP`. Read with ``torch.load(weights_only=True)``: no pickled code runs.
    """
    path = find_latest_checkpoint(path)
    content = load_torch_file(path, map_location="cpu")
    state = content.get(EMA_KEY) if isinstance(content, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        found = sorted(map(str, content)) if isinstance(content, Mapping) else type(content).__name__
        raise WeightsFormatError(f"{path} is not an Infinite Nature Zero checkpoint: expected a dict whose "
                                 f"'{EMA_KEY}' is the generator's state dict, found {found}")
    return {ORIGINAL_KEY_MAP.get(key, key): value for key, value in state.items()}


def load_original_checkpoint(path: str | Path, config: CoModGeneratorConfig | None = None,
                             device: str | torch.device = "cpu") -> CoModGenerator:
    """An original checkpoint as a :class:`CoModGenerator` (``config`` defaults to the released model), in eval mode.

    Raises ``FileNotFoundError`` when nothing is found, :class:`~viewgen.hub.WeightsFormatError` for a
    file that is not such a checkpoint, and :class:`~viewgen.networks.pretrained.StateDictMismatchError`
    listing every key that does not fit. The original runs the generator in training mode (dropout
    on the global code); call ``.train()`` for that behaviour.
    """
    state = read_original_state_dict(path)
    with torch.device("meta"):  # shapes only: the weights replace the initialisation
        generator = CoModGenerator(config)
    generator.load_state_dict_strict(state, source=str(find_latest_checkpoint(path)), assign=True)
    return generator.to(device).eval()
