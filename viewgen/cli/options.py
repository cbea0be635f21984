"""Argument types shared by the ``viewgen`` subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def size_type(min_side: int, max_side: int, max_pixels: int | None = None) -> Callable[[str], tuple[int, int]]:
    """An argparse ``type`` for ``HxW`` sizes: ``"160x256"`` -> ``(160, 256)`` within the limits."""
    def parse_size(text: str) -> tuple[int, int]:
        parts = text.lower().split("x")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise argparse.ArgumentTypeError(f"size must look like HxW (e.g. 320x512), got {text!r}")
        height, width = (int(part) for part in parts)
        too_many = max_pixels is not None and height * width > max_pixels
        if min(height, width) < min_side or max(height, width) > max_side or too_many:
            limit = f" and at most {max_pixels:,} pixels" if max_pixels is not None else ""
            raise argparse.ArgumentTypeError(f"size {height}x{width} is out of range: each side must be in "
                                             f"[{min_side}, {max_side}] pixels{limit}")
        return height, width
    return parse_size


MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 64 bits


def seed_type(text: str) -> int:
    """An argparse ``type`` for ``--seed``: a whole number from 0 to ``2**64 - 1``."""
    try:
        seed = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a whole number, got {text!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed must be between 0 and {MAX_SEED} (64 bits), got {text}")
    return seed


def count_type(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for counts: a whole number >= ``minimum`` (and <= ``maximum`` when given)."""
    def parse_count(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between {minimum} and {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse_count
