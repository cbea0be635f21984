"""Size limits of every file input, in one place, and the check that applies them before decoding.

A small file can describe a huge image: a 445 KB PNG of 12000 x 12000 pixels, or a 2 MB
``.npz`` holding an 8000 x 8000 array of zeros, decodes to gigabytes. So every reader looks at
the size written in the file's header first, refuses anything above these limits with one
line that names the file, and shrinks what it keeps to the working size while the pixels are
still 8- or 16-bit (or, for RGBD arrays, before any copy in another precision).

=========================  ==============  =====================================================
limit                      value           applies to
=========================  ==============  =====================================================
``MAX_IMAGE_PIXELS``       50 Mpx          photos (PNG, JPEG, ...): ``viewgen fly``, ``depth``,
                                           ``export-mesh``, :func:`viewgen.io.images.load_image`
``MAX_ARRAY_PIXELS``       4096 x 4096     RGBD ``.npz`` / ``.npy`` / ``.pkl`` and ``file:``
                                           disparity maps (one value per pixel and channel)
``WORKING_MAX_SIDE``       2048            inputs of ``fly`` / ``export-mesh`` are shrunk so
                                           their longer side is at most this (``fly --size``
                                           allows at most 2048 too)
``MAX_MESH_SIDE``          2048            ``export-mesh``: the longest grid side it writes
                                           (default ``--max-side`` 1024)
=========================  ==============  =====================================================

50 Mpx is more than most cameras take (8700 x 5800); a bigger photo has to be downscaled
first (e.g. ``convert photo.jpg -resize 50% small.jpg``).
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_MESH_SIDE", "MAX_ARRAY_PIXELS", "MAX_IMAGE_PIXELS", "MAX_MESH_SIDE", "WORKING_MAX_SIDE",
           "describe_size", "fit_long_side", "size_problem"]

MAX_IMAGE_PIXELS = 50_000_000
MAX_ARRAY_PIXELS = 4096 * 4096
WORKING_MAX_SIDE = 2048
MAX_MESH_SIDE = 2048
DEFAULT_MESH_SIDE = 1024


def describe_size(height: int, width: int) -> str:
    """``"12000x12000 (144 Mpx)"``: width by height as image viewers show it, and the pixel count."""
    pixels = height * width
    count = f"{pixels / 1e6:.3g} Mpx" if pixels >= 100_000 else f"{pixels} pixels"
    return f"{width}x{height} ({count})"


def size_problem(name: str, height: int, width: int, max_pixels: int) -> str | None:
    """The one-line refusal for an ``height x width`` input above ``max_pixels``, else ``None``."""
    if height * width <= max_pixels:
        return None
    limit = f"{max_pixels / 1e6:.3g} Mpx" if max_pixels >= 100_000 else f"{max_pixels} pixels"
    side = math.isqrt(max_pixels)
    return (f"{name} is {describe_size(height, width)}; the limit is {limit} (e.g. {side}x{side}): "
            f"downscale it first")


def fit_long_side(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """``(height, width)`` scaled (aspect kept, sides >= 1) so the longer side is at most ``max_side``."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
