"""3x3 convolutions by Winograd's minimal filtering F(4x4, 3x3): 4x fewer multiplications on a CPU.

A stride-1 3x3 convolution computes each 4x4 block of output pixels from a 6x6 block of input.
Winograd's algorithm maps the input block and the 3x3 kernel into a 6x6 "transform domain"
where the convolution becomes 36 independent products, one per transform position; summed over
input channels, those are 36 matrix products ``[K, C] @ [C, tiles]``, after which a fixed linear
map turns each 6x6 result back into 4x4 output pixels. Multiply-adds per output pixel and
channel pair: 36 / 16 = 2.25 instead of 9.

Why written here: PyTorch's CPU convolutions (oneDNN on AVX2) run the direct algorithm, and
Infinite Nature's refiner is bound by its ~37 G multiply-adds, nearly all in 3x3 convolutions
(docs/speed.md). No maintained library offers a Winograd convolution for PyTorch on CPU without
a compiler at run time. The three stages are each one standard, well-optimized PyTorch call:

1. input transform: a strided convolution of every input channel (as its own batch item) with
   the 36 fixed 6x6 filters ``B^T ⊗ B^T`` (stride 4), giving ``[C, 36, tiles]``;
2. the 36 products: one ``torch.bmm`` with the transformed kernels ``U [36, K, C]``, computed
   once per weight (:func:`winograd_kernel`, in float64);
3. output transform: one matrix product with ``A^T ⊗ A^T [16, 36]``, then a pixel shuffle.

Accuracy: the interpolation points 0, ±1, ±2 and infinity keep the transforms' entries small; in
float32 a layer differs from the direct convolution by about 1e-5 relative to its outputs
(tests/networks/test_winograd.py). Speed depends on the map size and the channel counts: the
transforms are memory passes, so small maps and thin layers gain nothing; :func:`winograd_pays`
says when to use it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

import torch
import torch.nn.functional as F

ConvAlgorithm = Literal["winograd", "direct"]
CONV_ALGORITHMS: tuple[ConvAlgorithm, ...] = ("winograd", "direct")

TILE = 4  # output pixels per tile side
WINDOW = TILE + 2  # input pixels per tile side for a 3x3 kernel
# When it pays, measured per layer on our 2-core AVX2 CPUs (benchmarks/winograd.py, docs/speed.md):
# 1.4-2.2x faster from 40x64 maps up when C K / (C + K) >= 48; slower at 10x16 and for thin layers
# (64 -> 32: 0.6x). 20x32 maps gain 1.4-2x too, but little time (4-7% of Infinite Nature's
# generator) for much memory (72 MiB of transformed kernels on top of 45), so they stay direct.
MIN_PIXELS = 40 * 64
MIN_INTENSITY = 48
KERNEL_CHUNK = 64  # output channels per float64 step of winograd_kernel
BAND_BYTES = 16 << 20  # the transforms run over bands of tile rows whose buffers stay under this

# F(4, 3) with interpolation points 0, 1, -1, 2, -2 and infinity.
_INPUT_T = (  # B^T [6, 6]: input block -> transform domain
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
_KERNEL_T = (  # G [6, 3]: 3-tap kernel -> transform domain
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
_OUTPUT_T = (  # A^T [4, 6]: transform domain -> 4 output pixels
    (1, 1, 1, 1, 1, 0),
    (0, 1, -1, 2, -2, 0),
    (0, 1, 1, 4, 4, 0),
    (0, 1, -1, 8, -8, 1),
)


def winograd_pays(x: torch.Tensor, weight: torch.Tensor, out_channels: int | None = None) -> bool:
    """True when :func:`winograd_conv3x3` should replace ``F.conv2d(x, weight)`` (same padding, stride 1).

    Only inside ``conv_algorithm("winograd")`` (the default), for inference (gradients off:
    ``torch.no_grad`` or ``torch.inference_mode``; CPU autocast off) on a CPU in float32/float64,
    with a 3x3 kernel, on maps of at least :data:`MIN_PIXELS` pixels, and for layers whose channel
    intensity ``C K / (C + K)`` reaches :data:`MIN_INTENSITY` (the transforms cost in proportion to
    C + K, the products to C K).
    ``x [B, C, H, W]`` (unpadded); ``out_channels`` defaults to ``weight``'s (give the joined
    count when several layers share one call).
    """
    if _ALGORITHM.get() != "winograd" or torch.is_grad_enabled() or torch.is_autocast_enabled("cpu"):
        return False
    in_channels = weight.shape[1]
    out_channels = out_channels or weight.shape[0]
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and weight.shape[-2:] == (3, 3)
        and x.shape[-2] * x.shape[-1] >= MIN_PIXELS
        and in_channels * out_channels >= MIN_INTENSITY * (in_channels + out_channels)
    )


def winograd_kernel(weight: torch.Tensor) -> torch.Tensor:
    """Transform ``weight [K, C, 3, 3]`` into ``U [36, K, C]`` (``G w G^T`` per channel pair).

    Computed in float64, a few output channels at a time (the float64 copies of a large layer
    would otherwise outweigh the result), and returned in ``weight``'s dtype: the transform adds
    no rounding of its own beyond the final cast.
    """
    kernel_t = torch.tensor(_KERNEL_T, dtype=torch.float64, device=weight.device)
    out_channels, in_channels = weight.shape[:2]
    kernel = weight.new_empty(WINDOW * WINDOW, out_channels, in_channels)
    for first in range(0, out_channels, KERNEL_CHUNK):
        chunk = weight[first : first + KERNEL_CHUNK].detach().double()
        transformed = torch.einsum("ar,kcrs,bs->abkc", kernel_t, chunk, kernel_t)
        kernel[:, first : first + KERNEL_CHUNK] = transformed.reshape(WINDOW * WINDOW, -1, in_channels)
    return kernel


@functools.lru_cache(maxsize=8)
def _transforms(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(input filters ``[36, 1, 6, 6]``, output map ``[16, 36]``) in ``dtype`` on ``device``."""
    input_t = torch.tensor(_INPUT_T, dtype=torch.float64)
    output_t = torch.tensor(_OUTPUT_T, dtype=torch.float64)
    input_filters = torch.einsum("ar,bs->abrs", input_t, input_t).reshape(WINDOW * WINDOW, 1, WINDOW, WINDOW)
    output_map = torch.einsum("pa,qb->pqab", output_t, output_t).reshape(TILE * TILE, WINDOW * WINDOW)
    return input_filters.to(dtype=dtype, device=device), output_map.to(dtype=dtype, device=device)


