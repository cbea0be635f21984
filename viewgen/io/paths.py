"""One check for every input path: it must be an existing regular file.

A folder, a named pipe (``mkfifo``), a socket or a device is refused before anything opens it:
opening a pipe for reading blocks until someone writes, so ``viewgen fly fifo.png`` would hang.
"""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["require_regular_file"]


def require_regular_file(path: Path, error: type[Exception], what: str = "a file") -> Path:
    """``path`` if it is an existing regular file (links followed), else a one-line ``error``.

    A missing path raises ``FileNotFoundError``; ``what`` names what was expected ("an image").
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot read {path}: no such file") from None
    except OSError as problem:  # a link loop, a name too long, no permission to look
        raise error(f"cannot read {path}: {problem.strerror or problem}") from None
    if stat.S_ISDIR(mode):
        raise error(f"cannot read {path}: it is a folder, not {what}")
    if not stat.S_ISREG(mode):
        raise error(f"cannot read {path}: it is a pipe, socket or device, not {what}")
    return path
