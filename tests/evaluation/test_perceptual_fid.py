"""FID and KID through torchmetrics with our FID Inception, on random weights in pytorch-fid's key format."""

from __future__ import annotations

import math

import pytest
import torch

from viewgen.evaluation.perceptual import FID_INCEPTION_WEIGHTS, fid, kid, load_fid_inception
from viewgen.hub import WeightsNotFoundError
from viewgen.networks import StateDictMismatchError
from viewgen.networks.perceptual import FidInception, FidInceptionConfig

pytest.importorskip("torchmetrics")
SMALL = FidInceptionConfig(input_size=75)  # the graph's smallest input: fast on CPU


def _random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in pytorch-fid's names, without ``num_batches_tracked`` (as old files), a small ``fc``.

    The convolutions get He-normal weights so that the 2048 features still vary with the input after
    ~90 layers (PyTorch's default init shrinks them to nothing).
    """
    torch.manual_seed(seed)
    state = {key: value for key, value in FidInception().state_dict().items()
             if not key.endswith("num_batches_tracked")}
    for key, value in state.items():
        if key.endswith("conv.weight"):
            torch.nn.init.kaiming_normal_(value, nonlinearity="relu")
    state["fc.weight"], state["fc.bias"] = torch.randn(4, 8), torch.randn(4)  # the real one is 1008x2048
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("home") / "weights"
    folder.mkdir()
    path = folder / FID_INCEPTION_WEIGHTS.filename
    torch.save(_random_state(), path)
    return path


@pytest.fixture(scope="module")
def model(weights_file):
    return load_fid_inception(weights_file, config=SMALL)


def _set(seed: int, count: int = 6, size: int = 40, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_features_shape_and_determinism(model):
    images = _set(1, count=3)
    with torch.no_grad():
        first = model(images)
        assert first.shape == (3, 2048)
        assert torch.equal(first, model(images))


def test_fid_of_a_set_with_itself_is_near_zero(model):
    images = _set(1)
    same = fid(images, images.clone(), model=model)
    other = fid(images, _set(2, scale=0.2), model=model)
    assert same.ndim == 0 and abs(same.item()) < 1e-2 * max(other.item(), 1e-6)
    assert other > 1.0


def test_kid_is_finite_and_seeded(model):
    images, reference = _set(3), _set(4, count=5, scale=0.3)
    mean, std = kid(images, reference, model=model, subsets=5)
    assert math.isfinite(mean.item()) and math.isfinite(std.item()) and mean > 0
    again = kid(images, reference, model=model, subsets=5)
    assert torch.equal(mean, again[0]) and torch.equal(std, again[1])


def test_loads_from_the_cache(weights_file, monkeypatch):
    monkeypatch.setenv("VIEWGEN_HOME", str(weights_file.parent.parent))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    assert isinstance(load_fid_inception(config=SMALL), FidInception)


def test_missing_weights_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as caught:
        fid(_set(1), _set(2))
    message = str(caught.value)
    assert "\n" not in message and FID_INCEPTION_WEIGHTS.filename in message
    assert FID_INCEPTION_WEIGHTS.urls[0] in message and str(tmp_path / "empty" / "weights") in message


def test_mismatched_weights_list_every_key():
    state = _random_state()
    del state["Mixed_7c.branch_pool.bn.running_var"]
    state["Mixed_8a.conv.weight"] = torch.zeros(1)
    with pytest.raises(StateDictMismatchError) as caught:
        FidInception.from_state_dict(state, source="broken.pth")
    message = str(caught.value)
    assert "Mixed_7c.branch_pool.bn.running_var" in message and "Mixed_8a.conv.weight" in message


def test_bad_input_one_line(model):
    with pytest.raises(ValueError, match="at least 2 images") as caught:
        fid(_set(1, count=1), _set(2), model=model)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="reference must be"):
        kid(_set(1), torch.rand(4, 1, 40, 40), model=model)
    with pytest.raises(ValueError, match="input size"):
        FidInceptionConfig(input_size=32)


def test_long_range_pools_its_sets_for_fid_and_kid(model):
    from types import SimpleNamespace

    from viewgen.evaluation.perceptual import perceptual_scores

    def case(seed: int) -> SimpleNamespace:
        flight, truth = (_set(seed + offset, count=4, size=32) for offset in (0, 100))
        as_uint8 = [(images * 255).round().to(torch.uint8) for images in (flight, truth)]
        return SimpleNamespace(set_frames=tuple(as_uint8))

    scores = perceptual_scores([case(0), case(1), SimpleNamespace(set_frames=None)], model)
    assert scores["images"] == 8 and math.isfinite(scores["fid"]) and scores["fid"] > 0
    assert math.isfinite(scores["kid_mean"]) and scores["kid_std"] >= 0
    assert perceptual_scores([case(0)], None, "no weights") == {"fid": None, "kid": None, "fid_reason": "no weights"}
