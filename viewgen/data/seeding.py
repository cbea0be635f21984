"""One seeded random stream per item: ``item_generator(seed, index)``.

Datasets and samplers whose every item (a scene, a window, an epoch's order) must be a pure
function of ``(seed, index)`` draw from a ``torch.Generator`` seeded by mixing the two; the mix
stays within 64 bits for any seed the CLI accepts (``0 .. 2**64 - 1``).
"""

from __future__ import annotations

import torch

__all__ = ["item_generator"]


def item_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator seeded by ``(seed * 1_000_003 + index) mod 2**63``."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(index)) % 2**63)
