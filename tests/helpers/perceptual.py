"""Random weights in the official formats of the perceptual networks (no real file can be downloaded here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from viewgen.networks.perceptual import AlexNetFeatures


def random_alexnet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random ``features.*`` in torchvision's names, plus small stand-ins for the ``classifier.*`` entries."""
    torch.manual_seed(seed)
    state = dict(AlexNetFeatures().state_dict())
    for index, shape in ((1, (8, 8)), (4, (8, 8)), (6, (4, 8))):  # the real ones are 4096x9216 etc.
        state[f"classifier.{index}.weight"] = torch.randn(shape)
        state[f"classifier.{index}.bias"] = torch.randn(shape[0])
    return state


def without_weight_files(tmp_path_factory) -> Iterator[None]:
    """For a module fixture: empty viewgen and torch.hub homes, offline, so no perceptual weights are found."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("home")
        patch.setenv("VIEWGEN_HOME", str(home / "viewgen"))
        patch.setenv("TORCH_HOME", str(home / "torch"))
        patch.setenv("VIEWGEN_OFFLINE", "1")
        yield
