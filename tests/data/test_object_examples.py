"""The example objects object:1..4: view 0 of the held-out test split, with its angles, the same every time."""

import pytest
import torch

from viewgen.data.objects import export_object_scenes
from viewgen.data.objects.examples import EXAMPLE_SEED, EXAMPLE_VIEWS, example_object, is_example


def test_an_example_is_view_0_of_its_test_scene(tmp_path):
    from viewgen.data.enr_scenes import EnrSceneDataset

    split = export_object_scenes(tmp_path, 2, EXAMPLE_VIEWS, 128, EXAMPLE_SEED, "test")
    stored = EnrSceneDataset(split, pairs=False)
    for index, key in ((0, "object:1"), (1, "table")):
        example, item = example_object(key), stored[index * EXAMPLE_VIEWS]
        assert example.name == ("chair", "table")[index] and example.image.shape == (3, 128, 128)
        assert float((example.image - item["img"]).abs().max()) <= 1 / 255  # the PNG's rounding only
        assert example.azimuth_deg == pytest.approx(float(item["render_params"]["azimuth"]), abs=1e-4)
        assert example.elevation_deg == pytest.approx(float(item["render_params"]["elevation"]), abs=1e-4)
    assert torch.equal(example_object(2).image, example_object("object:table").image)


def test_names_and_bad_keys():
    assert is_example("object:car") and not is_example("car.png")
    for key in ("object:0", "object:5", "object:plane", ""):
        with pytest.raises(ValueError, match="unknown example object"):
            example_object(key)
