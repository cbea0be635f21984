"""Where viewgen keeps downloaded weights, and how it fetches and reads them.

* One cache folder: ``$VIEWGEN_HOME`` if set, else ``$XDG_CACHE_HOME/viewgen``, else
  ``~/.cache/viewgen``. Weight files live in its ``weights/`` subfolder
  (:func:`weights_dir`). Hugging Face models stay in the Hugging Face cache.
* Offline mode: ``VIEWGEN_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) forbids every download; a
  missing file then raises :class:`WeightsNotFoundError`, whose one-line message names the
  file, its URL and the folder to put it in.
* Downloads (:func:`download_weights`) stream to a temporary file beside the destination,
  check the SHA-256 where the release name carries one (torch.hub's ``name-<sha256
  prefix>.ext`` rule), and rename the file into place only when complete.
* Reading (:func:`load_state_dict_file`): ``.safetensors``, or a PyTorch checkpoint through
  ``torch.load(weights_only=True)``, so a pickle that would run code is refused, never run.

Every expected failure raises an ``OSError`` or ``ValueError`` subclass with a one-line message.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from viewgen.errors import WeightsError, one_line

__all__ = [
    "DownloadChecksumError",
    "WeightFile",
    "WeightsDownloadError",
    "WeightsFormatError",
    "WeightsNotFoundError",
    "download_weights",
    "ensure_weights",
    "find_weights",
    "is_offline",
    "load_state_dict_file",
    "viewgen_home",
    "weights_dir",
]

ENV_HOME = "VIEWGEN_HOME"
ENV_OFFLINE = "VIEWGEN_OFFLINE"
_TRUE = {"1", "true", "yes", "on"}
_CHUNK = 1 << 20
_TIMEOUT_S = 30.0


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """A weights file is not in the cache and could not (or may not) be downloaded."""


class WeightsDownloadError(WeightsError, OSError):
    """Every URL of a weights file failed."""


class DownloadChecksumError(WeightsError, OSError):
    """A downloaded file does not have the expected SHA-256 or size."""


class WeightsFormatError(WeightsError, ValueError):
    """A weights file that cannot be used: corrupt, truncated, unsafe or of the wrong layout."""


def viewgen_home() -> Path:
    """The cache folder: ``$VIEWGEN_HOME``, else ``$XDG_CACHE_HOME/viewgen``, else ``~/.cache/viewgen``."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "viewgen"


def weights_dir() -> Path:
    """``viewgen_home() / "weights"``: where downloaded weight files are kept."""
    return viewgen_home() / "weights"