def winograd_conv3x3(padded: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A VALID 3x3 convolution of an already padded input, by F(4x4, 3x3).

    Args:
        padded: ``[B, C, H + 2, W + 2]`` input, padded by the caller (zeros, reflect, ...).
        kernel: ``[36, K, C]`` from :func:`winograd_kernel`.
        bias: optional ``[K]``.

    Returns:
        ``[B, K, H, W]``, equal to ``F.conv2d(padded, weight, bias)`` up to float rounding.
    """
    windows_match = kernel.dim() == 3 and kernel.shape[0] == WINDOW * WINDOW
    if padded.dim() != 4 or not windows_match or kernel.shape[2] != padded.shape[1] or min(padded.shape[-2:]) < 3:
        raise ValueError(f"winograd_conv3x3: input {tuple(padded.shape)} and kernel {tuple(kernel.shape)} do not match")
    batch, channels, padded_h, padded_w = padded.shape
    height, width = padded_h - 2, padded_w - 2
    tiles_h, tiles_w = -(-height // TILE), -(-width // TILE)
    extra_h, extra_w = tiles_h * TILE - height, tiles_w * TILE - width
    if extra_h or extra_w:  # whole tiles: zeros past the bottom/right edge, cropped at the end
        padded = F.pad(padded, (0, extra_w, 0, extra_h))
    out_channels = kernel.shape[1]
    out = padded.new_empty(batch, out_channels, tiles_h * TILE, tiles_w * TILE)
    row_bytes = WINDOW * WINDOW * max(channels, out_channels) * tiles_w * padded.element_size()
    rows_per_band = max(1, BAND_BYTES // row_bytes)
    for image, image_out in zip(padded, out):
        for first in range(0, tiles_h, rows_per_band):
            last = min(first + rows_per_band, tiles_h)
            _conv_band(image[:, first * TILE : last * TILE + 2], kernel, image_out[:, first * TILE : last * TILE])
    if extra_h or extra_w:
        out = out[..., :height, :width].contiguous()
    return out if bias is None else out.add_(bias.view(1, -1, 1, 1))


def _conv_band(padded_rows: torch.Tensor, kernel: torch.Tensor, out_rows: torch.Tensor) -> None:
    """One band of tile rows: ``padded_rows [C, 4 n + 2, 4 m + 2]`` -> ``out_rows [K, 4 n, 4 m]`` (written)."""
    out_channels, band_h, band_w = out_rows.shape
    tiles_h, tiles_w = band_h // TILE, band_w // TILE
    input_filters, output_map = _transforms(padded_rows.dtype, padded_rows.device)
    # 1. [C, 36, tiles]: every channel through the 36 fixed 6x6 filters, one tile per stride.
    transformed = F.conv2d(padded_rows[:, None], input_filters, stride=TILE).flatten(2)
    # 2. [36, K, tiles]: per transform position, sum over input channels.
    products = torch.bmm(kernel, transformed.transpose(0, 1))
    # 3. [4, 4, K, n, m] -> [K, n, 4, m, 4]: 4x4 output pixels per tile.
    blocks = torch.mm(output_map, products.view(WINDOW * WINDOW, -1)).view(TILE, TILE, out_channels, tiles_h, tiles_w)
    out_rows.view(out_channels, tiles_h, TILE, tiles_w, TILE).copy_(blocks.permute(2, 3, 0, 4, 1))


class KernelCache:
    """The transformed kernel (and joined bias) of one layer, remade when its weights change.

    ``get(weights, biases)`` joins several layers' weights along the output channels (e.g. a
    SPADE's gamma and beta convolutions, which read the same input: one transform of the input
    serves both). The cache keeps a copy of the weights it was made from and compares their values
    on every call, so any change is seen: in place, through ``.data``, by a fused optimizer, by
    ``.to``, or a replaced parameter. (A comparison reads the weights once, ~1 ms per frame for
    Infinite Nature's generator; its copies hold ~12 MB.) Copies of a module (``deepcopy``,
    pickling) start with an empty cache.
    """

    def __init__(self) -> None:
        # (copies of the sources, (kernel, bias)), replaced whole so threads sharing a layer never see a mix
        self._entry: tuple[tuple, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    def get(
        self, weights: tuple[torch.Tensor, ...], biases: tuple[torch.Tensor | None, ...]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(kernel [36, sum K, C], bias [sum K] or None)`` for ``weights [K_i, C, 3, 3]``; the biases must be
        all given or all ``None``."""
        if len({b is None for b in biases}) > 1:
            raise ValueError("KernelCache.get: give every joined layer's bias, or none")
        sources = (*weights, *biases)
        entry = self._entry
        if entry is not None and _same_values(sources, entry[0]):
            return entry[1]
        with torch.no_grad():
            kernel = winograd_kernel(torch.cat(weights) if len(weights) > 1 else weights[0])
            bias = None if biases[0] is None else torch.cat([b.detach() for b in biases])
            copies = tuple(None if t is None else t.detach().clone() for t in sources)
        value = (kernel, bias)
        self._entry = (copies, value)
        return value

    def __getstate__(self) -> dict:
        return {"_entry": None}

    def __deepcopy__(self, memo: dict) -> KernelCache:
        return KernelCache()


