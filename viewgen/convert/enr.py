"""Apple's Equivariant Neural Rendering checkpoints, read without Apple's code and converted to a release folder.

Apple's trainer (ml-equivariant-neural-rendering, ``NeuralRenderer.save``) writes
``torch.save({"config": {...}, "state_dict": ...})``: the config is the ``config.json`` of the
experiment (:data:`~viewgen.networks.enr.model.APPLE_CONFIG_KEYS`), the state dict has 313
tensors for the chairs model (312 parameters and the spherical mask buffer). Published models:

* ``trained-models/chairs.pt`` in https://github.com/apple/ml-equivariant-neural-rendering (a small chairs model);
* https://icml20-prod.cdn-apple.com/eqn-data/models/pre-trained_models.zip: chairs, cars, MugsHQ
  and 3D mountains, each with its own config (always built from the file's config).

:func:`read_apple_checkpoint` loads one with ``torch.load(weights_only=True)`` (no pickled code
runs) into :class:`~viewgen.networks.enr.EquivariantRenderer`, strictly: every missing,
unexpected or misshapen key is listed in one error. :func:`convert_enr_checkpoint` writes it as
``config.json`` + ``model.safetensors`` (all or nothing: built beside ``out_dir`` and swapped in).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from viewgen.hub import WeightsFormatError, load_torch_file
from viewgen.networks.enr import ENRConfig, EquivariantRenderer
from viewgen.networks.pretrained import CONFIG_FILE_NAME, WEIGHTS_FILE_NAME
from viewgen.staging import build_and_publish, check_replaceable

__all__ = ["APPLE_PRETRAINED_URL", "convert_enr_checkpoint", "publish_enr_weights", "read_apple_checkpoint"]

APPLE_PRETRAINED_URL = "https://icml20-prod.cdn-apple.com/eqn-data/models/pre-trained_models.zip"


def read_apple_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> EquivariantRenderer:
    """Apple's ``.pt`` (``{"config", "state_dict"}``) as an :class:`EquivariantRenderer` in eval mode.

    Raises ``FileNotFoundError`` for a missing file, :class:`~viewgen.hub.WeightsFormatError` (one
    line) for a file that is not such a checkpoint, and
    :class:`~viewgen.networks.pretrained.StateDictMismatchError` listing every key that does not fit.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightsFormatError(f"{path} is a folder, not Apple's .pt: a release folder is used as it is (give it "
                                 "as the weights); a training run's release weights are in RUN_DIR/release")
    if not path.is_file():
        raise FileNotFoundError(f"no ENR checkpoint at {path}: download Apple's models from {APPLE_PRETRAINED_URL}")
    if path.suffix == ".ckpt":
        raise WeightsFormatError(f"{path} is a training check-point of `viewgen train`: export it first with "
                                 f"`viewgen export RUN_DIR OUT_DIR` or `viewgen convert enr {path} OUT_DIR`")
    content = load_torch_file(path, map_location=device)
    if not isinstance(content, dict) or not {"config", "state_dict"} <= set(content):
        raise WeightsFormatError(f"{path} is not an ENR checkpoint: expected a dict with 'config' and 'state_dict' "
                                 "(what Apple's NeuralRenderer.save writes)")
    try:
        config = ENRConfig.from_apple(dict(content["config"]))
        with torch.device("meta"):  # shapes only: the weights replace the initialisation
            model = EquivariantRenderer(config)
    except (TypeError, ValueError, IndexError, KeyError) as error:
        raise WeightsFormatError(f"{path}: its config cannot build an ENR model: {error}") from None
    model.load_state_dict_strict(content["state_dict"], source=str(path), assign=True)
    return model.eval()


def convert_enr_checkpoint(path: str | Path, out_dir: str | Path) -> EquivariantRenderer:
    """Read Apple's checkpoint (:func:`read_apple_checkpoint`) and write it to ``out_dir`` as ``config.json`` +
    ``model.safetensors``; an existing ``out_dir`` may hold only an earlier conversion. Returns the model."""
    model = read_apple_checkpoint(path)
    publish_enr_weights(model, out_dir, "converted ENR weights", "convert")
    return model


def publish_enr_weights(model: EquivariantRenderer, out_dir: str | Path, what: str, verb: str) -> None:
    """Write ``model`` to ``out_dir`` as ``config.json`` + ``model.safetensors``, whole (built beside it and swapped
    in); an existing ``out_dir`` may hold only such files (else one-line ``OSError``: ``{verb} into a new or empty
    folder``). ``what`` names the weights in messages."""
    target = Path(os.path.realpath(out_dir))
    check_replaceable(target, lambda entry: entry.name in (CONFIG_FILE_NAME, WEIGHTS_FILE_NAME), what,
                      f"{verb} into a new or empty folder")
    build_and_publish(target, model.save_pretrained, f"the {what}", out_dir)
