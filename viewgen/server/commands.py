"""The values in the page's commands, checked (:class:`~viewgen.server.sessions.Session.handle` reads them).

Every check raises :class:`CommandError` (answered with an ``error`` message; the session lives on).
"""

from __future__ import annotations

import math

from viewgen.errors import InputError

__all__ = ["CommandError", "fraction", "integer", "number"]


class CommandError(InputError):
    """A malformed or unusable command from the page (answered with an ``error`` message)."""


def number(value, what: str) -> float:
    """A finite JSON number (not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def integer(value, what: str) -> int:
    """A JSON integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"{what} must be an integer, got {value!r}")
    return value


def fraction(value, what: str) -> float:
    """A finite number clipped to [0, 1] (a position on the view)."""
    return min(max(number(value, what), 0.0), 1.0)
