"""Release weights as folders: ``config.json`` + ``model.safetensors``, with strict loading.

Every network that can be saved mixes in :class:`PretrainedMixin` and sets ``config_class``
to its frozen dataclass config. ``config.json`` holds the config fields plus
``"_class_name"``, so loading a folder into the wrong class fails with a clear message.
Loading is strict: any missing key, unexpected key or shape mismatch raises one
:class:`StateDictMismatchError` that lists them all. A file that cannot be read (corrupt or
truncated ``model.safetensors``, broken ``config.json``) raises
:class:`~viewgen.hub.WeightsFormatError` with one line naming the file and what to do.

Files are written under a hidden name and renamed into place, with the umask's mode (``0o644``
under the default umask), so a crash never leaves a half-written file and others can read them.

A release folder of several components (``style_encoder/``, ``spade_generator/``, ...) can carry
a ``manifest.json`` written last (:func:`write_release_manifest`) that names the SHA-256 of each
component's files; loading a component of such a folder checks its files against it
(:func:`check_release_manifest`), so components of different releases are never mixed silently.
Hashing costs about 0.2 s for the released 143 MB Infinite Nature model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from viewgen.errors import WeightsError
from viewgen.hub import WeightsFormatError
from viewgen.staging import WriteError, describe_os_error, write_file_atomic

CONFIG_FILE_NAME = "config.json"
WEIGHTS_FILE_NAME = "model.safetensors"
MANIFEST_FILE_NAME = "manifest.json"
_MANIFEST_FORMAT = "viewgen-release"
_COMPONENT_FILES = (CONFIG_FILE_NAME, WEIGHTS_FILE_NAME)
_REDO = "convert or download the weights again"
_CLASS_KEY = "_class_name"
_VERSION_KEY = "_viewgen_version"
_MAX_LISTED = 20


class StateDictMismatchError(WeightsError, ValueError):
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
    """Write ``config.json`` (with ``_class_name``) and ``model.safetensors`` into ``directory``.

    Each file is written under a hidden name and renamed into place. A release manifest beside
    ``directory`` that lists it is removed first: it no longer describes the folder.
    """
    from safetensors.torch import save

    from viewgen import __version__

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(directory, describe_os_error(error)) from None
    _forget_release_manifest(directory)
    payload = {_CLASS_KEY: class_name, _VERSION_KEY: __version__, **config_to_dict(config)}
    config_bytes = (json.dumps(payload, indent=2) + "\n").encode()
    write_file_atomic(directory / CONFIG_FILE_NAME, lambda stream: stream.write(config_bytes))
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in state_dict.items()}
    weights_bytes = save(tensors, metadata={"format": "pt"})
    write_file_atomic(directory / WEIGHTS_FILE_NAME, lambda stream: stream.write(weights_bytes))
    return directory


# ------------------------------------------------------------------------------ release manifests


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_release_manifest(directory: str | Path, components: Sequence[str]) -> Path:
    """Write ``directory/manifest.json`` naming the SHA-256 of each component's files; write it last."""
    directory = Path(directory)
    entries = {name: {file: _sha256(directory / name / file) for file in _COMPONENT_FILES} for name in components}
    text = json.dumps({"format": _MANIFEST_FORMAT, "version": 1, "components": entries}, indent=2) + "\n"
    return write_file_atomic(directory / MANIFEST_FILE_NAME, lambda stream: stream.write(text.encode()))


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        components = data["components"] if data.get("format") == _MANIFEST_FORMAT else None
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as error:
        raise WeightsFormatError(f"cannot read {path} ({_first_line(error)}); {_REDO}") from None
    if not isinstance(components, dict):
        raise WeightsFormatError(f"{path} is not a viewgen release manifest; {_REDO}")
    return components


