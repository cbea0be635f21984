"""``.npy`` and ``.npz`` files read header first: shape and dtype are checked before any data is.

``np.load`` trusts the file: a 2 MB ``.npz`` of zeros that declares an 8000 x 8000 x 4 array
decompresses to 1 GB, and a text file named ``.npz`` gets numpy's advice to pass
``allow_pickle=True``. Here the kind of file is told from its first bytes (the NumPy or zip
signature), the array header is parsed on its own (for an ``.npz`` member, from the first few
hundred bytes of the compressed stream), the caller's ``check(key, shape, dtype)`` runs on it,
and only then is the data read: memory-mapped (copy-on-write) for an ``.npy``, in chunks into
one preallocated array for an ``.npz`` member. Members the caller does not ask for are never
read. Every problem raises the caller's ``error`` type with one line naming the file.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from viewgen.errors import one_line

__all__ = ["ArrayCheck", "load_npy_checked", "load_npz_checked", "numpy_file_kind"]

NPY_SIGNATURE = b"\x93NUMPY"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with files, an empty zip
ArrayCheck = Callable[[str, tuple[int, ...], np.dtype], None]  # (key, shape, dtype) -> None or raise


def numpy_file_kind(path: Path, error: type[Exception]) -> str:
    """``"npy"`` or ``"npz"`` from the file's first bytes, whatever its extension says."""
    with open(path, "rb") as stream:
        head = stream.read(len(NPY_SIGNATURE))
    if not head:
        raise error(f"cannot read {path.name}: the file is empty")
    if head.startswith(NPY_SIGNATURE):
        return "npy"
    if head.startswith(ZIP_SIGNATURES):
        return "npz"
    return _not_numpy(path, head, error)


def _not_numpy(path: Path, head: bytes, error: type[Exception]):
    kind = "text" if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head) else "something else"
    raise error(f"cannot read {path.name}: not a valid {path.suffix or 'NumPy'} file (it holds {kind}, not an array "
                "saved by numpy.save / numpy.savez)")


def _read_header(stream, where: str, error: type[Exception]) -> tuple[tuple[int, ...], np.dtype, bool]:
    """``(shape, dtype, fortran_order)`` of the ``.npy`` data starting at ``stream``'s position."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise error(f"cannot read {where}: unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as problem:
        if isinstance(problem, error):
            raise
        # numpy's own text quotes parser internals (e.g. ``<ast.BinOp object at 0x...>``): not shown
        raise error(f"cannot read {where}: corrupt .npy header (its shape and type cannot be read)") from None
    if any(int(n) < 0 for n in shape):
        raise error(f"cannot read {where}: corrupt .npy header (negative size in shape {list(shape)})")
    if dtype.hasobject:
        raise error(f"cannot read {where}: it holds Python objects, not numbers")
    return tuple(int(n) for n in shape), dtype, fortran


def load_npy_checked(path: Path, check: ArrayCheck, error: type[Exception], key: str = "array") -> np.ndarray:
    """The array of an ``.npy`` file, memory-mapped copy-on-write after ``check(key, shape, dtype)`` passed."""
    with open(path, "rb") as stream:
        shape, dtype, _ = _read_header(stream, path.name, error)
    check(key, shape, dtype)
    try:
        if 0 in shape:
            return np.load(path, allow_pickle=False)
        return np.load(path, mmap_mode="c", allow_pickle=False)
    except (ValueError, EOFError, OSError, OverflowError, MemoryError) as problem:
        raise error(f"cannot read {path.name}: corrupt or truncated .npy ({one_line(problem, 120)})") from None


def load_npz_checked(path: Path, wanted: Iterable[str], check: ArrayCheck,
                     error: type[Exception]) -> dict[str, np.ndarray | None]:
    """``{key: array}`` of an ``.npz``: the ``wanted`` keys are read after ``check``; others map to ``None``."""
    wanted = set(wanted)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[:-4]: name for name in archive.namelist() if name.endswith(".npy")}
            content: dict[str, np.ndarray | None] = dict.fromkeys(members)
            for key in sorted(wanted & set(members)):
                where = f"{path.name}: {key}"
                with archive.open(members[key]) as stream:
                    shape, dtype, _ = _read_header(stream, where, error)
                check(key, shape, dtype)
                with archive.open(members[key]) as stream:  # read_array fills one array, chunk by chunk
                    content[key] = np.lib.format.read_array(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OverflowError,
            MemoryError, NotImplementedError, RuntimeError) as problem:  # also: encrypted or exotic compression
        if isinstance(problem, error):
            raise
        raise error(f"cannot read {path.name}: corrupt or truncated .npz ({one_line(problem, 120)})") from None
    return content
