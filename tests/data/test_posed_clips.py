import json

import pytest
import torch

from viewgen.data.posed_clips import (
    PosedClip,
    disparity_path,
    frame_path,
    list_clips,
    read_camera_file,
    read_clips,
    write_camera_file,
)
from viewgen.data.synthetic import camera_pose

# Two frames as found in a RealEstate10K download (URL line, trailing spaces, a blank line).
REAL_FORMAT = """https://www.youtube.com/watch?v=Z8a3-d7cdtU
45678900 0.482995 0.858658 0.5 0.5 0.0 0.0 0.999856 -0.001533 0.016885 -0.172137 0.001657 0.999987 -0.004935 0.038209 -0.016874 0.004962 0.999845 -0.412553   

45712267 0.482995 0.858658 0.5 0.5 0.0 0.0 0.999851 -0.001479 0.017171 -0.176412 0.001607 0.999987 -0.006927 0.041532 -0.017160 0.006953 0.999829 -0.463281
"""


def test_write_read_round_trip_is_exact(tmp_path):
    poses = torch.stack([camera_pose(torch.tensor([1.5, -20.0, 3.0 * i]), torch.tensor(0.1 * i), torch.tensor(0.2))
                         for i in range(5)]).float()
    intrinsics = torch.tensor([0.8, 1.28, 0.5, 0.5]).expand(5, 4)
    stamps = [0, 33333, 66667, 100000, 133333]
    path = write_camera_file(tmp_path / "train" / "clip.txt", "viewgen-synth://hills", stamps, intrinsics, poses)
    clip = read_camera_file(path)
    assert isinstance(clip, PosedClip) and clip.name == "clip" and len(clip) == 5
    assert clip.url == "viewgen-synth://hills"
    assert clip.timestamps.tolist() == stamps and clip.timestamps.dtype == torch.int64
    assert torch.equal(clip.cam_from_world, poses.double())
    assert torch.equal(clip.intrinsics, intrinsics.double())
    assert clip.frame_paths == ()  # no frame folder next to the file
    again = write_camera_file(tmp_path / "again.txt", clip.url, clip.timestamps, clip.intrinsics, clip.cam_from_world)
    assert again.read_text() == path.read_text()


def test_parse_real_format(tmp_path):
    path = tmp_path / "0a1b2c3d4e5f6789.txt"
    path.write_text(REAL_FORMAT)
    clip = read_camera_file(path)
    assert clip.url == "https://www.youtube.com/watch?v=Z8a3-d7cdtU"
    assert clip.timestamps.tolist() == [45678900, 45712267]
    assert clip.intrinsics[0].tolist() == [0.482995, 0.858658, 0.5, 0.5]
    assert clip.cam_from_world.shape == (2, 3, 4)
    assert clip.cam_from_world[1, 2, 3].item() == -0.463281
    assert clip.cam_from_world[0, 0].tolist() == [0.999856, -0.001533, 0.016885, -0.172137]


def test_file_without_url_line(tmp_path):
    path = tmp_path / "nourl.txt"
    path.write_text("\n".join(REAL_FORMAT.splitlines()[1:]))
    clip = read_camera_file(path)
    assert clip.url == "" and len(clip) == 2


@pytest.mark.parametrize("line, message", [
    ("45678900 0.48 0.85 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1", "expected 19 numbers"),
    ("45678900 0.48 0.85 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 zero", "could not convert"),
    ("4567.5 0.48 0.85 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0", "not an integer"),
    ("45678900 -0.48 0.85 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0", "focal lengths"),
    ("45678900 0.48 0.85 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 nan 1 0", "finite"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    lines = REAL_FORMAT.splitlines()
    path.write_text("\n".join([*lines[:3], line]) + "\n")
    with pytest.raises(ValueError, match=message) as error:
        read_camera_file(path)
    text = str(error.value)
    assert f"{path}:4:" in text and "\n" not in text


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("https://example.com/v\n\n")
    with pytest.raises(ValueError, match="no frame lines"):
        read_camera_file(path)


def test_write_rejects_bad_input(tmp_path):
    poses = torch.eye(4)[:3].expand(2, 3, 4)
    with pytest.raises(ValueError, match="increasing"):
        write_camera_file(tmp_path / "x.txt", "u", [5, 5], torch.tensor([0.8, 1.2, 0.5, 0.5]), poses)
    with pytest.raises(ValueError, match="T >= 1"):
        write_camera_file(tmp_path / "x.txt", "u", [1, 2, 3], torch.tensor([0.8, 1.2, 0.5, 0.5]), poses)


def test_dataset_listing_and_frame_paths(tmp_path):
    for split, name in (("train", "b"), ("train", "a"), ("test", "c")):
        write_camera_file(tmp_path / split / f"{name}.txt", "u", [10, 20], torch.tensor([0.8, 1.2, 0.5, 0.5]),
                          torch.eye(4)[:3].expand(2, 3, 4))
    (tmp_path / "train" / "a").mkdir()
    (tmp_path / "train" / "a" / "metadata.json").write_text(json.dumps(
        {"timestamps": [10, 20], "disparity_scale": [1.5, 2.5]}))
    assert [p.name for p in list_clips(tmp_path, "train")] == ["a.txt", "b.txt"]
    assert [p.stem for p in list_clips(tmp_path)] == ["c", "a", "b"]
    hidden = tmp_path / ".train.1a2b3c4d.partial"  # a split that viewgen synth is still writing
    write_camera_file(hidden / "d.txt", "u", [10], torch.tensor([0.8, 1.2, 0.5, 0.5]), torch.eye(4)[:3][None])
    assert [p.stem for p in list_clips(tmp_path)] == ["c", "a", "b"]
    clips = {clip.name: clip for clip in read_clips(tmp_path, "train")}
    assert clips["a"].frame_paths == (frame_path(tmp_path / "train" / "a", 10), tmp_path / "train" / "a" / "20.png")
    assert clips["a"].disparity_paths[1] == disparity_path(tmp_path / "train" / "a", 20)
    assert clips["a"].disparity_paths[1].name == "20_disparity.png"
    assert clips["a"].disparity_scales.tolist() == [1.5, 2.5]
    assert not clips["a"].has_frames
    assert clips["b"].frame_paths == () and clips["b"].disparity_scales is None
    (tmp_path / "train" / "a" / "20.jpg").write_bytes(b"")  # downloads are often JPEG: the file that exists
    assert read_camera_file(tmp_path / "train" / "a.txt").frame_paths[1].name == "20.jpg"
    with pytest.raises(OSError, match="does not exist"):
        list_clips(tmp_path, "val")
