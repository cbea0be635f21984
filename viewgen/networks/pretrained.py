"""Release weights as folders: ``config.json`` + ``model.safetensors``, with strict loading.

Every network that can be saved mixes in :class:`PretrainedMixin` and sets ``config_class``
to its frozen dataclass config. ``config.json`` holds the config fields plus
``"_class_name"``, so loading a folder into the wrong class fails with a clear message.
Loading is strict: any missing key, unexpected key or shape mismatch raises one
:class:`StateDictMismatchError` that lists them all.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

CONFIG_FILE_NAME = "config.json"
WEIGHTS_FILE_NAME = "model.safetensors"
_CLASS_KEY = "_class_name"
_VERSION_KEY = "_viewgen_version"
_MAX_LISTED = 20


class StateDictMismatchError(ValueError):
    """A state dict does not fit a module: missing keys, unexpected keys or wrong shapes."""


def _listing(title: str, items: list[str]) -> str:
    shown = "\n".join(f"    {item}" for item in items[:_MAX_LISTED])
    more = f"\n    ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"  {title} ({len(items)}):\n{shown}{more}"


def describe_mismatch(
    expected_shapes: Mapping[str, Sequence[int]], found_shapes: Mapping[str, Sequence[int]], noun: str = "keys"
) -> str | None:
    """A readable list of missing names, unexpected names and shape mismatches, or ``None`` if all fit."""
    missing = sorted(set(expected_shapes) - set(found_shapes))
    unexpected = sorted(set(found_shapes) - set(expected_shapes))
    wrong_shapes = sorted(
        f"{name}: expected {tuple(expected_shapes[name])}, found {tuple(found_shapes[name])}"
        for name in set(expected_shapes) & set(found_shapes)
        if tuple(expected_shapes[name]) != tuple(found_shapes[name])
    )
    sections = ((f"missing {noun}", missing), (f"unexpected {noun}", unexpected), ("shape mismatches", wrong_shapes))
    parts = [_listing(title, items) for title, items in sections if items]
    return "\n".join(parts) if parts else None


def check_state_dict(
    expected_shapes: Mapping[str, Sequence[int]], state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """Raise :class:`StateDictMismatchError` naming every missing key, unexpected key and shape mismatch."""
    problems = describe_mismatch(expected_shapes, {key: tuple(value.shape) for key, value in state_dict.items()})
    if problems:
        raise StateDictMismatchError(f"weights from {source} do not fit the module:\n{problems}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready fields of a (possibly nested) dataclass config; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a frozen dataclass config from :func:`config_to_dict` output (lists back to tuples).

    Unknown keys raise ``ValueError``; absent keys take the dataclass defaults.
    """
    field_types = typing.get_type_hints(config_class)
    names = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {config_class.__name__} fields: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        if dataclasses.is_dataclass(field_types[name]) and isinstance(value, Mapping):
            value = config_from_dict(field_types[name], value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return config_class(**values)


def save_component(directory: str | Path, class_name: str, config: Any, state_dict: Mapping[str, torch.Tensor]) -> Path:
    """Write ``config.json`` (with ``_class_name``) and ``model.safetensors`` into ``directory``."""
    from safetensors.torch import save_file

    from viewgen import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {_CLASS_KEY: class_name, _VERSION_KEY: __version__, **config_to_dict(config)}
    (directory / CONFIG_FILE_NAME).write_text(json.dumps(payload, indent=2) + "\n")
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in state_dict.items()}
    save_file(tensors, str(directory / WEIGHTS_FILE_NAME), metadata={"format": "pt"})
    return directory


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` with a ``config`` attribute."""

    config_class: ClassVar[type]
    config: Any

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write this module's config and weights into ``directory`` (created if needed)."""
        return save_component(directory, type(self).__name__, self.config, self.state_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu"):
        """Build the module from ``directory/config.json`` and load ``model.safetensors`` strictly (eval mode)."""
        from safetensors.torch import load_file

        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_FILE_NAME, directory / WEIGHTS_FILE_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{cls.__name__}.from_pretrained: {path} not found")
        data = json.loads(config_path.read_text())
        stored_class = data.pop(_CLASS_KEY, cls.__name__)
        data.pop(_VERSION_KEY, None)
        if stored_class != cls.__name__:
            raise ValueError(f"{directory} holds a {stored_class}, not a {cls.__name__}")
        config = config_from_dict(cls.config_class, data)
        with torch.device("meta"):  # skip the random initialisation; the weights replace it
            module = cls(config)
        state_dict = load_file(str(weights_path), device=str(device))
        module.load_state_dict_strict(state_dict, source=str(weights_path), assign=True)
        return module.eval()

    def load_state_dict_strict(
        self, state_dict: Mapping[str, torch.Tensor], source: str = "state dict", assign: bool = False
    ) -> None:
        """``load_state_dict(strict=True)`` with one readable error listing every mismatch."""
        expected = {key: tuple(value.shape) for key, value in self.state_dict().items()}
        check_state_dict(expected, state_dict, source)
        self.load_state_dict(state_dict, strict=True, assign=assign)
