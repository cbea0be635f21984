"""``viewgen eval --lpips require|auto|off``: the LPIPS network for protocol (a), or why there is none.

The AlexNet backbone is looked up in viewgen's cache and torch.hub's checkpoints, never
downloaded here (``viewgen download lpips-alexnet`` fetches it). ``auto`` goes on without LPIPS,
printing one ``viewgen: note: ...`` line on stderr; ``require`` stops with a one-line error.
"""

from __future__ import annotations

import sys

__all__ = ["resolve_lpips"]

COMMAND = "viewgen download lpips-alexnet"


def _missing_reason() -> str | None:
    """Why the AlexNet weights cannot be used (None when they are here)."""
    from viewgen.evaluation.perceptual import ALEXNET_WEIGHTS, find_local_weights, torch_hub_checkpoints
    from viewgen.hub import weights_dir

    if find_local_weights(ALEXNET_WEIGHTS) is not None:
        return None
    return (f"the AlexNet weights ({ALEXNET_WEIGHTS.filename}) are in neither {weights_dir()} "
            f"nor {torch_hub_checkpoints()}; "
            f"run `{COMMAND}`")


def resolve_lpips(mode: str, size: tuple[int, int]):
    """``(model, None)`` when LPIPS is scored; ``(None, reason)`` when not (``mode`` ``auto`` / ``off``).

    Raises :class:`~viewgen.errors.ViewgenRuntimeError` (one line) in ``require`` mode when it cannot be.
    """
    from viewgen.errors import ViewgenError, ViewgenRuntimeError
    from viewgen.evaluation.perceptual import LPIPS_MIN_SIZE, load_lpips

    if mode == "off":
        return None, "turned off (--lpips off)"
    reason = _missing_reason()
    if reason is None and min(size) < LPIPS_MIN_SIZE:
        reason = f"the resolution {size[0]}x{size[1]} is below LPIPS's {LPIPS_MIN_SIZE}x{LPIPS_MIN_SIZE}"
    if reason is None:
        try:
            return load_lpips(download=False), None
        except (ViewgenError, ValueError, OSError) as error:  # a corrupt or mismatched file: its one line
            reason = str(error)
    if mode == "require":
        raise ViewgenRuntimeError(f"--lpips require: cannot score LPIPS: {reason}")
    print(f"viewgen: note: LPIPS not scored: {reason}", file=sys.stderr)
    return None, reason
