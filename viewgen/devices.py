"""The one check that a device name can be used by this torch, before anything is built on it.

``torch.device("cuda")`` succeeds on a CPU-only build; the failure comes later, as an
``AssertionError`` ("Torch not compiled with CUDA enabled") from the first tensor made there.
:func:`usable_device` makes an empty tensor on the device at once and turns any failure into
one ``ValueError`` line that names the fix. :func:`native_bfloat16` says whether bfloat16 arithmetic
pays on a device, and :func:`check_precision` refuses the opt-in ``precision="fast"`` (bfloat16, for
interactive use) where it does not: Infinite Nature's refiner and ENR's renderers take it alike.
"""

from __future__ import annotations

import torch

from viewgen.errors import one_line

__all__ = ["PRECISIONS", "check_precision", "native_bfloat16", "usable_device"]

PRECISIONS = ("exact", "fast")  # float32 as the originals compute, or bfloat16 where it is native


def usable_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` this torch can allocate on; one-line ``ValueError`` otherwise."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(resolved)!r} requested but CUDA is not available to this torch "
                         f"{torch.__version__} (a CPU-only build, or no GPU): use device 'cpu'")
    try:
        torch.empty(0, device=resolved)
    except (AssertionError, RuntimeError) as error:
        raise ValueError(f"device {str(resolved)!r} cannot be used here ({one_line(error, 120)}): "
                         "use device 'cpu'") from None
    return resolved


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 natively: any CUDA device, or a CPU with AVX512-BF16 or AMX tiles.

    Measured on the full-size SPADE generator at 160x256 (docs/speed.md): 1.67x faster than float32 on an
    AMX CPU (channels-last), 250x slower on an AVX2 CPU, which emulates it.
    """
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(check is not None and bool(check()) for check in checks)


def check_precision(precision: str, device: torch.device, what: str = "precision") -> str:
    """``precision`` if it is one of :data:`PRECISIONS` and runs on ``device`` (``"fast"`` needs
    :func:`native_bfloat16`); one-line ``ValueError`` otherwise, ``what`` naming the setting."""
    if precision not in PRECISIONS:
        raise ValueError(f"{what} must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fast" and not native_bfloat16(device):
        raise ValueError(f"{what} 'fast' (bfloat16) needs a CUDA device or a CPU with native bfloat16 (AVX512-BF16 "
                         "or AMX): this one has none (bfloat16 measured 250x slower than float32 on an AVX2 CPU); "
                         "use 'exact'")
    return precision