def is_offline() -> bool:
    """True when ``VIEWGEN_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to 1/true/yes/on."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in (ENV_OFFLINE, "HF_HUB_OFFLINE"))


@dataclass(frozen=True)
class WeightFile:
    """A released weights file and where it can be fetched.

    filename: the name it is stored under in :func:`weights_dir`.
    urls: official URLs, tried in order.
    sha256_prefix: the hash prefix carried by the official ``name-<prefix>.ext`` file names; it
        is checked for every URL whose file name carries it (torch.hub's ``check_hash`` rule).
    aliases: other names under which the same file is accepted in the cache (e.g. the name a
        user downloaded it under). ``<stem>.safetensors`` conversions of every name are accepted too.
    description: a few words for messages, e.g. ``"MiDaS v2.1 large"``.
    """

    filename: str
    urls: tuple[str, ...]
    sha256_prefix: str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    size: int | None = field(default=None, compare=False)

    def names(self) -> tuple[str, ...]:
        """Every accepted file name, the canonical one first, then ``.safetensors`` conversions."""
        originals = (self.filename, *self.aliases)
        converted = tuple(f"{Path(name).stem}.safetensors" for name in originals)
        return tuple(dict.fromkeys(originals + converted))

    @property
    def label(self) -> str:
        return self.description or self.filename


def find_weights(spec: WeightFile, directory: str | Path | None = None) -> Path | None:
    """The first existing file among ``spec.names()`` in ``directory`` (default :func:`weights_dir`)."""
    folder = Path(directory) if directory is not None else weights_dir()
    for name in spec.names():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _not_found_message(spec: WeightFile, folder: Path, reason: str, command: str | None) -> str:
    hint = f"run `{command}` when online, or " if command else ""
    return (f"{spec.label} weights not found ({reason}): {hint}download {spec.urls[0]} and save it as "
            f"{folder / spec.filename}")


def ensure_weights(
    spec: WeightFile,
    directory: str | Path | None = None,
    download: bool | None = None,
    command: str | None = None,
    progress: bool = False,
) -> Path:
    """The cached file for ``spec``, downloading it first if it is missing and downloads are allowed.

    download: ``None`` = download unless offline (:func:`is_offline`); ``False`` = never.
    command: the CLI command that fetches it (``"viewgen download midas-v21"``), for messages.
    Raises :class:`WeightsNotFoundError` (one line: file, URL, destination) when it is missing
    and cannot be fetched.
    """
    folder = Path(directory) if directory is not None else weights_dir()
    found = find_weights(spec, folder)
    if found is not None:
        return found
    if download is False or (download is None and is_offline()):
        why = "offline mode" if download is None else "downloads disabled"
        raise WeightsNotFoundError(_not_found_message(spec, folder, f"not in the cache, {why}", command))
    try:
        return download_weights(spec, folder, progress=progress)
    except (WeightsDownloadError, DownloadChecksumError) as error:
        raise WeightsNotFoundError(_not_found_message(spec, folder, str(error), command)) from None


def _expected_prefix(url: str, spec: WeightFile) -> str | None:
    """The SHA-256 prefix to check for ``url``: the spec's, when the URL's file name carries it."""
    if not spec.sha256_prefix:
        return None
    name = url.rsplit("/", 1)[-1]
    match = re.search(r"-([a-f0-9]{6,})\.", name)
    return spec.sha256_prefix if match and match.group(1) == spec.sha256_prefix else None


class _Progress:
    """A one-line download progress report on stderr (``\r``-updated)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = -1
        self.printed = False

    def __call__(self, done: int, total: int | None) -> None:
        value = int(100 * done / total) if total else done // 10**6
        if value == self.last:
            return
        self.last = value
        text = f"{value:3d}% of {total / 1e6:.1f} MB" if total else f"{value} MB"
        print(f"\r{self.label}: {text}", end="", file=sys.stderr, flush=True)
        self.printed = True

    def finish(self) -> None:
        if self.printed:
            print(file=sys.stderr, flush=True)


def _fetch(url: str, destination: Path, sha256_prefix: str | None, size: int | None,
           report: Callable[[int, int | None], None] | None) -> None:
    from viewgen.io.images import new_file_mode

    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    digest = hashlib.sha256()
    done = 0
    try:
        os.chmod(temporary, new_file_mode())  # readable like any new file, not mkstemp's private 0o600
        with os.fdopen(handle, "wb") as stream:
            request = urllib.request.Request(url, headers={"User-Agent": "viewgen"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310 (http/https/file)
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    stream.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if report is not None:
                        report(done, total)
        if done == 0:
            raise DownloadChecksumError("the server returned an empty file")
        if size is not None and done != size:
            raise DownloadChecksumError(f"got {done} bytes, expected {size}")
        if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
            raise DownloadChecksumError(f"SHA-256 {digest.hexdigest()[:16]}... does not start with {sha256_prefix}")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def download_weights(
    spec: WeightFile,
    directory: str | Path | None = None,
    progress: bool = False,
    force: bool = False,
) -> Path:
    """Fetch ``spec`` into ``directory`` (default :func:`weights_dir`); return the file's path.

    An existing file is kept unless ``force``. URLs are tried in order; the first that gives a
    complete file with the right checksum wins. Raises :class:`WeightsDownloadError` (one line,
    every URL's reason) when all fail, :class:`WeightsNotFoundError` in offline mode.
    """
    folder = Path(directory) if directory is not None else weights_dir()
    if not force:
        found = find_weights(spec, folder)
        if found is not None:
            return found
    if is_offline():
        raise WeightsNotFoundError(_not_found_message(spec, folder, "offline mode (VIEWGEN_OFFLINE)", None))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WeightsDownloadError(f"cannot create the weights folder {folder}: {error.strerror or error}") from None
    destination = folder / spec.filename
    reasons = []
    for url in spec.urls:
        report = _Progress(spec.filename) if progress else None
        try:
            _fetch(url, destination, _expected_prefix(url, spec), spec.size, report)
        except urllib.error.HTTPError as error:
            reasons.append((url, f"HTTP {error.code}"))
        except urllib.error.URLError as error:
            reasons.append((url, str(getattr(error, "reason", error))))
        except DownloadChecksumError as error:
            reasons.append((url, str(error)))
        except (OSError, ValueError) as error:
            reasons.append((url, f"{type(error).__name__}: {error}"))
        else:
            return destination
        finally:
            if report is not None:
                report.finish()
    raise WeightsDownloadError(f"download of {spec.filename} failed: {_summarise(reasons)}")


def _summarise(reasons: list[tuple[str, str]]) -> str:
    """One line for every URL's failure; a reason shared by all (no network) is said once."""
    reasons = [(url, " ".join(reason.split())) for url, reason in reasons]
    if len({reason for _, reason in reasons}) == 1:
        return f"{reasons[0][1]} (tried {len(reasons)} URL{'s' if len(reasons) > 1 else ''})"
    return "; ".join(f"{url}: {reason}" for url, reason in reasons)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return " ".join(text[0].split()) if text else type(error).__name__


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a flat ``{name: tensor}`` state dict from ``.safetensors`` or a PyTorch checkpoint.

    PyTorch files are read with ``torch.load(map_location="cpu", weights_only=True)``: only
    tensors and plain containers can come out, and a pickle that references anything else is
    refused with :class:`WeightsFormatError`. Checkpoints of the form ``{"model": state_dict,
    "optimizer": ...}`` or ``{"state_dict": ...}`` are unwrapped and a common ``module.`` prefix
    is removed. Missing files raise ``FileNotFoundError``; anything unreadable raises
    :class:`WeightsFormatError`, always with a one-line message.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.is_dir():
        raise WeightsFormatError(f"weights path {path} is a folder; give the weights file itself")
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        except Exception as error:  # safetensors raises its own SafetensorError and OSError
            raise WeightsFormatError(f"cannot read {path.name}: not a valid safetensors file "
                                     f"({_first_line(error)})") from None
    else:
        state = load_torch_file(path)
    return _flat_tensors(state, path.name)


def load_torch_file(path: str | Path, map_location: str | torch.device = "cpu") -> object:
    """``torch.load(path, weights_only=True)`` with one-line :class:`WeightsFormatError` messages.

    Only tensors and plain containers can come out: a pickle that references anything else is
    refused, never run. A file that is not a PyTorch checkpoint at all (an image, a text file) or
    is truncated says so, instead of torch's advice to load it unsafely.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols; the error below says it
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = re.search(r"Unsupported (?:global: GLOBAL|class) (\S+)", str(error))
        if unsafe:
            raise WeightsFormatError(
                f"refusing to load {path.name}: it references {unsafe.group(1)}, which could run code when "
                f"unpickled; only plain tensor checkpoints are loaded") from None
        raise WeightsFormatError(f"cannot read {path.name}: corrupt, truncated or not a plain PyTorch "
                                 f"checkpoint (unsupported pickle data)") from None
    except Exception as error:  # zip/EOF/runtime errors of corrupt or truncated files
        raise WeightsFormatError(f"cannot read {path.name}: corrupt, truncated or not a PyTorch "
                                 f"checkpoint ({one_line(error, 160)})") from None


def _flat_tensors(state: object, name: str) -> dict[str, Tensor]:
    if isinstance(state, Mapping):
        for key in ("model", "state_dict", "model_state_dict"):
            inner = state.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, Tensor) for v in inner.values()):
                state = inner
                break
    if not isinstance(state, Mapping) or not state:
        raise WeightsFormatError(f"cannot use {name}: expected a state dict of tensors, got "
                                 f"{type(state).__name__ if not isinstance(state, Mapping) else 'an empty dict'}")
    bad = [str(key) for key, value in state.items() if not isinstance(key, str) or not isinstance(value, Tensor)]
    if bad:
        raise WeightsFormatError(f"cannot use {name}: {len(bad)} entries are not named tensors "
                                 f"(e.g. {', '.join(bad[:3])})")
    out = dict(state)
    if all(key.startswith("module.") for key in out):
        out = {key[len("module."):]: value for key, value in out.items()}
    return out
