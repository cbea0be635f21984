"""The registry, the shared normalization and resizing, the file backend and the color preview."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viewgen.depth import (
    DEFAULT_BACKEND,
    DepthError,
    DepthEstimator,
    UnknownBackendError,
    available_backends,
    backend_info,
    check_image,
    download_backend,
    estimate_disparity,
    get_estimator,
    normalize_disparity,
    resize_disparity,
)
from viewgen.depth.colormap import colorize_disparity
from viewgen.io.images import write_disparity_png16


def test_backends_and_default():
    assert available_backends() == ("midas-v21", "midas-v21-small", "dpt-hybrid", "dpt-large",
                                    "depth-anything-v2-small", "depth-anything-v2-base", "depth-anything-v2-large",
                                    "file")
    assert DEFAULT_BACKEND == "midas-v21"
    assert backend_info("file:/x/y.png").name == "file"
    assert backend_info("dpt-large").requires == "depth"


def test_unknown_backend_is_a_one_line_value_error():
    with pytest.raises(UnknownBackendError) as caught:
        get_estimator("midas-v3")
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == ("unknown depth backend 'midas-v3'; choose one of midas-v21, midas-v21-small, "
                                 "dpt-hybrid, dpt-large, depth-anything-v2-small, depth-anything-v2-base, "
                                 "depth-anything-v2-large, file")
    with pytest.raises(DepthError, match="needs a path"):
        get_estimator("file:")
    with pytest.raises(DepthError, match="nothing to download"):
        download_backend("file")


def test_cuda_requested_without_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    np.save(tmp_path / "d.npy", np.ones((4, 4), np.float32))
    with pytest.raises(DepthError, match="CUDA is not available"):
        get_estimator(f"file:{tmp_path / 'd.npy'}", device="cuda")


def test_importing_depth_does_not_import_transformers():
    code = "import sys, viewgen.depth; viewgen.depth.available_backends(); print('transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------------------- normalization


def test_minmax_is_per_image_and_exact():
    raw = torch.stack([torch.linspace(2, 5, 12).view(1, 3, 4), torch.linspace(-1, 9, 12).view(1, 3, 4)])
    out = normalize_disparity(raw)
    assert out.shape == raw.shape
    for index in range(2):
        assert float(out[index].min()) == 0.0 and float(out[index].max()) == 1.0
    torch.testing.assert_close(out[0], (raw[0] - 2) / 3)


def test_percentile_clips_outliers():
    raw = torch.linspace(0, 1, 1000).view(1, 1, 10, 100).clone()
    raw[0, 0, 0, 0] = -50.0  # one extreme pixel
    raw[0, 0, -1, -1] = 80.0
    minmax = normalize_disparity(raw, "minmax")
    robust = normalize_disparity(raw, "percentile")
    assert float(robust.min()) == 0.0 and float(robust.max()) == 1.0
    assert float(robust.mean()) == pytest.approx(0.51, abs=0.02)  # the bulk spans [0, 1]
    bulk = minmax.flatten()[1:-1]
    assert float(bulk.max() - bulk.min()) < 0.01  # min-max squashed the bulk into a sliver
    p1, p97 = np.percentile(raw.numpy(), [1, 97])
    expected = np.clip((raw.numpy() - p1) / (p97 - p1), 0, 1)
    np.testing.assert_allclose(robust.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("normalization", ["minmax", "percentile"])
def test_constant_estimate_becomes_a_flat_plane(normalization):
    raw = torch.cat([torch.full((1, 1, 5, 6), 3.0), torch.rand(1, 1, 5, 6)])
    out = normalize_disparity(raw, normalization)
    assert torch.all(out[0] == 0.5)
    assert float(out[1].min()) == 0.0 and float(out[1].max()) == 1.0


def test_none_normalization_and_errors():
    raw = torch.tensor([[[[-0.5, 0.3], [0.7, 1.5]]]])
    torch.testing.assert_close(normalize_disparity(raw, "none"), raw.clamp(0, 1))
    with pytest.raises(DepthError, match="unknown normalization 'zscore'"):
        normalize_disparity(raw, "zscore")
    with pytest.raises(DepthError, match="NaN or infinite"):
        normalize_disparity(torch.tensor([[[[1.0, float("inf")]]]]))


def test_resize_uses_area_when_shrinking():
    d = torch.rand(1, 1, 8, 12)
    torch.testing.assert_close(resize_disparity(d, (4, 6)), F.avg_pool2d(d, 2))
    up = resize_disparity(d, (16, 30))
    assert up.shape == (1, 1, 16, 30) and 0 <= float(up.min()) and float(up.max()) <= 1
    assert resize_disparity(d, (8, 12)) is d
    with pytest.raises(DepthError, match="positive"):
        resize_disparity(d, (0, 4))


def test_check_image():
    grey = torch.rand(2, 1, 4, 5)
    assert check_image(grey).shape == (2, 3, 4, 5)
    assert check_image(torch.rand(3, 4, 5)).shape == (1, 3, 4, 5)
    torch.testing.assert_close(check_image(torch.full((1, 3, 2, 2), 1.0005)), torch.ones(1, 3, 2, 2))
    for bad, pattern in [
        (torch.rand(1, 4, 5, 5), "got shape"),
        ((torch.rand(1, 3, 5, 5) * 255).byte(), "uint8"),
        (torch.rand(1, 3, 5, 5) * 255, "divide 0-255"),
        (torch.full((1, 3, 5, 5), float("nan")), "NaN"),
        (np.zeros((5, 5, 3)), "torch.Tensor"),
    ]:
        with pytest.raises(DepthError, match=pattern):
            check_image(bad)


# ----------------------------------------------------------------------------- file backend


def test_file_backend_npy_and_png(tmp_path):
    ramp = np.linspace(0.2, 0.8, 6 * 8, dtype=np.float32).reshape(6, 8)
    np.save(tmp_path / "d.npy", ramp[None])
    image = torch.rand(2, 3, 12, 16)
    estimator = get_estimator(f"file:{tmp_path / 'd.npy'}")
    assert isinstance(estimator, DepthEstimator)
    assert estimator.input_size(12, 16) == (6, 8)
    out = estimator(image)
    assert out.shape == (2, 1, 12, 16)
    torch.testing.assert_close(out[0], out[1])
    kept = estimator(image, size=(6, 8), normalization="none")
    torch.testing.assert_close(kept[0, 0], torch.from_numpy(ramp))
    write_disparity_png16(tmp_path / "d.png", torch.from_numpy(ramp))
    from_png = get_estimator("file", weights=tmp_path / "d.png")(image, size=(6, 8), normalization="none")
    torch.testing.assert_close(from_png[0, 0], torch.from_numpy(ramp), atol=1 / 65535, rtol=0)
    via_estimate = estimate_disparity(image, f"file:{tmp_path / 'd.png'}", size=(3, 4))
    assert via_estimate.shape == (2, 1, 3, 4)


def test_file_backend_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_estimator(f"file:{tmp_path / 'missing.npy'}")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4), np.float32))
    with pytest.raises(DepthError, match=r"must be an \[H, W\] disparity map"):
        get_estimator(f"file:{tmp_path / 'cube.npy'}")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DepthError, match="cannot read objects.npy"):
        get_estimator(f"file:{tmp_path / 'objects.npy'}")
    nan = np.ones((3, 3), np.float32)
    nan[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(DepthError, match="NaN"):
        get_estimator(f"file:{tmp_path / 'nan.npy'}")
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(DepthError, match=".npy or .png"):
        get_estimator(f"file:{tmp_path / 'd.txt'}")
    with pytest.raises(DepthError, match="needs a disparity file"):
        get_estimator("file")
    with pytest.raises(DepthError, match="not both"):
        get_estimator(f"file:{tmp_path / 'cube.npy'}", weights=tmp_path / "cube.npy")


def test_colorize_disparity():
    d = torch.linspace(0, 1, 20).view(1, 1, 4, 5)
    rgb = colorize_disparity(d)
    assert rgb.shape == (1, 3, 4, 5) and 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    far, near = colorize_disparity(torch.tensor([0.1, 0.9]).view(1, 1, 1, 2))[0, :, 0].T
    assert far[2] > far[0] + 0.3 and near[0] > near[2] + 0.3  # far is blue, near is red
    assert colorize_disparity(torch.rand(4, 5)).shape == (1, 3, 4, 5)
