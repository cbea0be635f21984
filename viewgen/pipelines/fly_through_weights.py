"""The release folder of a :class:`~viewgen.pipelines.fly_through.FlyThroughPipeline`: load and save.

A release is ``style_encoder/`` and ``spade_generator/`` (each ``config.json`` +
``model.safetensors``), an optional ``fly_through.json`` (the pipeline's config) and a manifest.
The pipeline's ``from_pretrained`` / ``save_pretrained`` call the two functions here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from viewgen.control.fly_dynamic import FlyDynamicConfig
from viewgen.errors import WeightsError, one_line
from viewgen.hub import WeightsFormatError
from viewgen.networks import SpadeGenerator, StyleEncoder
from viewgen.networks.pretrained import MANIFEST_FILE_NAME, config_from_dict, config_to_dict, write_release_manifest
from viewgen.staging import build_and_publish, check_replaceable, write_file_atomic

__all__ = ["CHECKPOINT_URL", "ENCODER_DIR", "GENERATOR_DIR", "PIPELINE_CONFIG_FILE", "MissingWeightsError",
           "load_release", "save_release"]

ENCODER_DIR, GENERATOR_DIR, PIPELINE_CONFIG_FILE = "style_encoder", "spade_generator", "fly_through.json"
_COMPONENT_FILES = ("config.json", "model.safetensors")
# What a saved (or converted) release folder holds; saving replaces a folder of only these.
_RELEASE_ENTRIES = (ENCODER_DIR, GENERATOR_DIR, "discriminator", PIPELINE_CONFIG_FILE, MANIFEST_FILE_NAME)
CHECKPOINT_URL = "https://storage.googleapis.com/gresearch/infinite_nature_public/ckpt.tar.gz"


class MissingWeightsError(WeightsError, FileNotFoundError):
    """A weights folder without the converted ``style_encoder/`` or ``spade_generator/`` component."""


def load_release(path: Path, device, config_class: type):
    """``path`` -> ``(StyleEncoder, SpadeGenerator, config or None)``; the config from ``fly_through.json``.

    Raises :class:`MissingWeightsError` naming what is missing and how to make it, and a one-line
    :class:`WeightsFormatError` for a broken ``fly_through.json``.
    """
    missing = [f"{name}/{file}" for name in (ENCODER_DIR, GENERATOR_DIR) for file in _COMPONENT_FILES
               if not (path / name / file).is_file()]
    if missing:
        raise MissingWeightsError(
            f"no converted Infinite Nature weights in {path} (missing {', '.join(missing)}): download "
            f"{CHECKPOINT_URL}, unpack it (tar -xzf ckpt.tar.gz), then run "
            f"`viewgen convert infinite-nature ckpt/model.ckpt-6935893 {path}`")
    encoder = StyleEncoder.from_pretrained(path / ENCODER_DIR, device=device)
    generator = SpadeGenerator.from_pretrained(path / GENERATOR_DIR, device=device)
    config_path = path / PIPELINE_CONFIG_FILE
    config = _read_pipeline_config(config_path, config_class) if config_path.is_file() else None
    return encoder, generator, config


def _read_pipeline_config(path: Path, config_class: type):
    """``fly_through.json`` -> a ``config_class``; one-line :class:`WeightsFormatError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        problem = f"not valid JSON ({' '.join(str(error).split())})"
    else:
        try:
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            config = config_from_dict(config_class, data)
            if not isinstance(config.autopilot, FlyDynamicConfig):
                raise ValueError("autopilot must be an object of FlyDynamicConfig fields")
            return config
        except (TypeError, ValueError) as error:
            problem = one_line(error)
    raise WeightsFormatError(f"cannot use {path}: {problem}; fix it or delete it (without it the defaults are used)")


def save_release(path: Path, encoder: StyleEncoder, generator: SpadeGenerator, config) -> Path:
    """Write the release of ``encoder``, ``generator`` and the pipeline ``config`` to ``path``, all or nothing.

    Built in a hidden folder beside ``path`` and swapped in whole; a ``path`` holding anything
    but such a release (or a converted one) is refused (``OSError``).
    """
    target = Path(os.path.realpath(path))  # a link: replace the folder it names
    check_replaceable(target, lambda entry: entry.name in _RELEASE_ENTRIES, "pipeline weights",
                      "save into a new or empty folder")

    def fill(folder: Path) -> None:
        encoder.save_pretrained(folder / ENCODER_DIR)
        generator.save_pretrained(folder / GENERATOR_DIR)
        text = json.dumps(config_to_dict(config), indent=2) + "\n"
        write_file_atomic(folder / PIPELINE_CONFIG_FILE, lambda stream: stream.write(text.encode()))
        write_release_manifest(folder, [ENCODER_DIR, GENERATOR_DIR])

    build_and_publish(target, fill, "the pipeline weights", path)
    return path
