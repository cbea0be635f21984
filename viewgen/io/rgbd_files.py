"""Read and write RGBD inputs: the original demo's pickles (safely) and plain ``.npz`` / ``.npy``.

Accepted files (see :func:`load_rgbd_file`):

* ``.pkl`` / ``.pickle``: the original Infinite Nature ``autocruise_input*.pkl`` dicts with
  ``input_rgbd`` (required), ``input_intrinsics`` ``[4]`` and ``input_pose`` ``[3, 4]``
  (optional). They are read by a restricted unpickler that can only rebuild numpy arrays,
  dtypes and scalars inside plain containers; any other global (``os.system``,
  ``builtins.eval``, ...) is refused with :class:`UnsafePickleError` before anything runs.
* ``.npz``: ``rgbd`` (required), ``intrinsics`` ``[4]`` and ``cam_from_world`` ``[3, 4]`` or
  ``[4, 4]`` (optional); read with ``allow_pickle=False``. :func:`save_rgbd_npz` writes them.
* ``.npy``: a bare RGBD array.

RGBD array layouts: ``[H, W, 4]`` (channels last, the original's), ``[4, H, W]`` (channels
first), ``[1, 4, H, W]`` or ``[1, H, W, 4]``. When both the first and the last axis have size 4
the layout is ambiguous and refused. RGBD must be floating point, RGB in [0, 1] and disparity
(1/depth) in [0, 1]; values at most 1e-4 outside are clamped. Every problem raises
:class:`InputError` (a ``ValueError``) with a one-line message naming the file.
"""

from __future__ import annotations

import importlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from torch import Tensor

__all__ = ["InputError", "RGBDInput", "UnsafePickleError", "load_rgbd_file", "save_rgbd_npz", "validate_rgbd"]

RANGE_TOLERANCE = 1e-4
_SKY_DISPARITY = 0.05  # the autopilot's soft sky mask is 1 below this


class InputError(ValueError):
    """An RGBD input file that cannot be used (missing, corrupt, wrong shape or range)."""


class UnsafePickleError(InputError):
    """A pickle that references something other than numpy arrays and plain containers."""


@dataclass(frozen=True, eq=False)
class RGBDInput:
    """One loaded RGBD input.

    rgbd: ``[1, 4, H, W]`` float32, RGB in [0, 1] plus disparity in [0, 1].
    intrinsics: ``[4]`` float32 ``[fx, fy, cx, cy]`` (texture units), or ``None`` if the file has none.
    cam_from_world: ``[3, 4]`` float32 world-to-camera pose, or ``None``.
    warnings: soft problems found by :func:`validate_rgbd` (e.g. a constant disparity).
    """

    rgbd: Tensor
    intrinsics: Tensor | None = None
    cam_from_world: Tensor | None = None
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Restricted unpickling


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to store bytes."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode is only allowed with latin1 text, got {encoding!r}")
    return text.encode("latin1")


def _numpy_attribute(module_names: tuple[str, ...], name: str):
    """``getattr`` on the first importable module (numpy 2 moved ``numpy.core`` to ``numpy._core``)."""
    for module_name in module_names:
        try:
            return getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"this numpy has no {module_names[0]}.{name}")


_MULTIARRAY = ("numpy._core.multiarray", "numpy.core.multiarray")
_NUMERIC = ("numpy._core.numeric", "numpy.core.numeric")
# (module, name) -> (modules to try, attribute); anything absent here is refused.
_ALLOWED_GLOBALS = MappingProxyType({
    **{(module, "_reconstruct"): (_MULTIARRAY, "_reconstruct") for module in _MULTIARRAY},
    **{(module, "scalar"): (_MULTIARRAY, "scalar") for module in _MULTIARRAY},
    **{(module, "_frombuffer"): (_NUMERIC, "_frombuffer") for module in _NUMERIC},
    ("numpy", "ndarray"): (("numpy",), "ndarray"),
    ("numpy", "dtype"): (("numpy",), "dtype"),
})


