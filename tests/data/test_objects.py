"""The synthetic object world: seeded objects in the unit ball, renders in ENR's camera convention, the export
in Apple's layout (read back by EnrSceneDataset), and `viewgen synth-objects`."""

import json

import pytest
import torch

from viewgen.cli.main import main
from viewgen.data.enr_scenes import EnrSceneDataset
from viewgen.data.objects import OBJECT_KINDS, box, camera_from_object, export_object_scenes, make_object, render_object
from viewgen.geometry.rotations import scene_rotation


@pytest.mark.parametrize("kind", list(OBJECT_KINDS))
def test_objects_are_seeded_and_fit_the_unit_ball(kind):
    first, again, other = make_object(kind, 5), make_object(kind, 5), make_object(kind, 6)
    assert torch.equal(first.corners, again.corners) and torch.equal(first.colors, again.colors)
    assert not torch.equal(first.corners, other.corners)
    radius = first.corners.reshape(-1, 3).norm(dim=1).max()
    assert float(radius) == pytest.approx(1.0, abs=0.15) and float(radius) <= 1.0 + 1e-5
    assert first.colors.shape == (len(first.corners), 3) and bool(((first.colors >= 0) & (first.colors <= 1)).all())
    with pytest.raises(ValueError, match="unknown object kind"):
        make_object("sofa", 0)


def test_the_camera_follows_enrs_azimuth_and_elevation():
    def centre(az, el):
        pose = camera_from_object(az, el).double()
        return -pose[:, :3].T @ pose[:, 3]

    start = centre(0, 0)
    assert torch.allclose(start, torch.tensor([3.5, 0.0, 0.0], dtype=torch.float64), atol=1e-6)
    assert float(centre(30, 0)[2]) > 0  # a positive azimuth moves the camera to the image's right (+z)
    assert float(centre(0, 30)[1]) < 0  # a positive elevation moves it up (y points down)
    # the view of (az, el) is the object turned by ENR's scene rotation, seen from (0, 0)
    point = torch.tensor([0.3, -0.2, 0.5])
    pose, base = camera_from_object(40, 25), camera_from_object(0, 0)
    turned = scene_rotation(40.0, 25.0)[0] @ point
    torch.testing.assert_close(pose[:, :3] @ point + pose[:, 3], base[:, :3] @ turned + base[:, 3], atol=1e-5,
                               rtol=0)


def test_a_render_shows_the_object_on_white_and_turns_with_the_view():
    mesh = box((1.0, 1.0, 0.2), (0.0, 0.0, 0.0), torch.tensor([0.8, 0.1, 0.1]))
    front, side = render_object(mesh, 0, 0, 64), render_object(mesh, 90, 0, 64)
    assert front.shape == (3, 64, 64) and bool((front[:, 0, 0] == 1).all())  # white corner
    def red(image):
        return float(((image[0] > 0.2) & (image[1] < 0.1)).float().mean())

    # from (0, 0) the image's right is z, where the box is thin; from azimuth 90 its 1 x 1 face is seen
    assert 0.01 < red(front) < 0.5 * red(side) and red(side) < 0.6


def test_the_export_is_apples_layout_and_reads_back(tmp_path):
    split = export_object_scenes(tmp_path, num_scenes=3, views=4, size=32, seed=1, split="val")
    assert sorted(p.name for p in split.iterdir()) == ["00000-chair", "00001-table", "00002-car"]
    params = json.loads((split / "00002-car" / "render_params.json").read_text())
    assert sorted(params) == ["00000", "00001", "00002", "00003"]
    assert all(0 <= p["azimuth"] < 360 and -10 <= p["elevation"] <= 50 for p in params.values())
    data = EnrSceneDataset(split, image_size=(32, 32))
    assert len(data) == 12 and data[0]["img"].shape == (3, 32, 32)
    again = export_object_scenes(tmp_path / "again", num_scenes=3, views=4, size=32, seed=1, split="val")
    assert all((again / name).read_bytes() == (split / name).read_bytes()
               for name in ("00001-table/00003.png", "00001-table/render_params.json"))
    (split / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match="holds files that are not synthetic object scenes"):
        export_object_scenes(tmp_path, num_scenes=1, views=1, size=32, split="val")
    with pytest.raises(ValueError, match="views must be"):
        export_object_scenes(tmp_path, num_scenes=1, views=0)


def test_the_cli_writes_scenes_and_refuses_bad_options(tmp_path, capsys):
    assert main(["synth-objects", "--scenes", "2", "--views", "2", "--size", "32", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("wrote 2 scenes, 4 views of 32x32 to ")
    assert len(EnrSceneDataset(tmp_path / "train", image_size=(32, 32))) == 4
    assert main(["synth-objects", "--size", "8", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--size must be between 16 and" in err and not (tmp_path / "x").exists()