def _same_values(tensors: tuple, copies: tuple) -> bool:
    """Each tensor equal to its kept copy (same shape, dtype, device and values); ``None`` matches ``None``."""
    if len(tensors) != len(copies):
        return False
    for tensor, copy in zip(tensors, copies):
        if tensor is None or copy is None:
            if tensor is not copy:
                return False
        elif (tensor.shape != copy.shape or tensor.dtype != copy.dtype or tensor.device != copy.device
              or not torch.equal(tensor.detach(), copy)):
            return False
    return True


_ALGORITHM: ContextVar[ConvAlgorithm] = ContextVar("viewgen_conv_algorithm", default="winograd")


@contextmanager
def conv_algorithm(algorithm: ConvAlgorithm) -> Iterator[None]:
    """Within the block, convolve by ``algorithm`` (like ``torch.autocast``: scoped, per thread).

    ``"winograd"`` (the default everywhere) lets the layers that support it use
    :func:`winograd_conv3x3` where :func:`winograd_pays`; ``"direct"`` keeps PyTorch's own
    convolution, bit-identical to viewgen before Winograd was added.
    """
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"conv algorithm must be one of {', '.join(CONV_ALGORITHMS)}, not {algorithm!r}")
    token = _ALGORITHM.set(algorithm)
    try:
        yield
    finally:
        _ALGORITHM.reset(token)
