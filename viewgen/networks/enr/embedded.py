"""Where the ENR model that ships inside viewgen lives: ``viewgen/networks/enr/embedded/``.

A release folder (``config.json`` + ``model.safetensors``): the ``objects`` preset of
:mod:`viewgen.training.presets` (64x64 images, a 32 x 16^3 scene), trained on CPU on the
synthetic object world by ``viewgen train enr``; how long, its loss curve and its held-out PSNR
are in ``docs/enr.md``. ``NovelViewPipeline.default()`` loads it; ``viewgen novel-views`` and the
object mode of ``viewgen serve`` use it when no weights are given.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["EMBEDDED_FOLDER", "embedded_weights_folder"]

EMBEDDED_FOLDER = "embedded"


def embedded_weights_folder() -> Path:
    """The folder of the embedded model; ``FileNotFoundError`` (one line) if this install lacks it."""
    folder = Path(str(resources.files("viewgen.networks.enr").joinpath(EMBEDDED_FOLDER)))
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"the embedded ENR model is missing from this install ({folder}); reinstall viewgen, "
                                "or give --weights (Apple's .pt or a release folder)")
    return folder