class _RGBDUnpickler(pickle.Unpickler):
    """Unpickler whose only reachable callables are numpy's array/dtype/scalar rebuilders."""

    def __init__(self, file, display_name: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: how numpy arrays pickled by Python 2 load
        self._display_name = display_name

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in _ALLOWED_GLOBALS:
            return _numpy_attribute(*_ALLOWED_GLOBALS[(module, name)])
        raise UnsafePickleError(
            f"refusing to load {self._display_name}: it references {module}.{name}, "
            "which is not allowed in an RGBD input pickle"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refusing to load {self._display_name}: it uses persistent ids")


def _corrupt(path: Path, kind: str, error: BaseException) -> InputError:
    detail = " ".join(str(error).split())  # keep the message on one line
    return InputError(f"cannot read {path.name}: corrupt or truncated {kind} ({type(error).__name__}: {detail})")


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as file:
            content = _RGBDUnpickler(file, path.name).load()
    except InputError:
        raise
    except Exception as error:  # only numpy rebuilders can run, so any failure means bad data
        raise _corrupt(path, "pickle", error) from None
    if not isinstance(content, dict):
        raise InputError(f"cannot read {path.name}: expected a dict with 'input_rgbd', got {type(content).__name__}")
    return content


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise _corrupt(path, ".npz", error) from None


def _read_npy(path: Path) -> dict:
    try:
        return {"rgbd": np.load(path, allow_pickle=False)}
    except (OSError, ValueError, EOFError) as error:
        raise _corrupt(path, ".npy", error) from None


_FIELDS = ("rgbd", "intrinsics", "cam_from_world")
_PICKLE_KEYS = ("input_rgbd", "input_intrinsics", "input_pose")  # the original demo's names


def _pick_fields(content: dict, keys: tuple[str, ...], name: str) -> dict:
    """``content[keys[i]]`` under the names of :data:`_FIELDS`; ``keys[0]`` (the RGBD) is required."""
    if keys[0] not in content:
        raise InputError(f"cannot read {name}: no {keys[0]!r} entry (found: {', '.join(sorted(map(str, content)))})")
    return {field: content.get(key) for field, key in zip(_FIELDS, keys)}


# extension -> (reader, keys of rgbd / intrinsics / cam_from_world in what it returns)
_READERS = MappingProxyType({
    ".pkl": (_read_pickle, _PICKLE_KEYS),
    ".pickle": (_read_pickle, _PICKLE_KEYS),
    ".npz": (_read_npz, _FIELDS),
    ".npy": (_read_npy, _FIELDS),
})


# ---------------------------------------------------------------------------------------------
# Array checks


def _float_array(value, what: str, floating_only: bool = False, finite: bool = True) -> np.ndarray:
    """A real-valued numpy array (or tensor) as float64; refuses objects, strings, complex.

    With ``finite`` it also refuses NaN and infinite values, counting them in the message.
    """
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    kinds = "f" if floating_only else "fiu"
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        kind = f"array of {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise InputError(f"{what} must be a {'floating-point' if floating_only else 'numeric'} array, got {kind}")
    array = value.astype(np.float64)
    if finite and not np.isfinite(array).all():
        nan_count, inf_count = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise InputError(f"{what} contains {nan_count} NaN and {inf_count} infinite values")
    return array


def _rgbd_to_nchw(array: np.ndarray, what: str) -> np.ndarray:
    """``[H, W, 4]``, ``[4, H, W]``, ``[1, 4, H, W]`` or ``[1, H, W, 4]`` -> ``[1, 4, H, W]``."""
    shape = array.shape
    if array.ndim == 4 and shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or 4 not in (array.shape[0], array.shape[-1]):
        raise InputError(f"{what} must be [H, W, 4], [4, H, W] or [1, 4, H, W], got {list(shape)}")
    if array.shape[0] == 4 and array.shape[-1] == 4:
        raise InputError(f"{what} has an ambiguous layout {list(shape)}: both the first and last axes have size 4")
    channels_first = array if array.shape[0] == 4 else np.moveaxis(array, -1, 0)
    return channels_first[None]


def _check_range(values: np.ndarray, what: str) -> None:
    low, high = float(values.min()), float(values.max())
    if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
        raise InputError(f"{what} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]")


def validate_rgbd(rgbd: Tensor, what: str = "rgbd") -> tuple[str, ...]:
    """Check an RGBD tensor for use as a fly-through start frame.

    Hard problems raise :class:`InputError`: a shape other than ``[1, 4, H, W]`` with
    ``H, W >= 2``, a non-floating dtype, NaN or infinite values, RGB or disparity outside
    [0, 1] by more than 1e-4. Soft problems are returned as messages (empty tuple when none):
    a constant disparity (a flat plane facing the camera: the warp shows no parallax) and a
    disparity below 0.05 everywhere (the autopilot sees only sky). Loaders attach these to
    :attr:`RGBDInput.warnings`; the pipeline decides whether to show them.
    """
    if not isinstance(rgbd, Tensor) or rgbd.dim() != 4 or rgbd.shape[:2] != (1, 4) or min(rgbd.shape[2:]) < 2:
        shape = list(rgbd.shape) if isinstance(rgbd, Tensor) else type(rgbd).__name__
        raise InputError(f"{what} must be a [1, 4, H, W] tensor with H, W >= 2, got {shape}")
    array = _float_array(rgbd, what, floating_only=True, finite=False)
    _check_range(_float_array(array[:, :3], f"{what} RGB"), f"{what} RGB")
    disparity = _float_array(array[0, 3], f"{what} disparity")
    _check_range(disparity, f"{what} disparity")
    warnings = []
    if float(disparity.max() - disparity.min()) < 1e-6:
        warnings.append(f"{what} disparity is constant ({float(disparity.mean()):.4g}): "
                        "a flat scene, so the rendered views show no parallax")
    elif float(disparity.max()) < _SKY_DISPARITY:
        warnings.append(f"{what} disparity is below {_SKY_DISPARITY} everywhere: "
                        "the autopilot will treat it all as sky")
    return tuple(warnings)


def _intrinsics_tensor(value, what: str) -> Tensor | None:
    if value is None:
        return None
    array = _float_array(value, what)
    if array.shape != (4,) or (array[:2] <= 0).any():
        raise InputError(f"{what} must be [fx, fy, cx, cy] with positive focal lengths, got {array.tolist()}")
    return torch.from_numpy(array.astype(np.float32))


def _pose_tensor(value, what: str) -> Tensor | None:
    if value is None:
        return None
    array = _float_array(value, what)
    if array.shape == (4, 4) and np.allclose(array[3], [0, 0, 0, 1]):
        array = array[:3]
    if array.shape != (3, 4):
        raise InputError(f"{what} must be a [3, 4] (or [4, 4]) world-to-camera pose, got {list(array.shape)}")
    rotation = array[:, :3]
    if np.abs(rotation @ rotation.T - np.eye(3)).max() > 1e-3 or np.linalg.det(rotation) < 0:
        raise InputError(f"{what}[:, :3] is not a rotation (orthonormal with det +1)")
    return torch.from_numpy(array.astype(np.float32))


def _build_input(content: dict, name: str) -> RGBDInput:
    """Validated :class:`RGBDInput` from raw arrays read out of file ``name``."""
    raw = _float_array(content["rgbd"], f"{name}: rgbd", floating_only=True, finite=False)
    rgbd_array = _rgbd_to_nchw(raw, f"{name}: rgbd")
    rgbd = torch.from_numpy(np.ascontiguousarray(rgbd_array, dtype=np.float32))
    warnings = validate_rgbd(rgbd, f"{name}: rgbd")
    return RGBDInput(
        rgbd=rgbd.clamp(0.0, 1.0),
        intrinsics=_intrinsics_tensor(content["intrinsics"], f"{name}: intrinsics"),
        cam_from_world=_pose_tensor(content["cam_from_world"], f"{name}: cam_from_world"),
        warnings=warnings,
    )


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_rgbd_file(path: str | Path) -> RGBDInput:
    """Load an RGBD input from ``.pkl``/``.pickle``, ``.npz`` or ``.npy`` (see the module doc).

    Returns an :class:`RGBDInput` with ``rgbd [1, 4, H, W]`` float32 and optional
    ``intrinsics [4]`` and ``cam_from_world [3, 4]``. Raises :class:`InputError` (or its
    subclass :class:`UnsafePickleError`) with a one-line message on any problem.
    """
    path = Path(path)
    reader, keys = _READERS.get(path.suffix.lower(), (None, None))
    if reader is None:
        raise InputError(f"cannot read {path.name}: unsupported extension {path.suffix!r} "
                         f"(expected one of {', '.join(_READERS)})")
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    return _build_input(_pick_fields(reader(path), keys, path.name), path.name)


def save_rgbd_npz(path: str | Path, rgbd, intrinsics=None, cam_from_world=None) -> Path:
    """Write a validated RGBD input that :func:`load_rgbd_file` reads back.

    ``rgbd`` is a tensor or array in any accepted layout; it is stored as ``rgbd`` float32
    ``[1, 4, H, W]``, with ``intrinsics [4]`` and ``cam_from_world [3, 4]`` when given. The file
    is written at ``path`` exactly (no ``.npz`` is appended). Returns the path.
    """
    path = Path(path)
    loaded = _build_input({"rgbd": rgbd, "intrinsics": intrinsics, "cam_from_world": cam_from_world}, path.name)
    arrays = {"rgbd": loaded.rgbd.numpy()}
    if loaded.intrinsics is not None:
        arrays["intrinsics"] = loaded.intrinsics.numpy()
    if loaded.cam_from_world is not None:
        arrays["cam_from_world"] = loaded.cam_from_world.numpy()
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    return path
