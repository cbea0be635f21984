"""The transformers backends with tiny random models saved by ``save_pretrained`` and loaded by our code path."""

import dataclasses
import json
import sys

import pytest
import torch
import torch.nn.functional as F

from viewgen.depth import DepthError, MissingDependencyError, get_estimator
from viewgen.depth.hf import (
    DEPTH_ANYTHING_PREPROCESS,
    DPT_PREPROCESS,
    HF_MODELS,
    Preprocess,
    dpt_input_size,
    preprocess_from_dict,
)
from viewgen.hub import WeightsFormatError, WeightsNotFoundError


def test_missing_transformers_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(MissingDependencyError) as caught:
        get_estimator("dpt-hybrid")
    assert str(caught.value) == 'this depth backend needs Hugging Face transformers: pip install "viewgen[depth]"'
    assert isinstance(caught.value, OSError)


def test_official_model_ids():
    assert {name: model.model_id for name, model in HF_MODELS.items()} == {
        "dpt-hybrid": "Intel/dpt-hybrid-midas",
        "dpt-large": "Intel/dpt-large",
        "depth-anything-v2-small": "depth-anything/Depth-Anything-V2-Small-hf",
        "depth-anything-v2-base": "depth-anything/Depth-Anything-V2-Base-hf",
        "depth-anything-v2-large": "depth-anything/Depth-Anything-V2-Large-hf",
    }


