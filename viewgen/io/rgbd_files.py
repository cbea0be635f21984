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

The content decides how a file is read (an ``.npz`` that is really an ``.npy`` still loads);
a file that is neither is refused as "not a valid .npz/.npy file". Sizes are checked in the
file's header before any data is read (:mod:`viewgen.io.numpy_files`): an RGBD array above
:data:`~viewgen.io.limits.MAX_ARRAY_PIXELS` (4096 x 4096) is refused, and so is a pickle larger
than such an array could make; with ``max_side`` the array is shrunk (area average) before it
is converted to float32.

RGBD array layouts: ``[H, W, 4]`` (channels last, the original's), ``[4, H, W]`` (channels
first), ``[1, 4, H, W]`` or ``[1, H, W, 4]``. When both the first and the last axis have size 4
the layout is ambiguous and refused. RGBD must be floating point, RGB in [0, 1] and disparity
(1/depth) in [0, 1]; values at most 1e-4 outside are clamped. Every problem raises
:class:`InputError` (a ``ValueError``) with a one-line message naming the file.
"""

from __future__ import annotations

import importlib
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.errors import InputError, one_line
from viewgen.geometry.validation import check_pose
from viewgen.io.limits import MAX_ARRAY_PIXELS, fit_long_side, size_problem
from viewgen.io.numpy_files import load_npy_checked, load_npz_checked, numpy_file_kind
from viewgen.io.paths import require_regular_file

__all__ = ["InputError", "InputWarning", "RGBDInput", "UnsafePickleError", "load_rgbd_file", "save_rgbd_npz",
           "validate_rgbd"]

RANGE_TOLERANCE = 1e-4
_CHANNELS = 4
_MAX_PICKLE_BYTES = _CHANNELS * MAX_ARRAY_PIXELS * 8 + (1 << 20)  # the largest RGBD array in float64, plus room
_SKY_DISPARITY = 0.05  # the autopilot's soft sky mask is 1 below this


class UnsafePickleError(InputError):
    """A pickle that references something other than numpy arrays and plain containers."""


class InputWarning(UserWarning):
    """A usable input with a soft problem (e.g. a constant disparity), as warned by the pipelines."""


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
    """The one-line error for a pickle that cannot be read, in words (no exception class names)."""
    if isinstance(error, MemoryError):
        return InputError(f"cannot read {path.name}: corrupt {kind} (it declares more data than it holds)")
    if isinstance(error, pickle.UnpicklingError) and "persistent" in str(error):
        return _torch_checkpoint(path)
    return InputError(f"cannot read {path.name}: corrupt or truncated {kind} ({one_line(error, 120)})")


# The first pickle of a legacy ``torch.save`` file; newer ones are zip archives.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _torch_checkpoint(path: Path) -> InputError:
    return InputError(f"cannot read {path.name}: it is a PyTorch checkpoint (torch.save), not an RGBD input "
                      "(give a .npz with an 'rgbd' array, or an original autocruise_input*.pkl)")


def _read_pickle(path: Path) -> dict:
    if path.stat().st_size > _MAX_PICKLE_BYTES:
        raise InputError(f"{path.name} is {path.stat().st_size / 1e6:.0f} MB, more than an RGBD input of the "
                         f"largest accepted size ({math.isqrt(MAX_ARRAY_PIXELS)}x{math.isqrt(MAX_ARRAY_PIXELS)}) "
                         "needs; downscale it first")
    try:
        with open(path, "rb") as file:
            if file.read(4) == b"PK\x03\x04":
                raise _torch_checkpoint(path)
            file.seek(0)
            content = _RGBDUnpickler(file, path.name).load()
    except InputError:
        raise
    except Exception as error:  # only numpy rebuilders can run, so any failure means bad data
        raise _corrupt(path, "pickle", error) from None
    if content == _TORCH_LEGACY_MAGIC:
        raise _torch_checkpoint(path)
    if not isinstance(content, dict):
        raise InputError(f"cannot read {path.name}: expected a dict with 'input_rgbd', got {type(content).__name__}")
    return content


def _check_declared(name: str, key: str, shape: tuple[int, ...]) -> None:
    """Refuse an array of ``name`` whose header declares more values than its field may hold."""
    count = math.prod(shape)
    if key in ("rgbd", "input_rgbd") and count > _CHANNELS * MAX_ARRAY_PIXELS:
        height, width = (shape[-3:-1] if shape[-1] == _CHANNELS else shape[-2:]) if len(shape) >= 3 else (count, 1)
        raise InputError(size_problem(f"{name}: {key} {list(shape)}", max(1, height), max(1, width),
                                      MAX_ARRAY_PIXELS) or f"{name}: {key} {list(shape)} is too large")
    if key not in ("rgbd", "input_rgbd") and count > 16:
        raise InputError(f"{name}: {key} must be a [4] or [3, 4] array, got {list(shape)}")


def _read_numpy(path: Path) -> dict:
    """``.npz`` fields, or ``{"rgbd": array}`` of an ``.npy``, told apart by the file's first bytes."""
    def check(key, shape, _dtype):
        _check_declared(path.name, key, shape)

    if numpy_file_kind(path, InputError) == "npy":
        return {"rgbd": load_npy_checked(path, check, InputError, key="rgbd")}
    return load_npz_checked(path, _FIELDS, check, InputError)


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
    ".npz": (_read_numpy, _FIELDS),
    ".npy": (_read_numpy, _FIELDS),
})


