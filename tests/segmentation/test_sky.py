"""The SegFormer sky backend with a tiny random model saved by ``save_pretrained`` and loaded by our code path
(offline, in an empty VIEWGEN_HOME: ``isolated_cache`` of conftest.py)."""

import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.segmentation.tiny_segformer import SKY, sky_on_top, tiny_segformer, top_half
from viewgen.hub import WeightsFormatError, WeightsNotFoundError
from viewgen.segmentation import (
    SKY_MODELS,
    MissingDependencyError,
    SkySegmentationError,
    SkySegmenter,
    available_sky_backends,
    download_sky_backend,
    load_sky_segmenter,
    sky_label_ids,
    upsampled_argmax,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    pytest.importorskip("transformers")
    return tiny_segformer(tmp_path_factory.mktemp("segformer") / "tiny")


@pytest.fixture(scope="module")
def segmenter(folder):
    return load_sky_segmenter(weights=folder)


def _image(height=30, width=44, seed=0):
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


def test_backends_and_model_ids():
    assert available_sky_backends() == ("segformer-b0-ade", "segformer-b5-ade")
    assert {name: model.model_id for name, model in SKY_MODELS.items()} == {
        "segformer-b0-ade": "nvidia/segformer-b0-finetuned-ade-512-512",
        "segformer-b5-ade": "nvidia/segformer-b5-finetuned-ade-640-640"}
    assert SKY_MODELS["segformer-b5-ade"].defaults.size == (640, 640)


def test_loads_from_a_local_folder_with_its_processor_config(segmenter, folder):
    assert segmenter.name == "segformer-b0-ade" and segmenter.source == str(folder)
    assert segmenter.sky_labels == (SKY,)
    pre = segmenter.preprocess
    assert pre.size == (64, 64) and pre.resample == "bilinear" and pre.mean == (0.485, 0.456, 0.406)
    assert segmenter.input_size(30, 44) == (64, 64)  # a square resize, aspect not kept
    assert load_sky_segmenter(folder).source == str(folder)  # a model folder is a name too


def test_mask_shape_dtype_and_determinism(segmenter):
    image = _image()
    mask = segmenter.sky_mask(image)
    assert mask.shape == (30, 44) and mask.dtype == torch.bool and mask.device.type == "cpu"
    assert torch.equal(segmenter.sky_mask(image[0]), mask)  # [3, H, W]
    assert torch.equal(segmenter(image), mask)
    pixels = (image[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert segmenter.sky_mask(pixels).shape == (30, 44)  # H x W x 3 uint8


def test_the_mask_is_the_argmax_of_the_upsampled_logits(segmenter):
    image = _image(37, 23, seed=1)
    expected = F.interpolate(segmenter.logits(image), size=(37, 23), mode="bilinear", align_corners=False)
    assert torch.equal(segmenter.sky_mask(image), expected.argmax(dim=1)[0] == SKY)
    try:  # transformers' own post-processing agrees
        from transformers.models.segformer.image_processing_pil_segformer import SegformerImageProcessorPil
    except ImportError:
        return
    outputs = types.SimpleNamespace(logits=segmenter.logits(image))
    labels = SegformerImageProcessorPil().post_process_semantic_segmentation(outputs, target_sizes=[(37, 23)])[0]
    assert torch.equal(segmenter.sky_mask(image), labels == SKY)


def test_upsampled_argmax_in_chunks_equals_the_whole_and_keeps_the_first_on_ties():
    logits = torch.randn(1, 11, 5, 7, generator=torch.Generator().manual_seed(0))
    whole = F.interpolate(logits, size=(13, 17), mode="bilinear", align_corners=False).argmax(dim=1)[0]
    assert torch.equal(upsampled_argmax(logits, (13, 17), chunk=3), whole)
    assert int(upsampled_argmax(torch.zeros(1, 5, 2, 2), (4, 4), chunk=2).max()) == 0


def test_sky_logits_on_top_give_the_top_half(segmenter, monkeypatch):
    seen = sky_on_top(monkeypatch)
    assert torch.equal(segmenter.sky_mask(_image(30, 44)), top_half(30, 44))
    assert seen[-1].shape == (1, 3, 64, 64)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    white = segmenter.sky_mask(torch.ones(1, 3, 8, 8))  # normalized with the processor's mean and std
    assert white.shape == (8, 8)
    torch.testing.assert_close(seen[-1][0, :, 0, 0], (1 - mean) / std)


def test_the_sky_label_is_found_by_name():
    assert sky_label_ids({0: "wall", 1: " Sky", 7: "sky", 3: "skyscraper"}) == (1, 7)
    with pytest.raises(SkySegmentationError, match="no 'sky' label among its 2 labels"):
        sky_label_ids({0: "wall", 1: "tree"}, "m")


def test_a_model_without_sky_is_refused(tmp_path):
    pytest.importorskip("transformers")
    folder = tiny_segformer(tmp_path / "nosky", labels={0: "wall", 1: "tree", 2: "water"})
    with pytest.raises(SkySegmentationError) as caught:
        load_sky_segmenter(weights=folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message and "no 'sky' label" in message and "wall, tree" in message


def test_offline_without_weights_names_the_model_and_the_folder(isolated_cache):
    pytest.importorskip("transformers")
    with pytest.raises(WeightsNotFoundError) as caught:
        load_sky_segmenter("segformer-b5-ade")
    message = str(caught.value)
    assert "\n" not in message and "offline" in message
    assert "nvidia/segformer-b5-finetuned-ade-640-640" in message
    assert str(isolated_cache / "weights" / "segformer-b5-ade") in message


def test_download_is_refused_offline():
    pytest.importorskip("transformers")
    with pytest.raises(WeightsNotFoundError, match="cannot download nvidia/segformer-b0-finetuned-ade-512-512: off"):
        download_sky_backend()


def test_the_viewgen_weights_folder_is_looked_in_first(folder, isolated_cache):
    local = isolated_cache / "weights" / "segformer-b0-ade"
    shutil.copytree(folder, local)
    assert load_sky_segmenter().source == str(local)


def test_missing_transformers_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(MissingDependencyError) as caught:
        load_sky_segmenter()
    assert str(caught.value) == ('this sky segmentation backend needs Hugging Face transformers: '
                                 'pip install "viewgen[depth]"')


def test_bad_names_folders_and_images_are_one_line(segmenter, folder, tmp_path):
    with pytest.raises(SkySegmentationError, match="unknown sky segmentation backend 'deeplab'; choose one of "
                                                   "segformer-b0-ade, segformer-b5-ade, or give a model folder"):
        load_sky_segmenter("deeplab")
    with pytest.raises(SkySegmentationError, match="unknown sky segmentation backend ''"):
        load_sky_segmenter("")  # not the current folder
    with pytest.raises(SkySegmentationError, match="is a model folder already"):
        load_sky_segmenter(folder, weights=folder)
    with pytest.raises(SkySegmentationError, match="needs a model folder"):
        load_sky_segmenter(weights=folder / "config.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsFormatError, match="cannot load the segformer-b0-ade model from"):
        load_sky_segmenter(weights=tmp_path / "empty")
    for image, needle in ((torch.rand(2, 3, 8, 8), "one image"), (np.zeros((8, 8, 3), np.float32), "uint8"),
                          (torch.full((1, 3, 8, 8), 255.0), "divide 0-255 images by 255")):
        with pytest.raises(SkySegmentationError, match=needle):
            segmenter.sky_mask(image)


def test_from_model_wraps_a_built_model(segmenter):
    wrapped = SkySegmenter.from_model(segmenter.model, preprocess=segmenter.preprocess)
    image = _image(seed=2)
    assert wrapped.source is None and torch.equal(wrapped.sky_mask(image), segmenter.sky_mask(image))


def test_importing_segmentation_does_not_import_transformers():
    code = ("import sys, viewgen.segmentation as s; s.available_sky_backends(); s.is_sky_backend('x'); "
            "print('transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
