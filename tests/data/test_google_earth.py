"""GoogleEarth-Infinite windows: the release's layout and linking rule, read into our conventions."""

import pytest
import torch

from tests.helpers.training import google_earth_folder
from viewgen.data.datasets import GoogleEarthWindows


def test_windows_walk_linked_frames_of_one_rotation_in_our_conventions(tmp_path):
    data = GoogleEarthWindows(google_earth_folder(tmp_path / "ge"), image_size=(32, 32), frames=3, seed=1)
    assert len(data) == 15  # one grid (chicago skipped), 16 frames, frame 5 invalid
    for index in range(len(data)):
        path = data.walk(index)
        assert len({data.frames[i].frame_id % 4 for i in path}) == 1  # one rotation
    window = data[0]
    assert window["rgbd"].shape == (3, 4, 32, 32) and window["cam_from_world"].shape == (3, 3, 4)
    assert torch.allclose(window["cam_from_world"][0], torch.eye(3, 4))
    torch.testing.assert_close(window["intrinsics"], torch.tensor([0.5, 0.5, 0.5, 0.5]))
    disparity = window["rgbd"][:, 3]
    assert float(disparity[0, :8].max()) == 0.0  # sky
    assert float(disparity[0, 8:].max()) == pytest.approx(1.0)  # frame 0's nearest depth is the unit
    step = window["cam_from_world"][1, :, 3]  # the camera moved 0.1 (in units of frame 0's depth 2.0)
    assert float(step.norm()) == pytest.approx(0.05, abs=1e-5)


def test_a_folder_that_is_not_the_release_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="no readable K.npy"):
        GoogleEarthWindows(tmp_path)
    google_earth_folder(tmp_path / "ge", grids=("chicago_only",))
    with pytest.raises(ValueError, match="at least one valid frame"):
        GoogleEarthWindows(tmp_path / "ge")