def test_preprocessor_config_parsing():
    pre = preprocess_from_dict({"size": 384, "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "resample": 2})
    assert pre.size == (384, 384) and pre.resample == "bilinear" and not pre.keep_aspect_ratio
    pre = preprocess_from_dict({"size": {"height": 518, "width": 518}, "keep_aspect_ratio": True,
                                "ensure_multiple_of": 14, "do_pad": False, "resample": 3}, DPT_PREPROCESS)
    assert (pre.size, pre.keep_aspect_ratio, pre.ensure_multiple_of, pre.pad_to_multiple) == ((518, 518), True, 14, 0)
    assert preprocess_from_dict({"do_pad": True, "size_divisor": 14}).pad_to_multiple == 14


@pytest.mark.parametrize(("pre", "height", "width", "expected"), [
    (DPT_PREPROCESS, 480, 640, (384, 384)),  # DPT: square, aspect not kept
    (DEPTH_ANYTHING_PREPROCESS, 480, 640, (518, 686)),  # "scale as little as possible", multiples of 14
    (DEPTH_ANYTHING_PREPROCESS, 1080, 1920, (518, 924)),
    (DEPTH_ANYTHING_PREPROCESS, 300, 200, (518, 350)),
])
def test_input_size_follows_the_dpt_image_processor(pre, height, width, expected):
    assert dpt_input_size(height, width, pre) == expected
    try:
        from transformers.models.dpt import image_processing_pil_dpt as module
    except ImportError:
        try:
            from transformers.models.dpt import image_processing_dpt as module
        except ImportError:
            return
    reference = module.get_resize_output_image_size(
        torch.zeros(3, height, width).numpy(), pre.size, pre.keep_aspect_ratio, pre.ensure_multiple_of)
    reference = (reference.height, reference.width) if hasattr(reference, "height") else tuple(reference)
    assert reference == expected


# ----------------------------------------------------------------------------- tiny real models


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    vit = dict(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=64,
               patch_size=16, backbone_out_indices=(0, 1, 2, 3), neck_hidden_sizes=(8, 16, 16, 16),
               fusion_hidden_size=16, use_auxiliary_head=False)
    large = transformers.DPTForDepthEstimation(transformers.DPTConfig(**vit))
    bit = transformers.BitConfig(global_padding="same", layer_type="bottleneck", depths=[1, 1, 1],
                                 hidden_sizes=[8, 16, 32], embedding_size=8, num_groups=2,
                                 out_features=["stage1", "stage2", "stage3"])
    hybrid = transformers.DPTForDepthEstimation(transformers.DPTConfig(
        **{**vit, "reassemble_factors": (1, 1, 1, 0.5)}, is_hybrid=True, backbone_config=bit,
        backbone_featmap_shape=[1, 32, 4, 4]))
    dinov2 = transformers.Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                                       image_size=56, patch_size=14, reshape_hidden_states=False,
                                       out_features=["stage1", "stage2", "stage3", "stage4"])
    anything = transformers.DepthAnythingForDepthEstimation(transformers.DepthAnythingConfig(
        backbone_config=dinov2, reassemble_hidden_size=16, neck_hidden_sizes=(8, 16, 16, 16), fusion_hidden_size=16,
        head_hidden_size=8, patch_size=14))
    processors = {
        "dpt": {"size": {"height": 64, "width": 64}, "keep_aspect_ratio": False, "ensure_multiple_of": 1,
                "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "resample": 3, "do_normalize": True,
                "do_resize": True, "image_processor_type": "DPTImageProcessor"},
        "anything": {"size": {"height": 70, "width": 70}, "keep_aspect_ratio": True, "ensure_multiple_of": 14,
                     "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "resample": 3,
                     "do_pad": False, "do_normalize": True, "do_resize": True,
                     "image_processor_type": "DPTImageProcessor"},
    }
    folders = {}
    for name, model, processor in (("dpt-large", large, "dpt"), ("dpt-hybrid", hybrid, "dpt"),
                                   ("depth-anything-v2-small", anything, "anything")):
        folder = root / name
        model.eval().save_pretrained(folder)
        (folder / "preprocessor_config.json").write_text(json.dumps(processors[processor]))
        folders[name] = (folder, model)
    return folders


def _image(batch=1, height=40, width=70, seed=0):
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ["dpt-large", "dpt-hybrid", "depth-anything-v2-small"])
def test_tiny_models_load_from_a_folder_and_estimate(tiny_folders, name):
    folder, reference = tiny_folders[name]
    estimator = get_estimator(name, weights=folder)
    assert estimator.name == name and estimator.source == str(folder)
    x = _image(batch=2)
    size = estimator.input_size(40, 70)
    assert size == ((64, 64) if name.startswith("dpt") else (42, 70))
    # the raw output is the model's predicted_depth on the processor-prepared input
    pre = estimator.preprocess
    prepared = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    prepared = (prepared - torch.tensor(pre.mean).view(1, 3, 1, 1)) / torch.tensor(pre.std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference(pixel_values=prepared).predicted_depth.unsqueeze(1)
        torch.testing.assert_close(estimator.predict_raw(x), expected, rtol=1e-4, atol=1e-5)
    out = estimator(x)
    assert out.shape == (2, 1, 40, 70) and torch.isfinite(out).all()
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    torch.testing.assert_close(estimator(x), out, rtol=0, atol=0)  # deterministic
    native = estimator(x, size=size)
    assert float(native.amin()) == 0.0 and float(native.amax()) == 1.0
    flat = estimator(torch.full((1, 3, 30, 30), 0.25))
    assert torch.isfinite(flat).all()
    with pytest.raises(DepthError, match="NaN"):
        estimator(torch.full((1, 3, 30, 30), float("nan")))


def test_folder_without_processor_config_uses_the_family_defaults(tiny_folders, tmp_path):
    import shutil

    folder = tmp_path / "bare"
    shutil.copytree(tiny_folders["depth-anything-v2-small"][0], folder)
    (folder / "preprocessor_config.json").unlink()
    estimator = get_estimator("depth-anything-v2-small", weights=folder)
    assert estimator.preprocess == DEPTH_ANYTHING_PREPROCESS
    assert estimator.input_size(40, 70) == (294, 518)  # upscaling: "as little as possible" fits the long side
    assert estimator.input_size(1080, 1920) == (518, 924)


def test_weights_that_do_not_fit_the_config_are_refused(tiny_folders, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "broken"
    shutil.copytree(tiny_folders["dpt-large"][0], folder)
    state = load_file(str(folder / "model.safetensors"))
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsFormatError) as caught:
        get_estimator("dpt-large", weights=folder)
    assert "1 missing" in str(caught.value) and "\n" not in str(caught.value)


def test_source_errors_are_one_line(tiny_folders, tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(FileNotFoundError, match="model folder .*nope does not exist"):
        get_estimator("dpt-large", weights=tmp_path / "nope")
    with pytest.raises(DepthError, match="needs a model folder"):
        get_estimator("dpt-large", weights=tiny_folders["dpt-large"][0] / "config.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsFormatError, match="cannot load the dpt-large model from") as caught:
        get_estimator("dpt-large", weights=empty)
    assert "\n" not in str(caught.value)
    # a hub id that is not cached, offline (the fixture sets VIEWGEN_OFFLINE)
    with pytest.raises(WeightsNotFoundError) as caught:
        get_estimator("dpt-large", weights="viewgen-tests/no-such-model")
    message = str(caught.value)
    assert "\n" not in message and "viewgen download dpt-large" in message and "offline" in message


def test_preprocess_dataclass_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Preprocess().size = (1, 1)  # type: ignore[misc]
