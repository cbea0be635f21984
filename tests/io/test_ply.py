import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.ply_reader import read_ply
from viewgen.geometry import default_intrinsics
from viewgen.io.ply import OPENGL_FROM_OPENCV, export_mesh_ply, rgbd_to_mesh
from viewgen.rendering.mesh import grid_faces, sobel_edge_mask

H, W = 5, 7  # odd, so pixel (2, 3) sits exactly on the principal point (0.5, 0.5)


def random_rgbd(height=H, width=W, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 4, height, width, generator=generator)


def step_rgbd(height=8, width=10) -> torch.Tensor:
    """Left half far (disparity 0.1), right half near (0.8): one vertical depth edge."""
    rgbd = torch.rand(1, 4, height, width, generator=torch.Generator().manual_seed(1))
    rgbd[:, 3] = 0.1
    rgbd[:, 3, :, width // 2:] = 0.8
    return rgbd


def pose_yaw(yaw_deg: float, centre) -> torch.Tensor:
    """World-to-camera ``[3, 4]`` of a camera at ``centre`` turned by ``yaw`` about +y."""
    a = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]],
                            dtype=torch.float64)
    centre = torch.tensor(centre, dtype=torch.float64)
    return torch.cat([rotation, (-rotation @ centre)[:, None]], dim=1)


@pytest.mark.parametrize("binary", [True, False])
def test_full_grid_counts_colors_and_faces(tmp_path, binary):
    rgbd = random_rgbd()
    result = export_mesh_ply(tmp_path / "m.ply", rgbd, default_intrinsics(H, W), mask_edges=False, binary=binary)
    ply = read_ply(result.path)
    assert ply["format"] == ("binary_little_endian" if binary else "ascii")
    assert (result.num_vertices, result.num_faces) == (H * W, 2 * (H - 1) * (W - 1))
    assert ply["vertices"].shape == (H * W, 3) and ply["faces"].shape == (2 * (H - 1) * (W - 1), 3)
    np.testing.assert_array_equal(ply["faces"], grid_faces(H, W).numpy())  # the renderer's triangles, in order
    expected_colors = (rgbd[0, :3] * 255).round().to(torch.uint8).permute(1, 2, 0).reshape(-1, 3).numpy()
    np.testing.assert_array_equal(ply["colors"], expected_colors)
    assert any("OpenGL" in comment for comment in ply["comments"])


def test_binary_and_ascii_agree(tmp_path):
    rgbd = step_rgbd()
    intrinsics = default_intrinsics(8, 10)
    binary = read_ply(export_mesh_ply(tmp_path / "b.ply", rgbd, intrinsics).path)
    ascii_ = read_ply(export_mesh_ply(tmp_path / "a.ply", rgbd, intrinsics, binary=False).path)
    np.testing.assert_array_equal(binary["vertices"], ascii_["vertices"])  # %.9g round-trips float32
    np.testing.assert_array_equal(binary["colors"], ascii_["colors"])
    np.testing.assert_array_equal(binary["faces"], ascii_["faces"])


def test_centre_pixel_lands_in_front_of_the_camera(tmp_path):
    rgbd = random_rgbd()
    rgbd[0, 3, 2, 3] = 0.25  # depth 4 at the principal point
    ply = read_ply(export_mesh_ply(tmp_path / "m.ply", rgbd, [0.8, 1.1, 0.5, 0.5], mask_edges=False).path)
    np.testing.assert_allclose(ply["vertices"][2 * W + 3], [0.0, 0.0, -4.0], atol=1e-6)  # OpenGL: looks down -z


def test_vertices_follow_the_unprojection_and_axis_flip(tmp_path):
    rgbd = random_rgbd()
    rgbd[0, 3, 0, 0] = 0.0  # clipped to 0.01: depth 100
    intrinsics = torch.tensor([0.7, 0.9, 0.45, 0.55])
    ply = read_ply(export_mesh_ply(tmp_path / "m.ply", rgbd, intrinsics, mask_edges=False).path)
    fx, fy, cx, cy = intrinsics.double().tolist()
    depth = 1.0 / rgbd[0, 3].double().clamp(0.01, 1.0)
    j, i = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    x = ((i + 0.5) / W - cx) * depth / fx
    y = ((j + 0.5) / H - cy) * depth / fy
    expected = torch.stack([x, -y, -depth], dim=-1).reshape(-1, 3).numpy()  # OpenCV -> OpenGL
    np.testing.assert_allclose(ply["vertices"], expected, rtol=1e-5, atol=1e-5)
    assert ply["vertices"][0, 2] == pytest.approx(-100.0)
    assert ply["vertices"][0, 0] < 0 and ply["vertices"][0, 1] > 0  # top-left pixel: left and up


def test_pose_places_the_mesh_in_the_world(tmp_path):
    rgbd = random_rgbd()
    rgbd[0, 3, 2, 3] = 0.5  # depth 2 at the principal point
    centre = [1.0, -2.0, 3.0]
    cam_from_world = pose_yaw(30.0, centre)
    ply = read_ply(export_mesh_ply(tmp_path / "m.ply", rgbd, default_intrinsics(H, W), cam_from_world,
                                   mask_edges=False).path)
    rotation = cam_from_world[:, :3].numpy()
    world = np.array(centre) + rotation.T @ np.array([0.0, 0.0, 2.0])  # 2 units along the optical axis
    np.testing.assert_allclose(ply["vertices"][2 * W + 3], OPENGL_FROM_OPENCV @ world, atol=1e-5)
    # a [4, 4] pose and a batch axis give the same file
    homogeneous = torch.cat([cam_from_world, torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)])
    again = read_ply(export_mesh_ply(tmp_path / "m4.ply", rgbd[0], default_intrinsics(H, W)[None], homogeneous[None],
                                     mask_edges=False).path)
    np.testing.assert_array_equal(again["vertices"], ply["vertices"])