# ---------------------------------------------------------------------------------------------
# Array checks


def _kind(value) -> str:
    return f"array of {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__


def _float_array(value, what: str) -> np.ndarray:
    """A small real-valued, finite numpy array (or tensor) as float64; refuses objects, strings, complex."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise InputError(f"{what} must be a numeric array, got {_kind(value)}")
    array = value.astype(np.float64)
    if not np.isfinite(array).all():
        nan_count, inf_count = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise InputError(f"{what} contains {nan_count} NaN and {inf_count} infinite values")
    return array


def _rgbd_to_nchw(array: np.ndarray, what: str) -> np.ndarray:
    """``[H, W, 4]``, ``[4, H, W]``, ``[1, 4, H, W]`` or ``[1, H, W, 4]`` -> ``[1, 4, H, W]``."""
    shape = array.shape
    check_shape(array, [("H", "W", 4), (4, "H", "W"), (1, 4, "H", "W"), (1, "H", "W", 4)], what, what="array",
                error=InputError)
    array = array[0] if array.ndim == 4 else array
    if array.shape[0] == 4 and array.shape[-1] == 4:
        raise InputError(f"{what} has an ambiguous layout {list(shape)}: both the first and last axes have size 4")
    channels_first = array if array.shape[0] == 4 else np.moveaxis(array, -1, 0)
    return channels_first[None]


def _check_values(values: Tensor, what: str) -> tuple[float, float]:
    """Refuse NaN, infinities and values outside [0, 1] (beyond the tolerance); return (min, max)."""
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        nan_count = int(torch.isnan(values).sum())
        raise InputError(f"{what} contains {nan_count} NaN and {int((~finite).sum()) - nan_count} infinite values")
    low, high = float(values.min()), float(values.max())
    if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
        raise InputError(f"{what} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]")
    return low, high


def validate_rgbd(rgbd: Tensor, what: str = "rgbd") -> tuple[str, ...]:
    """Check an RGBD tensor for use as a fly-through start frame.

    Hard problems raise :class:`InputError`: a shape other than ``[1, 4, H, W]`` with
    ``H, W >= 2``, a non-floating dtype, NaN or infinite values, RGB or disparity outside
    [0, 1] by more than 1e-4. Soft problems are returned as messages (empty tuple when none):
    a constant disparity (a flat plane facing the camera: the warp shows no parallax) and a
    disparity below 0.05 everywhere (the autopilot sees only sky). Loaders attach these to
    :attr:`RGBDInput.warnings`; the pipeline decides whether to show them.
    """
    check_shape(rgbd if isinstance(rgbd, Tensor) else None, (1, 4, "H", "W"), what, error=InputError)
    check_min_size(rgbd, 2, what, error=InputError)
    if not rgbd.is_floating_point():
        raise InputError(f"{what} must be a floating-point array, got array of {str(rgbd.dtype).replace('torch.', '')}")
    rgbd = rgbd.detach()
    _check_values(rgbd[:, :3], f"{what} RGB")
    low, high = _check_values(rgbd[0, 3], f"{what} disparity")
    warnings = []
    if high - low < 1e-6:
        warnings.append(f"{what} disparity is constant ({float(rgbd[0, 3].mean(dtype=torch.float64)):.4g}): "
                        "a flat scene, so the rendered views show no parallax")
    elif high < _SKY_DISPARITY:
        warnings.append(f"{what} disparity is below {_SKY_DISPARITY} everywhere: "
                        "the autopilot will treat it all as sky")
    return tuple(warnings)


def _intrinsics_tensor(value, what: str) -> Tensor | None:
    if value is None:
        return None
    array = _float_array(value, what)
    check_shape(array, (4,), what, what="array [fx, fy, cx, cy]", hint=" with positive focal lengths",
                error=InputError)
    if (array[:2] <= 0).any():
        raise InputError(f"{what} must be [fx, fy, cx, cy] with positive focal lengths, got {array.tolist()}")
    return torch.from_numpy(array.astype(np.float32))


def _pose_tensor(value, what: str) -> Tensor | None:
    if value is None:
        return None
    array = _float_array(value, what)
    if array.shape == (4, 4) and np.allclose(array[3], [0, 0, 0, 1]):
        array = array[:3]
    check_pose(array, what, "single", error=InputError)
    if array.shape != (3, 4):
        raise InputError(f"{what} must be a [3, 4] (or [4, 4] ending in [0, 0, 0, 1]) world-to-camera pose, "
                         f"got {array.tolist()}")
    rotation = array[:, :3]
    if np.abs(rotation @ rotation.T - np.eye(3)).max() > 1e-3 or np.linalg.det(rotation) < 0:
        raise InputError(f"{what}[:, :3] is not a rotation (orthonormal with det +1)")
    return torch.from_numpy(array.astype(np.float32))


def _rgbd_tensor(value, name: str, max_side: int | None) -> Tensor:
    """File ``name``'s RGBD in any accepted layout (floating-point array or tensor) -> ``[1, 4, h, w]`` float32.

    With ``max_side``, a larger array is area-averaged to fit (after a NaN/infinity check) in its
    own precision, before the float32 copy is made.
    """
    what = f"{name}: rgbd"
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise InputError(f"{what} must be a floating-point array, got {_kind(value)}")
    _check_declared(name, "rgbd", value.shape)
    array = _rgbd_to_nchw(value, what)  # a view
    if not array.flags.writeable:  # e.g. rebuilt from a pickle's bytes; torch wants writable memory
        array = array.copy()
    rgbd = torch.from_numpy(array)
    height, width = array.shape[-2:]
    target = fit_long_side(height, width, max_side)
    if target != (height, width):
        _check_values(rgbd[:, :3], f"{what} RGB")
        _check_values(rgbd[:, 3:], f"{what} disparity")
        rgbd = F.interpolate(rgbd.float() if rgbd.dtype == torch.float16 else rgbd, size=target, mode="area")
    return rgbd.to(torch.float32).contiguous()


def _build_input(content: dict, name: str, max_side: int | None = None) -> RGBDInput:
    """Validated :class:`RGBDInput` from raw arrays read out of file ``name``."""
    rgbd = _rgbd_tensor(content["rgbd"], name, max_side)
    warnings = validate_rgbd(rgbd, f"{name}: rgbd")
    return RGBDInput(
        rgbd=rgbd.clamp(0.0, 1.0),
        intrinsics=_intrinsics_tensor(content["intrinsics"], f"{name}: intrinsics"),
        cam_from_world=_pose_tensor(content["cam_from_world"], f"{name}: cam_from_world"),
        warnings=warnings,
    )


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_rgbd_file(path: str | Path, *, max_side: int | None = None) -> RGBDInput:
    """Load an RGBD input from ``.pkl``/``.pickle``, ``.npz`` or ``.npy`` (see the module doc).

    Returns an :class:`RGBDInput` with ``rgbd [1, 4, H, W]`` float32 and optional
    ``intrinsics [4]`` and ``cam_from_world [3, 4]``. With ``max_side``, an RGBD whose longer
    side is larger is area-averaged to fit before its float32 copy is made. Raises
    :class:`InputError` (or its subclass :class:`UnsafePickleError`) with a one-line message on
    any problem, including an array above :data:`~viewgen.io.limits.MAX_ARRAY_PIXELS`.
    """
    path = Path(path)
    reader, keys = _READERS.get(path.suffix.lower(), (None, None))
    if reader is None:
        raise InputError(f"cannot read {path.name}: unsupported extension {path.suffix!r} "
                         f"(expected one of {', '.join(_READERS)})")
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file")
    require_regular_file(path, InputError, "an RGBD file")
    return _build_input(_pick_fields(reader(path), keys, path.name), path.name, max_side)


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
