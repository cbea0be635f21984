import numpy as np
import pytest
import torch

from tests.helpers.ply_reader import read_ply
from viewgen.cli.main import main
from viewgen.io.rgbd_files import save_rgbd_npz

H, W = 6, 9


def smooth_rgbd() -> torch.Tensor:
    rgbd = torch.rand(1, 4, H, W, generator=torch.Generator().manual_seed(0))
    rgbd[:, 3] = 0.4  # flat: no depth edges
    return rgbd


def step_rgbd() -> torch.Tensor:
    rgbd = smooth_rgbd()
    rgbd[:, 3, :, W // 2:] = 0.9
    return rgbd


def test_export_mesh_from_npz(tmp_path, capsys):
    source = save_rgbd_npz(tmp_path / "scene.npz", smooth_rgbd(), intrinsics=torch.tensor([0.8, 1.2, 0.5, 0.5]))
    out = tmp_path / "out" / "scene.ply"
    assert main(["export-mesh", str(source), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line == f"wrote {out}: {H * W} vertices, {2 * (H - 1) * (W - 1)} faces (binary PLY, depth edges removed)"
    ply = read_ply(out)
    assert ply["format"] == "binary_little_endian"
    assert len(ply["vertices"]) == H * W
    # the stored intrinsics are used: top-left pixel centre at depth 2.5
    x = (0.5 / W - 0.5) * 2.5 / 0.8
    y = (0.5 / H - 0.5) * 2.5 / 1.2
    np.testing.assert_allclose(ply["vertices"][0], [x, -y, -2.5], rtol=1e-5)


def test_export_mesh_ascii_keep_edges_and_default_intrinsics(tmp_path, capsys):
    source = tmp_path / "scene.npy"
    np.save(source, step_rgbd()[0].permute(1, 2, 0).numpy())  # [H, W, 4], no intrinsics
    out = tmp_path / "mesh.ply"
    assert main(["export-mesh", str(source), "--out", str(out), "--ascii", "--keep-edges"]) == 0
    assert "ASCII PLY, depth edges kept" in capsys.readouterr().out
    ply = read_ply(out)
    assert ply["format"] == "ascii"
    assert (len(ply["vertices"]), len(ply["faces"])) == (H * W, 2 * (H - 1) * (W - 1))
    fx = 0.8  # default intrinsics [0.8, 0.8 W / H, 0.5, 0.5]
    np.testing.assert_allclose(ply["vertices"][0, 0], (0.5 / W - 0.5) * 2.5 / fx, rtol=1e-5)

    assert main(["export-mesh", str(source), "--out", str(out)]) == 0  # edges removed this time
    assert len(read_ply(out)["faces"]) < 2 * (H - 1) * (W - 1)


@pytest.mark.parametrize("args, message", [
    (["missing.npz"], "no such file"),
    (["scene.npz", "--out", "scene.obj"], ".ply"),
    (["sample:abc"], "sample:N"),
    (["scene.txt"], "not an image"),
    (["scene.npz", "--max-side", "4096"], "--max-side must be in [2, 2048]"),
    (["scene.npz", "--max-side", "big"], "--max-side must be a whole number"),
    (["scene.npz", "--depth", "nosuch"], "unknown depth backend 'nosuch'"),
])
def test_export_mesh_errors_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    save_rgbd_npz(tmp_path / "scene.npz", smooth_rgbd())
    (tmp_path / "scene.txt").write_text("x")
    assert main(["export-mesh", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "scene.ply").exists()


def test_export_mesh_sample(tmp_path, capsys):
    pytest.importorskip("viewgen.data.samples")
    out = tmp_path / "sample.ply"
    assert main(["export-mesh", "sample:1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: ")
    assert len(read_ply(out)["vertices"]) > 0


def test_max_side_shrinks_the_grid(tmp_path, capsys):
    source = save_rgbd_npz(tmp_path / "scene.npz", smooth_rgbd())
    out = tmp_path / "small.ply"
    assert main(["export-mesh", str(source), "--out", str(out), "--max-side", "3"]) == 0
    captured = capsys.readouterr()
    assert f"from {W}x{H} to 3x2 for the mesh (--max-side 3)" in captured.err
    assert len(read_ply(out)["vertices"]) == 3 * 2
