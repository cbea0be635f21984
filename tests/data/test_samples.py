import pytest
import torch

from viewgen.data.samples import SAMPLE_NAMES, load_sample, sample_metadata
from viewgen.io.rgbd_files import RGBDInput, validate_rgbd


@pytest.mark.parametrize("key", [1, 2, 3, "coast", "hills", "mountains", "2", " Hills "])
def test_samples_load(key):
    sample = load_sample(key)
    assert isinstance(sample, RGBDInput)
    assert sample.rgbd.shape == (1, 4, 320, 512) and sample.rgbd.dtype == torch.float32
    assert float(sample.rgbd.min()) >= 0.0 and float(sample.rgbd.max()) <= 1.0
    assert sample.intrinsics.tolist() == pytest.approx([0.8, 0.8 * 512 / 320, 0.5, 0.5])
    assert torch.equal(sample.cam_from_world, torch.eye(4)[:3])
    assert validate_rgbd(sample.rgbd) == ()


@pytest.mark.parametrize("index, name", list(enumerate(SAMPLE_NAMES, start=1)))
def test_samples_look_like_open_landscapes(index, name):
    disparity = load_sample(index).rgbd[0, 3]
    assert torch.equal(load_sample(name).rgbd, load_sample(index).rgbd)
    assert float(disparity.max()) == 1.0
    assert float((disparity[:20] == 0).float().mean()) > 0.8  # sky along the top
    assert bool((disparity[-20:] > 0.3).all())  # near ground along the bottom
    sky = float((disparity == 0).float().mean())
    assert 0.1 < sky < 0.5
    meta = sample_metadata(name)
    assert meta["name"] == name and meta["disparity_scale"] > 0 and meta["preset"] == name


@pytest.mark.parametrize("bad", [0, 4, -1, "desert", "", True, 1.5, None, "0"])
def test_bad_sample_ids(bad):
    with pytest.raises(ValueError, match="unknown sample") as error:
        load_sample(bad)
    assert "\n" not in str(error.value) and "1 = coast" in str(error.value)