def check_release_manifest(component_dir: str | Path) -> None:
    """If a manifest sits beside ``component_dir``, check that its files are the ones the manifest names.

    Raises :class:`~viewgen.hub.WeightsFormatError` for a component of another release (a mixed
    folder). Without a manifest there is nothing to check.
    """
    component_dir = Path(component_dir)
    manifest = component_dir.parent / MANIFEST_FILE_NAME
    if not manifest.is_file():
        return
    entry = _read_manifest(manifest).get(component_dir.name)
    if not isinstance(entry, dict):
        raise WeightsFormatError(f"{component_dir} is not one of the components that {manifest} lists: the folder "
                                 f"mixes releases; convert the checkpoint again into an empty folder")
    for file, expected in entry.items():
        path = component_dir / str(file)
        try:
            found = _sha256(path)
        except OSError as error:
            raise WeightsFormatError(f"cannot read {path}: {describe_os_error(error)}; {_REDO}") from None
        if found != expected:
            raise WeightsFormatError(f"{path} is not the file that {manifest} names (a mixed or partly replaced "
                                     f"release); convert the checkpoint again into an empty folder")


def _forget_release_manifest(component_dir: Path) -> None:
    manifest = component_dir.parent / MANIFEST_FILE_NAME
    try:
        listed = manifest.is_file() and component_dir.name in _read_manifest(manifest)
    except WeightsFormatError:
        return
    if listed:
        try:
            manifest.unlink()
        except OSError as error:
            raise OSError(f"cannot update {manifest}: {describe_os_error(error)}") from None


# ------------------------------------------------------------------------------ loading


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(error).__name__


def _read_config(path: Path, config_class: type, class_name: str) -> Any:
    """``config.json`` -> the config dataclass; one-line :class:`WeightsFormatError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise WeightsFormatError(f"cannot read {path}: not valid JSON ({_first_line(error)}); {_REDO}") from None
    if not isinstance(data, dict):
        raise WeightsFormatError(f"cannot read {path}: expected a JSON object, got {type(data).__name__}; {_REDO}")
    stored_class = data.pop(_CLASS_KEY, class_name)
    data.pop(_VERSION_KEY, None)
    if stored_class != class_name:
        raise ValueError(f"{path.parent} holds a {stored_class}, not a {class_name}")
    try:
        return config_from_dict(config_class, data)
    except (TypeError, ValueError) as error:
        raise WeightsFormatError(f"cannot use {path}: {_first_line(error)}; {_REDO}") from None


def _read_weights(path: Path, device: str | torch.device) -> dict[str, torch.Tensor]:
    """``model.safetensors`` -> tensors on ``device``; one-line :class:`WeightsFormatError` naming the file."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=str(device))
    except Exception as error:  # safetensors' own SafetensorError, OSError, ...
        raise WeightsFormatError(f"cannot read {path}: not a valid safetensors file, corrupt or truncated "
                                 f"({_first_line(error)}); {_REDO}") from None


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
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_FILE_NAME, directory / WEIGHTS_FILE_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{cls.__name__}.from_pretrained: {path} not found")
        config = _read_config(config_path, cls.config_class, cls.__name__)
        try:
            with torch.device("meta"):  # skip the random initialisation; the weights replace it
                module = cls(config)
        except Exception as error:  # field values the network cannot take (any error: the file is untrusted)
            raise WeightsFormatError(f"cannot use {config_path}: {_first_line(error)}; {_REDO}") from None
        check_release_manifest(directory)
        state_dict = _read_weights(weights_path, device)
        module.load_state_dict_strict(state_dict, source=str(weights_path), assign=True)
        return module.eval()

    def load_state_dict_strict(
        self, state_dict: Mapping[str, torch.Tensor], source: str = "state dict", assign: bool = False
    ) -> None:
        """``load_state_dict(strict=True)`` with one readable error listing every mismatch."""
        expected = {key: tuple(value.shape) for key, value in self.state_dict().items()}
        check_state_dict(expected, state_dict, source)
        self.load_state_dict(state_dict, strict=True, assign=assign)
