"""LPIPS from local files: random AlexNet weights in torchvision's key format in a temporary VIEWGEN_HOME."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.perceptual import random_alexnet_state
from viewgen.evaluation.perceptual import ALEXNET_WEIGHTS, load_lpips, lpips
from viewgen.hub import WeightsNotFoundError
from viewgen.networks import StateDictMismatchError

pytest.importorskip("torchmetrics")


@pytest.fixture
def weights_home(tmp_path, monkeypatch):
    """An offline VIEWGEN_HOME holding random AlexNet weights under the official file name."""
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    folder = tmp_path / "home" / "weights"
    folder.mkdir(parents=True)
    torch.save(random_alexnet_state(), folder / ALEXNET_WEIGHTS.filename)
    return folder


@pytest.fixture
def model(weights_home):
    return load_lpips()


def _images(seed: int, batch: int = 2, size: int = 48) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_identical_images_score_zero(model):
    image = _images(1)
    assert torch.allclose(lpips(image, image.clone(), model=model), torch.zeros(2), atol=1e-6)


def test_symmetric_positive_per_image(model):
    a, b = _images(1), _images(2)
    ab, ba = lpips(a, b, model=model), lpips(b, a, model=model)
    assert ab.shape == (2,)
    assert torch.allclose(ab, ba, rtol=1e-5, atol=1e-7)
    assert (ab > 0).all()
    # per image: the first pair scores the same alone as in the batch
    assert torch.allclose(lpips(a[:1], b[:1], model=model), ab[:1], rtol=1e-5, atol=1e-7)


def test_deterministic_and_loads_from_the_cache(weights_home):
    a, b = _images(3), _images(4)
    first = lpips(a, b)  # loads the cached file itself
    assert torch.equal(first, lpips(a, b, model=load_lpips()))


def test_matches_torchmetrics_lpips_with_our_backbone(model, monkeypatch):
    """torchmetrics' LPIPS driven with our AlexNet (its own needs torchvision) gives the same numbers."""
    import torchmetrics.functional.image.lpips as tm_lpips

    backbone = model.backbone

    class OurAlexnet(torch.nn.Module):
        def __init__(self, requires_grad: bool = False, pretrained: bool = True) -> None:
            super().__init__()
            self.inner = backbone

        def forward(self, x):
            return self.inner(x)

    monkeypatch.setattr(tm_lpips, "Alexnet", OurAlexnet)
    reference = tm_lpips._LPIPS(pretrained=True, net="alex", pnet_rand=True)
    a, b = _images(5), _images(6)
    expected = reference(a, b, normalize=True).reshape(-1)
    assert torch.allclose(lpips(a, b, model=model), expected, rtol=1e-4, atol=1e-6)


def test_uses_torch_hub_checkpoints(tmp_path, monkeypatch):
    """A file torchvision/lpips already fetched into $TORCH_HOME/hub/checkpoints is used where it is."""
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(random_alexnet_state(), folder / ALEXNET_WEIGHTS.filename)
    assert (lpips(_images(1), _images(2)) > 0).all()


def test_missing_weights_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as caught:
        lpips(_images(1), _images(2))
    message = str(caught.value)
    assert "\n" not in message
    assert ALEXNET_WEIGHTS.filename in message
    assert ALEXNET_WEIGHTS.urls[0] in message
    assert str(tmp_path / "empty" / "weights") in message


def test_mismatched_weights_list_every_key(tmp_path):
    state = random_alexnet_state()
    del state["features.10.bias"]
    state["features.99.weight"] = torch.zeros(1)
    state["features.3.weight"] = torch.zeros(7, 64, 5, 5)
    path = tmp_path / "alexnet.pth"
    torch.save(state, path)
    with pytest.raises(StateDictMismatchError) as caught:
        load_lpips(path)
    message = str(caught.value)
    for name in ("features.10.bias", "features.99.weight", "features.3.weight", "alexnet.pth"):
        assert name in message


@pytest.mark.parametrize(
    ("image", "target", "needle"),
    [
        (torch.rand(2, 1, 48, 48), torch.rand(2, 1, 48, 48), "image must be"),
        (torch.rand(2, 3, 48, 48), torch.rand(2, 3, 40, 48), "target must be"),
        (torch.rand(1, 3, 20, 48), torch.rand(1, 3, 20, 48), "at least 31x31"),
    ],
)
def test_bad_input_one_line(model, image, target, needle):
    with pytest.raises(ValueError) as caught:
        lpips(image, target, model=model)
    assert needle in str(caught.value) and "\n" not in str(caught.value)
