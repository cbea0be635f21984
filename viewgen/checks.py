"""The one shape check of viewgen: ``check_shape`` and ``check_min_size``, with one message format.

A shape is spelled as a sequence of dimensions, as in the docstrings (``[B, 4, H, W]``):

* an ``int`` must match exactly;
* a ``str`` names a size: the same name must have the same size everywhere in the spec, and
  ``sizes`` may fix it beforehand (``sizes={"B": 2}``, or a tuple of allowed values such as
  ``{"B": (1, batch)}`` for a batch that broadcasts);
* a ``tuple`` of ints is "one of" (``(3, 4)`` spells ``3|4``);
* ``"..."`` as the first entry stands for any number of leading dimensions.

A list of specs means "any of these" (``[("H", "W"), (1, 1, "H", "W")]``). The checks read only
``.shape``, so numpy arrays work as well as tensors. Errors are one line::

    rgbd must be a [B, 4, H, W] tensor (RGB + disparity), got shape [1, 3, 8, 8]
    rgbd must be at least 2x2 pixels (H, W >= 2), got 1x5

This module imports nothing from viewgen, so every package (networks included) may use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["check_hw", "check_min_size", "check_shape", "format_shape", "shape_of"]

Dim = int | str | tuple[int, ...]
Spec = Sequence[Dim]


def shape_of(value: Any) -> str:
    """``value``'s shape as ``shape [1, 4, 8, 8]``, or its type name when it has none."""
    shape = getattr(value, "shape", None)
    return f"shape {list(shape)}" if shape is not None else type(value).__name__


def format_shape(spec: Spec) -> str:
    """``("B", (3, 4), 4)`` -> ``[B, 3|4, 4]``."""
    return "[" + ", ".join("|".join(map(str, dim)) if isinstance(dim, tuple) else str(dim) for dim in spec) + "]"


def _article(text: str) -> str:
    """``a`` or ``an`` before a spelled shape, as it is read aloud: an [H, W], a [B, 4, H, W], an [8, 3]."""
    head = text.lstrip("[").split(",")[0].split("|")[0].strip()
    vowel_sound = head[:1] in tuple("AEFHILMNORSX") if head[:1].isalpha() else head.startswith(("8", "11", "18"))
    return "an" if vowel_sound else "a"


def _match(shape: tuple[int, ...], spec: Spec, fixed: Mapping[str, Any]) -> dict[str, int] | None:
    """The named sizes of ``shape`` under ``spec``, or None when it does not fit."""
    if spec and spec[0] == "...":
        spec = spec[1:]
        if len(shape) < len(spec):
            return None
        shape = shape[len(shape) - len(spec):]
    if len(shape) != len(spec):
        return None
    named: dict[str, int] = {}
    for size, dim in zip(shape, spec):
        if isinstance(dim, str):
            allowed = fixed.get(dim)
            if named.setdefault(dim, size) != size:
                return None
            if allowed is not None and size not in (allowed if isinstance(allowed, tuple) else (allowed,)):
                return None
        elif size not in (dim if isinstance(dim, tuple) else (dim,)):
            return None
    return named


def check_shape(value: Any, spec: Spec | list[Spec], name: str, *, sizes: Mapping[str, Any] | None = None,
                what: str = "tensor", hint: str = "", error: type[Exception] = ValueError) -> dict[str, int]:
    """Raise ``error`` unless ``value.shape`` fits ``spec`` (see the module doc); return the named sizes.

    The message reads ``{name} must be a|an {spec} {what}{hint}, got {shape}``: ``what`` names the kind of
    value (``"tensor"``, ``"array"``, ``"pose"``), ``hint`` adds a note such as ``" (RGB + disparity)"``.
    A value without ``.shape`` (a list, None) fails with its type name.
    """
    specs = spec if isinstance(spec, list) else [spec]
    shape = getattr(value, "shape", None)
    if shape is not None:
        for candidate in specs:
            named = _match(tuple(shape), candidate, sizes or {})
            if named is not None:
                return named
    expected = " or ".join(format_shape(candidate) for candidate in specs)
    fixed = ", ".join(f"{key} = {'|'.join(map(str, v)) if isinstance(v, tuple) else v}"
                      for key, v in (sizes or {}).items())
    raise error(f"{name} must be {_article(expected)} {expected} {what}{f' with {fixed}' if fixed else ''}{hint}, "
                f"got {shape_of(value)}")


def check_min_size(value: Any, minimum: int | tuple[int, int], name: str, *, hint: str = "",
                   error: type[Exception] = ValueError) -> tuple[int, int]:
    """Raise ``error`` unless the last two dimensions of ``value`` (or a ``(height, width)`` pair) are at
    least ``minimum`` (``int`` or ``(min_height, min_width)``); return ``(height, width)``.

    The message reads ``{name} must be at least {h}x{w} pixels (H, W >= {h}){hint}, got {H}x{W}``.
    """
    height, width = (int(size) for size in (value if isinstance(value, tuple) else value.shape[-2:]))
    low_h, low_w = minimum if isinstance(minimum, tuple) else (minimum, minimum)
    if height < low_h or width < low_w:
        bounds = f"H, W >= {low_h}" if low_h == low_w else f"H >= {low_h}, W >= {low_w}"
        empty = " (empty)" if height * width == 0 else ""
        raise error(f"{name} must be at least {low_h}x{low_w} pixels ({bounds}){hint}, got {height}x{width}{empty}")
    return height, width


def check_hw(size: Any, name: str = "size", *, error: type[Exception] = ValueError) -> tuple[int, int]:
    """The one size check: ``(height, width)`` of positive ints (any pair of int-like values), or ``error``."""
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise error(f"{name} must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise error(f"{name} must be positive (height, width), got {height}x{width}")
    return height, width
