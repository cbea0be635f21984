"""The one check that a device name can be used by this torch, before anything is built on it.

``torch.device("cuda")`` succeeds on a CPU-only build; the failure comes later, as an
``AssertionError`` ("Torch not compiled with CUDA enabled") from the first tensor made there.
:func:`usable_device` makes an empty tensor on the device at once and turns any failure into
one ``ValueError`` line that names the fix.
"""

from __future__ import annotations

import torch

from viewgen.errors import one_line

__all__ = ["usable_device"]


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