def test_faces_wind_counter_clockwise_towards_the_camera(tmp_path):
    rgbd = random_rgbd()
    rgbd[0, 3] = torch.linspace(0.3, 0.36, W)  # a slanted wall, gentle enough for the edge mask
    cam_from_world = pose_yaw(-20.0, [0.5, 0.2, -1.0])
    ply = read_ply(export_mesh_ply(tmp_path / "m.ply", rgbd, default_intrinsics(H, W), cam_from_world).path)
    assert len(ply["faces"]) == 2 * (H - 1) * (W - 1)  # smooth: nothing masked
    corners = ply["vertices"].astype(np.float64)[ply["faces"]]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    camera = OPENGL_FROM_OPENCV @ np.array([0.5, 0.2, -1.0])
    to_camera = camera - corners.mean(axis=1)
    assert (np.einsum("ij,ij->i", normals, to_camera) > 0).all()


def test_edge_vertices_and_their_faces_are_dropped(tmp_path):
    rgbd = step_rgbd()
    height, width = rgbd.shape[-2:]
    result = export_mesh_ply(tmp_path / "m.ply", rgbd, default_intrinsics(height, width))
    ply = read_ply(result.path)
    keep = sobel_edge_mask(rgbd[:, 3:].clamp(1e-6, 1e5))[0, 0].reshape(-1).numpy() > 0.5
    assert 0 < (~keep).sum() < keep.size  # the step is masked, the flat parts are not
    assert result.num_vertices == keep.sum() == len(ply["vertices"])
    full = read_ply(export_mesh_ply(tmp_path / "full.ply", rgbd, default_intrinsics(height, width),
                                    mask_edges=False).path)
    np.testing.assert_array_equal(ply["vertices"], full["vertices"][keep])
    np.testing.assert_array_equal(ply["colors"], full["colors"][keep])
    kept_faces = full["faces"][keep[full["faces"]].all(axis=1)]
    old_index = np.flatnonzero(keep)
    np.testing.assert_array_equal(old_index[ply["faces"]], kept_faces)
    assert result.num_faces == len(kept_faces) > 0
    # no face spans the depth step: every kept triangle is flat in depth
    depth = -ply["vertices"][ply["faces"]][..., 2]
    assert (depth.max(axis=1) / depth.min(axis=1) < 1.5).all()


def test_rgbd_to_mesh_matches_the_file(tmp_path):
    rgbd = step_rgbd()
    mesh = rgbd_to_mesh(rgbd, default_intrinsics(8, 10))
    ply = read_ply(export_mesh_ply(tmp_path / "m.ply", rgbd, default_intrinsics(8, 10)).path)
    np.testing.assert_array_equal(mesh.vertices, ply["vertices"])
    np.testing.assert_array_equal(mesh.faces, ply["faces"])


def test_atomic_write_and_parents(tmp_path):
    out = tmp_path / "deep" / "er" / "scene.ply"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"old")
    with pytest.raises(ValueError):
        export_mesh_ply(out, torch.rand(1, 3, H, W), default_intrinsics(H, W))
    assert out.read_bytes() == b"old"
    export_mesh_ply(out, random_rgbd(), default_intrinsics(H, W))
    assert sorted(p.name for p in out.parent.iterdir()) == ["scene.ply"]
    assert read_ply(out)["vertices"].dtype == np.float32
    export_mesh_ply(tmp_path / "new" / "x.ply", random_rgbd(), default_intrinsics(H, W))
    assert (tmp_path / "new" / "x.ply").is_file()


@pytest.mark.parametrize("rgbd, intrinsics, pose, message", [
    (torch.rand(2, 4, H, W), [0.8, 0.8, 0.5, 0.5], None, r"\[1, 4, H, W\]"),
    (torch.rand(1, 4, 1, W), [0.8, 0.8, 0.5, 0.5], None, r"H, W >= 2"),
    (torch.rand(1, 4, H, W) * 2, [0.8, 0.8, 0.5, 0.5], None, r"\[0, 1\]"),
    (torch.rand(1, 4, H, W), [0.8, 0.8, 0.5], None, "intrinsics"),
    (torch.rand(1, 4, H, W), [-0.8, 0.8, 0.5, 0.5], None, "intrinsics"),
    (torch.rand(1, 4, H, W), [0.8, 0.8, 0.5, 0.5], torch.eye(3), "cam_from_world"),
])
def test_bad_inputs_are_value_errors(tmp_path, rgbd, intrinsics, pose, message):
    with pytest.raises(ValueError, match=message):
        export_mesh_ply(tmp_path / "m.ply", rgbd, intrinsics, pose)
    assert not any(Path(tmp_path).iterdir())


def test_a_grid_above_the_mesh_limit_is_refused(tmp_path):
    from viewgen.io.limits import MAX_MESH_SIDE

    rgbd = torch.full((1, 4, 2, MAX_MESH_SIDE + 1), 0.5)
    with pytest.raises(ValueError, match=f"more than {MAX_MESH_SIDE} pixels a side .* --max-side"):
        export_mesh_ply(tmp_path / "big.ply", rgbd, default_intrinsics(2, MAX_MESH_SIDE + 1))
    assert not (tmp_path / "big.ply").exists()
