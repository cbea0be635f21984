"""Publish outputs whole: build them under a hidden name beside the target, then swap them in.

Used for folders (a flight's PNG frames, a converted release) and single files (weights):

* :func:`staging_folder` makes ``.NAME.XXXXXXXX.partial`` beside the target folder (created with
  ``os.mkdir``, so it gets the umask's mode, like any new folder).
* :func:`publish_folder` puts the staging folder in the target's place as one unit: on Linux
  with ``renameat2(RENAME_EXCHANGE)`` (atomic: a reader sees the old folder or the new one,
  never a mix), elsewhere with two renames; then the old content is removed.
* :func:`check_replaceable` refuses to replace a folder that holds anything but our own files,
  so a user's files are never deleted.
* :func:`write_file_atomic` writes a file under a hidden name and renames it over the target;
  the file is made by ``open()``, so it gets the umask's mode (``0o644`` under the default umask).

Errors are ``OSError`` with one-line messages that name the user's path, never the hidden one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from viewgen.errors import OutputError, one_line

__all__ = ["WriteError", "check_file_destination", "check_parent_folder", "check_replaceable", "describe_os_error",
           "file_in_the_way", "hidden_sibling", "is_read_only", "publish_folder", "remove_tree", "staging_folder",
           "write_file_atomic"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class WriteError(OutputError):
    """``cannot write PATH: CAUSE`` in one line, naming the user's path; ``cause`` keeps the reason alone."""

    def __init__(self, path: Path | str, cause: str) -> None:
        super().__init__(f"cannot write {path}: {cause}")
        self.cause = cause


def describe_os_error(error: OSError) -> str:
    """The cause of ``error`` in words (``"No space left on device"``), without the file names."""
    if isinstance(error, WriteError):
        return error.cause
    if error.strerror:
        return error.strerror
    return one_line(error)


def is_read_only(path: Path) -> bool:
    """True when ``path`` exists and is not writable for us or has no write bit at all (even for root)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not os.access(path, os.W_OK) or not mode & 0o222


def file_in_the_way(path: Path) -> Path | None:
    """The file that stands where a folder above ``path`` should be (or be made), if any."""
    for ancestor in Path(os.path.abspath(path)).parents:
        if os.path.lexists(ancestor):
            return None if ancestor.is_dir() else ancestor
    return None


def check_parent_folder(path: Path) -> None:
    """One-line ``OSError`` when a file stands where a folder above ``path`` should be (or be made)."""
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise OSError(f"cannot write {path}: {blocker} is a file, not a folder")


def check_file_destination(path: Path) -> Path:
    """The file that writing ``path`` replaces (a link's target); one-line ``OSError`` if it must not be.

    Refused: an existing folder, a read-only file. No side effects, so callers check before any work.
    """
    target = Path(os.path.realpath(path))  # a link: replace the file it names, keep the link
    check_parent_folder(path)
    if target.is_dir():
        raise OSError(f"cannot write {path}: it is a folder; give a file name")
    if is_read_only(target):
        raise OSError(f"will not replace {path}: the file is read-only; make it writable or choose another name")
    return target


def hidden_sibling(target: Path, tag: str) -> Path:
    """A new hidden name beside ``target``: ``.NAME.<8 random hex>.TAG`` (nothing is created)."""
    return target.parent / f".{target.name}.{secrets.token_hex(4)}.{tag}"


def staging_folder(target: Path) -> Path:
    """Create an empty hidden folder beside ``target`` (its parent is created if missing)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            candidate = hidden_sibling(target, "partial")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name")
    except OSError as error:
        raise WriteError(target, describe_os_error(error)) from None


def remove_tree(path: Path | None) -> None:
    """Best-effort removal of a staging (or replaced) folder; never raises."""
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel or a file system without exchange: fall back
    raise OSError(code, os.strerror(code))


def publish_folder(staging: Path, target: Path) -> None:
    """Put the folder ``staging`` in ``target``'s place as a whole; the old ``target`` is removed.

    On failure ``target`` is left as it was (the caller removes ``staging``).
    """
    try:
        if not os.path.lexists(target):
            os.rename(staging, target)
            return
        if target.is_dir():  # the new folder keeps the old one's permissions
            os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
        if _exchange(staging, target):
            remove_tree(staging)  # now holds the old content
            return
        old = hidden_sibling(target, "old")
        os.rename(target, old)
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(old, target)
            raise
        remove_tree(old)
    except OSError as error:
        raise WriteError(target, describe_os_error(error)) from None


def build_and_publish(target: Path, fill: Callable[[Path], None], what: str, shown: Path | str) -> None:
    """Fill a new hidden sibling folder of ``target`` with ``fill(folder)``, then swap it in whole.

    On a failure or an interrupt ``target`` is left as it was and the hidden folder is removed;
    an ``OSError`` becomes one line naming ``shown`` (the path the user gave) and ``what``
    was being written, never the hidden folder's name.
    """
    staging = None
    try:
        staging = staging_folder(target)
        fill(staging)
        publish_folder(staging, target)
        staging = None
    except OSError as error:
        raise OSError(f"cannot write {what} to {shown}: {describe_os_error(error)}; "
                      f"{'nothing was changed there' if target.exists() else 'nothing was written'}") from None
    finally:
        remove_tree(staging)


def check_replaceable(target: Path, is_ours: Callable[[Path], bool], what: str, hint: str) -> None:
    """Refuse (one-line ``OSError``) to replace ``target`` unless it is absent or holds only our entries.

    ``what`` says what ours are (``"PNG frames of a flight"``); ``hint`` what to do instead.
    """
    check_parent_folder(target)
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise OSError(f"cannot write {what} to {target}: it is a file, not a folder; {hint}")
    try:
        foreign = sorted(entry.name for entry in target.iterdir() if not is_ours(entry))
    except OSError as error:
        raise OSError(f"cannot write {what} to {target}: {describe_os_error(error)}") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OSError(f"will not replace {target}: it holds files that are not {what} ({shown}); {hint}")


def write_file_atomic(path: Path, write: Callable[[BinaryIO], None], suffix: str = "") -> Path:
    """Call ``write(stream)`` on a hidden file beside ``path`` and rename it to ``path`` when done.

    The parent folder is created if missing; the file gets the umask's mode; ``suffix`` ends the
    hidden name (``".png"``). On any failure or interrupt the hidden file is removed, ``path`` is
    left as it was, and an ``OSError`` (:class:`WriteError`) names ``path`` and the cause.
    """
    temporary = hidden_sibling(path, f"partial{suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException as error:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise WriteError(path, describe_os_error(error)) from None
        raise
    return path
