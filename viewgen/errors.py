"""viewgen's own error types, and the one-line form every message takes for the user.

Each type also derives from the builtin a caller would expect (``InputError`` is a
``ValueError``, ``ViewgenRuntimeError`` a ``RuntimeError``, ...), so code written against the
builtins keeps working. The command line and the web server turn these into one line
(:func:`one_line`); anything else (a real torch ``RuntimeError``, a bug) keeps its traceback.
This module imports nothing from viewgen, so every package may use it.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "InputError",
    "OutputError",
    "ViewgenError",
    "ViewgenRuntimeError",
    "WeightsError",
    "one_line",
]


class ViewgenError(Exception):
    """Base of every deliberate viewgen failure: the message says what went wrong and the fix."""


class InputError(ViewgenError, ValueError):
    """An input that cannot be used: a file, an array, an argument or an option."""


class WeightsError(ViewgenError):
    """Weights that are missing, corrupt or of the wrong layout.

    The concrete types add the builtin that fits: ``FileNotFoundError`` for missing weights
    (:class:`viewgen.hub.WeightsNotFoundError`, ``MissingWeightsError``), ``ValueError`` for
    unusable ones (:class:`viewgen.hub.WeightsFormatError`, ``StateDictMismatchError``,
    ``TensorBundleError``), ``OSError`` for a failed download.
    """


class OutputError(ViewgenError, OSError):
    """An output that cannot be written (the message names the user's path and the cause)."""


class ViewgenRuntimeError(ViewgenError, RuntimeError):
    """A deliberate failure at run time: a missing tool or package, a broken state, a bad result."""


# ``<_io.BytesIO object at 0x7f...>``: foreign messages that quote an object mean nothing to a user
_OBJECT_REPR = re.compile(r"<[^<>]*? at 0x[0-9a-fA-F]+>")


def one_line(error: BaseException, limit: int | None = None) -> str:
    """``error``'s message on one line (whitespace runs folded), else its type's name.

    ``limit`` cuts a longer message to that many characters, ending in ``...`` (for messages
    quoting foreign text).
    """
    if isinstance(error, OSError) and error.strerror and str(error).startswith("[Errno"):
        # Python's "[Errno 36] File name too long: 'x'" -> "x: File name too long"
        names = [os.fsdecode(name) for name in (error.filename, error.filename2) if name is not None]
        error = OSError(f"{' -> '.join(names)}: {error.strerror}" if names else error.strerror)
    text = _OBJECT_REPR.sub("an object", " ".join(str(error).split())) or type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
