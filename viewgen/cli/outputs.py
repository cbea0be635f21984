"""Output files shared by the ``viewgen`` subcommands: checked before any work, published whole."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["IMAGE_FORMATS", "check_output_file", "write_outputs"]

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def check_output_file(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """The file that writing ``path`` replaces; one-line errors for another suffix or an unusable destination.

    Refused before any work (no side effects): a suffix not in ``suffixes``, a file where a folder
    above ``path`` should be, a folder, a read-only file (:func:`viewgen.staging.check_file_destination`).
    """
    from viewgen.staging import check_file_destination

    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path} must end in {' or '.join(suffixes)}")
    return check_file_destination(path)


def write_outputs(writes: Sequence[tuple[Path, Callable[[Path], object]]]) -> None:
    """Publish files whole: ``write(hidden)`` each under a hidden name beside it, then rename all into place.

    ``writes`` pairs the user's path with a function writing that file at the path it is given.
    A link is followed (its target replaced, the link kept); missing parent folders are created.
    On an error or an interrupt no file is replaced and no hidden file is left; an ``OSError``
    names the user's path and the cause in one line.
    """
    from viewgen.staging import WriteError, check_file_destination, describe_os_error, hidden_sibling

    targets = [check_file_destination(path) for path, _ in writes]  # again: the caller checked before the work
    hidden = [hidden_sibling(target, f"partial{target.suffix}") for target in targets]
    current = None  # the user's path being written or renamed, named by an error
    try:
        for (path, write), target, temporary in zip(writes, targets, hidden):
            current = path
            target.parent.mkdir(parents=True, exist_ok=True)
            write(temporary)
        for (path, _), target, temporary in zip(writes, targets, hidden):
            current = path
            os.replace(temporary, target)
    except OSError as error:
        raise WriteError(current, describe_os_error(error)) from None
    finally:
        for temporary in hidden:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
