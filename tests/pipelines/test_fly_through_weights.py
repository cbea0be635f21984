"""FlyThroughPipeline weights: ``save_pretrained`` publishes a whole folder, ``from_pretrained`` names broken files."""

import errno
import os

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.hub import WeightsFormatError
from viewgen.networks import pretrained
from viewgen.pipelines import FlyDynamicConfig, FlyThroughPipeline, MissingWeightsError

SAVED = ["fly_through.json", "manifest.json", "spade_generator", "style_encoder"]


def names(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_save_and_from_pretrained_round_trip(tmp_path):
    pipe = tiny_pipeline(focal_x=0.7, autopilot=FlyDynamicConfig(speed=0.1))
    pipe.save_pretrained(tmp_path)
    assert names(tmp_path) == SAVED
    loaded = FlyThroughPipeline.from_pretrained(tmp_path)
    assert loaded.config == pipe.config
    rgbd = scene_rgbd(*TINY_SIZE, seed=2)
    assert torch.equal(loaded(rgbd, num_frames=2, output_type="tensor"), pipe(rgbd, num_frames=2, output_type="tensor"))


def test_missing_weights_say_how_to_get_them(tmp_path):
    (tmp_path / "style_encoder").mkdir()
    with pytest.raises(MissingWeightsError) as error:
        FlyThroughPipeline.from_pretrained(tmp_path)
    message = str(error.value)
    assert "\n" not in message and "spade_generator/config.json" in message
    assert "infinite_nature_public/ckpt.tar.gz" in message
    assert f"viewgen convert infinite-nature ckpt/model.ckpt-6935893 {tmp_path}" in message


@pytest.mark.parametrize("text, cause", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"speed": 1}', "unknown FlyThroughConfig fields: speed"),
    ('{"controller": "nosuch"}', "controller must be one of"),
    ('{"image_size": [1, 64]}', "image_size must be (H, W) with H, W >= 2"),
    ('{"image_size": 5}', ""),  # whatever the cause, one line naming the file
    ('{"autopilot": 5}', "autopilot must be an object of FlyDynamicConfig fields"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_a_broken_pipeline_config_is_one_line_naming_the_file(tmp_path, text, cause):
    tiny_pipeline().save_pretrained(tmp_path)
    config = tmp_path / "fly_through.json"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(WeightsFormatError) as error:
        FlyThroughPipeline.from_pretrained(tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"cannot use {config}: ") and cause in message, message
    assert message.endswith("fix it or delete it (without it the defaults are used)")


def _fail_writing(monkeypatch, component: str, error: BaseException) -> None:
    """Make the write of ``component/model.safetensors`` stop halfway with ``error``."""
    real = pretrained.write_file_atomic

    def write_file_atomic(path, write):
        if (path.parent.name, path.name) != (component, "model.safetensors"):
            return real(path, write)

        def half(stream):
            stream.write(b"\0" * 64)
            raise error

        return real(path, half)

    monkeypatch.setattr(pretrained, "write_file_atomic", write_file_atomic)


@pytest.mark.parametrize("error, raised", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), OSError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_a_failed_save_leaves_the_older_one_whole(tmp_path, monkeypatch, error, raised):
    out = tmp_path / "weights"
    older = tiny_pipeline(seed=1)
    older.save_pretrained(out)
    _fail_writing(monkeypatch, "spade_generator", error)
    with pytest.raises(raised) as caught:
        tiny_pipeline(seed=2, focal_x=0.6).save_pretrained(out)
    if raised is OSError:
        assert str(caught.value) == (f"cannot write the pipeline weights to {out}: No space left on device; "
                                     f"nothing was changed there")
    assert names(tmp_path) == ["weights"] and names(out) == SAVED  # no hidden folder left
    loaded = FlyThroughPipeline.from_pretrained(out)  # the older release, whole (its manifest checks it)
    assert loaded.config == older.config
    for ours, theirs in ((loaded.style_encoder, older.style_encoder), (loaded.generator, older.generator)):
        assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))


def test_save_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match=r"will not replace .* it holds files that are not .*\(notes.txt\)"):
        tiny_pipeline().save_pretrained(tmp_path)
    assert names(tmp_path) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_saving_again_replaces_the_whole_folder(tmp_path):
    tiny_pipeline(seed=1).save_pretrained(tmp_path)
    (tmp_path / "discriminator").mkdir()  # an older conversion's part, replaced with the rest
    newer = tiny_pipeline(seed=2, focal_x=0.6)
    newer.save_pretrained(tmp_path)
    assert names(tmp_path) == SAVED
    assert FlyThroughPipeline.from_pretrained(tmp_path).config == newer.config
