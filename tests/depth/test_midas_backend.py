"""``midas-v21`` / ``midas-v21-small`` through get_estimator, with tiny random weights in the real file formats."""

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.helpers.depth import TINY, TINY_LARGE, TINY_SMALL, random_midas, save_checkpoint
from viewgen.depth import DepthError, get_estimator
from viewgen.depth.midas import IMAGENET_MEAN, IMAGENET_STD, MIDAS_VARIANTS, midas_input_size
from viewgen.hub import WeightsFormatError, WeightsNotFoundError

NAMES = ["midas-v21", "midas-v21-small"]


def image(batch=1, height=48, width=80, seed=0):
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny_models():
    return {name: random_midas(config, seed=3) for name, config in TINY.items()}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["plain", "wrapped", "safetensors"])
def test_loads_every_file_format_and_matches_the_network(tmp_path, tiny_models, name, kind):
    model = tiny_models[name]
    path = save_checkpoint(model, tmp_path / ("w.safetensors" if kind == "safetensors" else "w.pt"), kind)
    estimator = get_estimator(name, weights=path, config=TINY[name])
    assert estimator.name == name and estimator.weights_path == path
    x = image()
    size = estimator.input_size(48, 80)
    assert size == (32, 64)  # longer side -> 64, both multiples of 32
    expected = model((F.interpolate(x, size=size, mode="bicubic", align_corners=False)
                      - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    with torch.no_grad():
        torch.testing.assert_close(estimator.predict_raw(x), expected)
    out = estimator(x)
    assert out.shape == (1, 1, 48, 80) and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    native = estimator(x, size=size)  # min-max at the network's size: exactly 0 and 1
    assert float(native.min()) == 0.0 and float(native.max()) == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_weights_from_the_cache_folder(isolated_cache, tiny_models, name):
    spec = MIDAS_VARIANTS[name].weights
    path = save_checkpoint(tiny_models[name], isolated_cache / "weights" / spec.filename)
    estimator = get_estimator(name, config=TINY[name])
    assert estimator.weights_path == path
    # the names upstream's current hubconf uses are accepted too, and safetensors conversions
    path.unlink()
    alias = save_checkpoint(tiny_models[name], isolated_cache / "weights" / spec.aliases[-1])
    assert get_estimator(name, config=TINY[name]).weights_path == alias
    alias.unlink()
    converted = isolated_cache / "weights" / (spec.filename.rsplit(".", 1)[0] + ".safetensors")
    save_checkpoint(tiny_models[name], converted, "safetensors")
    assert get_estimator(name, config=TINY[name]).weights_path == converted


@pytest.mark.parametrize("name", NAMES)
def test_missing_weights_offline_is_one_line_naming_file_url_and_destination(isolated_cache, name):
    spec = MIDAS_VARIANTS[name].weights
    with pytest.raises(WeightsNotFoundError) as caught:
        get_estimator(name)
    message = str(caught.value)
    assert "\n" not in message
    assert spec.filename in message and spec.urls[0] in message
    assert str(isolated_cache / "weights" / spec.filename) in message
    assert f"viewgen download {name}" in message


def test_official_urls_are_the_v2_1_release_assets():
    large, small = MIDAS_VARIANTS["midas-v21"].weights, MIDAS_VARIANTS["midas-v21-small"].weights
    assert large.urls[0] == "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-f6b98070.pt"
    assert "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_384.pt" in large.urls
    assert small.urls[0] == "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small-70d6b9c8.pt"
    assert "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt" in small.urls
    assert (large.sha256_prefix, small.sha256_prefix) == ("f6b98070", "70d6b9c8")


class _Payload:
    """Unpickling this would create a marker file: the loader must refuse it, not run it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"scratch.output_conv.4.bias": _Payload(marker)}, path)
    with pytest.raises(WeightsFormatError) as caught:
        get_estimator("midas-v21", weights=path, config=TINY_LARGE)
    assert "refusing to load evil.pt" in str(caught.value) and "open" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    # an old-style (non-zip) pickle too
    with open(path, "wb") as stream:
        pickle.dump({"a": _Payload(marker)}, stream)
    with pytest.raises(WeightsFormatError):
        get_estimator("midas-v21", weights=path, config=TINY_LARGE)
    assert not marker.exists()


def test_corrupt_truncated_and_foreign_files(tmp_path, tiny_models):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(1000))
    with pytest.raises(WeightsFormatError, match="cannot read junk.pt"):
        get_estimator("midas-v21", weights=junk, config=TINY_LARGE)
    good = save_checkpoint(tiny_models["midas-v21"], tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsFormatError, match="truncated"):
        get_estimator("midas-v21", weights=truncated, config=TINY_LARGE)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(WeightsFormatError, match="safetensors"):
        get_estimator("midas-v21", weights=bad_st, config=TINY_LARGE)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_estimator("midas-v21", weights=tmp_path / "nope.pt", config=TINY_LARGE)


def test_wrong_checkpoint_names_missing_and_unexpected_keys_in_one_line(tmp_path, tiny_models):
    small = save_checkpoint(tiny_models["midas-v21-small"], tmp_path / "small.pt")
    with pytest.raises(WeightsFormatError) as caught:
        get_estimator("midas-v21", weights=small, config=TINY_LARGE)
    message = str(caught.value)
    assert "\n" not in message
    assert "missing keys" in message and "unexpected keys" in message and "more)" in message
    assert "looks like midas-v21-small" in message
    # a shape mismatch (right keys, other widths) is named too
    other = random_midas(TINY_LARGE.__class__(**{**TINY_LARGE.__dict__, "head_channels": 4}))
    with pytest.raises(WeightsFormatError, match="shape mismatches .*scratch.output_conv.0.weight"):
        get_estimator("midas-v21", weights=save_checkpoint(other, tmp_path / "o.pt"), config=TINY_LARGE)


def test_checkpoints_without_num_batches_tracked_load(tmp_path, tiny_models):
    state = {k: v for k, v in tiny_models["midas-v21"].state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pt"
    torch.save(state, path)
    estimator = get_estimator("midas-v21", weights=path, config=TINY_LARGE)
    assert estimator(image()).shape == (1, 1, 48, 80)


@pytest.mark.parametrize("name", NAMES)
def test_determinism_batches_constant_and_nan_images(tmp_path, tiny_models, name):
    path = save_checkpoint(tiny_models[name], tmp_path / "w.pt")
    estimator = get_estimator(name, weights=path, config=TINY[name])
    x = image(batch=2)
    first, second = estimator(x), estimator(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(estimator(x[1:]), first[1:], rtol=1e-5, atol=1e-5)  # each image normalized alone
    flat = estimator(torch.full((1, 3, 40, 40), 0.5))
    assert torch.isfinite(flat).all() and 0 <= float(flat.min()) and float(flat.max()) <= 1
    bad = image()
    bad[0, 1, 3, 4] = float("nan")
    with pytest.raises(DepthError, match="NaN"):
        estimator(bad)
    with pytest.raises(DepthError, match="divide 0-255"):
        estimator(image() * 255)
    out = estimator(image(), size=(30, 20), normalization="percentile")
    assert out.shape == (1, 1, 30, 20) and 0 <= float(out.min()) and float(out.max()) <= 1


@pytest.mark.parametrize(("height", "width", "bound", "expected"), [
    (480, 640, 384, (288, 384)),
    (160, 256, 384, (256, 384)),  # 240 -> round(7.5) * 32 = 256
    (720, 1280, 384, (224, 384)),
    (1000, 1000, 384, (384, 384)),
    (640, 480, 256, (256, 192)),
    (100, 1000, 256, (32, 256)),  # never below 32
    (8, 8, 384, (384, 384)),  # small images are scaled up
])
def test_input_size_follows_upstream_upper_bound_resize(height, width, bound, expected):
    assert midas_input_size(height, width, bound) == expected
    assert midas_input_size(height, width, bound, keep_aspect_ratio=False) == (bound, bound)


def test_square_option_and_device_errors(tmp_path, tiny_models):
    path = save_checkpoint(tiny_models["midas-v21-small"], tmp_path / "w.pt")
    square = get_estimator("midas-v21-small", weights=path, config=TINY_SMALL, keep_aspect_ratio=False)
    assert square.input_size(48, 80) == (64, 64)
    with pytest.raises(DepthError, match="unknown device"):
        get_estimator("midas-v21-small", device="gpu", weights=path, config=TINY_SMALL)
    with pytest.raises(DepthError, match="does not take that option"):
        get_estimator("midas-v21-small", weights=path, config=TINY_SMALL, color="blue")


@pytest.mark.gpu
def test_cuda_matches_cpu(tmp_path, tiny_models):
    path = save_checkpoint(tiny_models["midas-v21"], tmp_path / "w.pt")
    cpu = get_estimator("midas-v21", weights=path, config=TINY_LARGE)
    cuda = get_estimator("midas-v21", device="cuda", weights=path, config=TINY_LARGE)
    x = image()
    out = cuda(x.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), cpu(x), rtol=1e-3, atol=1e-3)


def test_download_false_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    with pytest.raises(WeightsNotFoundError, match="downloads disabled"):
        get_estimator("midas-v21-small", download=False)
    np.save(tmp_path / "d.npy", np.ones((3, 3), np.float32))
    assert get_estimator(f"file:{tmp_path / 'd.npy'}", download=False).name == "file"
