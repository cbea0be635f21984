"""``viewgen warp``: the output's suffix picks its format; unusable outputs are one line and lose nothing."""

import pytest
from PIL import Image

from tests.helpers.scenes import scene_rgbd
from viewgen.cli.main import main
from viewgen.io.rgbd_files import save_rgbd_npz


@pytest.fixture
def rgbd_file(tmp_path):
    return str(save_rgbd_npz(tmp_path / "scene.npz", scene_rgbd(16, 24)))


@pytest.mark.parametrize("name, image_format", [("w.png", "PNG"), ("w.jpg", "JPEG"), ("w.JPEG", "JPEG")])
def test_the_suffix_picks_the_format(tmp_path, rgbd_file, name, image_format):
    out = tmp_path / name
    assert main(["warp", rgbd_file, "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.format == image_format and image.size == (3 * 24, 16)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    return err


def test_an_unknown_suffix_is_refused(tmp_path, rgbd_file, capsys):
    assert main(["warp", rgbd_file, "--out", str(tmp_path / "w.tiff")]) == 2
    assert ".png" in one_line_error(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scene.npz"]


def test_unusable_outputs_are_one_line_and_lose_nothing(tmp_path, rgbd_file, capsys):
    (tmp_path / "folder.png").mkdir()
    assert main(["warp", rgbd_file, "--out", str(tmp_path / "folder.png")]) == 2
    assert "folder" in one_line_error(capsys)
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"mine")
    kept.chmod(0o444)
    assert main(["warp", rgbd_file, "--out", str(kept)]) == 2
    assert "read-only" in one_line_error(capsys)
    assert kept.read_bytes() == b"mine"
    (tmp_path / "file").write_text("x")
    assert main(["warp", rgbd_file, "--out", str(tmp_path / "file" / "w.png")]) == 2
    assert str(tmp_path / "file") in one_line_error(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file", "folder.png", "kept.png", "scene.npz"]


def test_a_big_input_is_shrunk_to_the_working_size(tmp_path):
    from viewgen.cli.warp import WARP_MAX_SIDE
    from viewgen.io.limits import fit_long_side

    width = WARP_MAX_SIDE + 52
    source = save_rgbd_npz(tmp_path / "wide.npz", scene_rgbd(20, width))
    out = tmp_path / "w.png"
    assert main(["warp", str(source), "--out", str(out)]) == 0
    height, width = fit_long_side(20, width, WARP_MAX_SIDE)
    with Image.open(out) as image:
        assert image.size == (3 * WARP_MAX_SIDE, height) and width == WARP_MAX_SIDE


def test_the_input_files_intrinsics_are_used(tmp_path, monkeypatch):
    import torch

    import viewgen.rendering

    stored = torch.tensor([0.9, 1.4, 0.45, 0.55])
    path = save_rgbd_npz(tmp_path / "scene.npz", scene_rgbd(16, 24), intrinsics=stored)
    seen = []
    real_warp = viewgen.rendering.warp_rgbd

    def spy(rgbd, src, tgt, intrinsics, *rest):
        seen.append(intrinsics.clone())
        return real_warp(rgbd, src, tgt, intrinsics, *rest)

    monkeypatch.setattr(viewgen.rendering, "warp_rgbd", spy)
    assert main(["warp", str(path), "--out", str(tmp_path / "w.png")]) == 0
    assert torch.equal(seen[0].reshape(4), stored)


@pytest.mark.parametrize("option, value", [("--forward", "nan"), ("--right", "inf"), ("--up=-inf", None)])
def test_non_finite_move_is_one_line_error(tmp_path, capsys, option, value):
    out = tmp_path / "warp.png"
    assert main(["warp", option, *([value] if value else []), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: tgt_cam_from_world contains NaN or infinite values")
    assert err.count("\n") == 1
    assert not out.exists()
