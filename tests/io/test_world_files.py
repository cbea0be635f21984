"""``viewgen.io.world_files``: every exported file read back with an independent reader (plyfile, json,
viewgen's RealEstate10K reader), against geometry computed here from the conventions alone."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import viewgen.io.world_files as world_files
from viewgen.data.posed_clips import read_camera_file
from viewgen.data.synthetic.clips import ground_truth_clip
from viewgen.errors import InputError
from viewgen.io.world_files import (
    WorldRecord,
    cameras_json_payload,
    read_flight_record,
    write_flight_record,
    write_world,
)
from viewgen.io.world_splats import SPLAT_PROPERTIES, quaternion_from_rotation
from viewgen.rendering.mesh import sobel_edge_mask

plyfile = pytest.importorskip("plyfile")

FLIP = np.diag([1.0, -1.0, -1.0])  # viewgen world -> file axes
C0 = 0.28209479177387814


def pose(yaw_deg=0.0, centre=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """World-to-camera ``[3, 4]`` float64 of a camera at ``centre`` turned by ``yaw`` about +y."""
    a = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]],
                            dtype=torch.float64)
    return torch.cat([rotation, -rotation @ torch.tensor(centre, dtype=torch.float64)[:, None]], dim=1)


def plane_record(disparities=(0.25,), poses=None, height=6, width=8, seed=0) -> WorldRecord:
    """Frames of fronto-parallel planes (one constant disparity each), random colours."""
    count = len(disparities)
    rgbd = torch.rand(count, 4, height, width, generator=torch.Generator().manual_seed(seed))
    for index, disparity in enumerate(disparities):
        rgbd[index, 3] = disparity
    poses = torch.stack(poses) if poses is not None else torch.eye(4, dtype=torch.float64)[:3].expand(count, 3, 4)
    return WorldRecord(rgbd, poses, torch.tensor([0.8, 0.8 * width / height, 0.5, 0.5]))


@pytest.fixture(scope="module")
def clip_record() -> WorldRecord:
    clip = ground_truth_clip("hills", seed=0, height=24, width=32, num_frames=3)
    return WorldRecord(clip.rgbd, clip.cam_from_world, clip.intrinsics)


def read_vertices(path) -> tuple[np.ndarray, np.ndarray]:
    vertex = plyfile.PlyData.read(str(path))["vertex"].data
    colors = np.stack([vertex[channel] for channel in ("red", "green", "blue")], axis=1)
    return np.stack([vertex[name] for name in "xyz"], axis=1), colors


def expected_samples(record: WorldRecord, stride=1, keep_sky=False) -> tuple[np.ndarray, np.ndarray]:
    """Independently: every kept pixel's file-axes position and uint8 colour, in frame and pixel order."""
    height, width = record.size
    rows, columns = np.meshgrid(np.arange(0, height, stride), np.arange(0, width, stride), indexing="ij")
    positions, colors = [], []
    for index in range(len(record)):
        fx, fy, cx, cy = record.intrinsics[index].tolist()
        disparity = record.rgbd[index, 3].double().numpy()[rows, columns]
        depth = 1.0 / np.clip(disparity, 0.01, 1.0)
        camera = np.stack([((columns + 0.5) / width - cx) * depth / fx, ((rows + 0.5) / height - cy) * depth / fy,
                           depth], axis=-1).reshape(-1, 3)
        rotation, translation = record.cam_from_world[index, :, :3].numpy(), record.cam_from_world[index, :, 3].numpy()
        keep = sobel_edge_mask(record.rgbd[index:index + 1, 3:])[0, 0].numpy()[rows, columns].reshape(-1) > 0.5
        keep &= keep_sky | (disparity.reshape(-1) > 0.01)
        positions.append(((camera - translation) @ rotation @ FLIP.T)[keep])
        rgb = record.rgbd[index, :3].permute(1, 2, 0).numpy()[rows, columns].reshape(-1, 3)
        colors.append(np.round(rgb * 255).astype(np.uint8)[keep])
    return np.concatenate(positions), np.concatenate(colors)


# ------------------------------------------------------------------------------------------ points


def test_points_of_a_plane_in_front_of_the_identity_camera(tmp_path):
    record = plane_record([0.25])  # depth 4
    result = write_world(tmp_path / "w", record, formats=("points",), voxel=0)
    ply = plyfile.PlyData.read(str(tmp_path / "w" / "points.ply"))
    assert [element.name for element in ply.elements] == ["vertex"]
    vertex = ply["vertex"]
    assert [p.name for p in vertex.properties] == ["x", "y", "z", "red", "green", "blue"]
    assert [vertex.data.dtype[name].str for name in vertex.data.dtype.names] == ["<f4"] * 3 + ["|u1"] * 3
    positions, colors = read_vertices(tmp_path / "w" / "points.ply")
    assert len(positions) == result.num_points == 6 * 8
    np.testing.assert_allclose(positions[:, 2], -4.0, rtol=1e-6)  # in front of the camera: -z
    assert positions[0, 0] < 0 < positions[0, 1]  # the top-left pixel is left and up (+y up)
    expected_positions, expected_colors = expected_samples(record)
    np.testing.assert_allclose(positions, expected_positions, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(colors, expected_colors)
    assert result.bounds == (tuple(positions.min(0).astype(float)), tuple(positions.max(0).astype(float)))


def test_points_are_every_kept_sample_in_world_space(tmp_path, clip_record):
    write_world(tmp_path / "w", clip_record, formats=("points",), voxel=0)
    positions, colors = read_vertices(tmp_path / "w" / "points.ply")
    expected_positions, expected_colors = expected_samples(clip_record)
    np.testing.assert_allclose(positions, expected_positions, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(colors, expected_colors)


def test_a_later_frame_lands_on_the_first_frames_surface(tmp_path, clip_record):
    """The synthetic clip is one consistent world: the last frame's points, seen from frame 0, lie at frame 0's
    depth (so poses, unprojection and axes agree end to end)."""
    last = WorldRecord(clip_record.rgbd[2:], clip_record.cam_from_world[2:], clip_record.intrinsics[2:])
    write_world(tmp_path / "w", last, formats=("points",), voxel=0)
    positions, _ = read_vertices(tmp_path / "w" / "points.ply")
    rotation, translation = clip_record.cam_from_world[0, :, :3].numpy(), clip_record.cam_from_world[0, :, 3].numpy()
    camera = (positions.astype(np.float64) @ FLIP) @ rotation.T + translation  # file -> viewgen world -> camera 0
    fx, fy, cx, cy = clip_record.intrinsics[0].tolist()
    height, width = clip_record.size
    u, v = fx * camera[:, 0] / camera[:, 2] + cx, fy * camera[:, 1] / camera[:, 2] + cy
    inside = (u > 0) & (u < 1) & (v > 0) & (v < 1) & (camera[:, 2] > 0)
    assert inside.mean() > 0.9
    seen = clip_record.rgbd[0, 3].numpy()[(v[inside] * height).astype(int), (u[inside] * width).astype(int)]
    relative = np.abs(camera[inside, 2] * np.clip(seen, 0.01, 1) - 1)  # |depth / depth_0 - 1|
    assert np.median(relative) < 0.02


def test_the_default_voxel_thins_the_points_to_a_subset(tmp_path, clip_record):
    result = write_world(tmp_path / "w", clip_record, formats=("points",))
    positions, _ = read_vertices(tmp_path / "w" / "points.ply")
    everything, _ = expected_samples(clip_record)
    assert 0 < len(positions) < len(everything) and result.voxel > 0
    distance = np.linalg.norm(positions[:, None] - everything[None], axis=-1).min(axis=1)
    assert distance.max() < 1e-4  # kept samples, not averages
    voxels = np.floor((positions @ FLIP) / result.voxel)  # viewgen's world axes: one sample per voxel
    assert len(np.unique(voxels, axis=0)) == len(positions)


def test_the_default_voxel_is_the_median_pixel_footprint(tmp_path):
    record = plane_record([0.25, 0.25])  # the same frame twice
    result = write_world(tmp_path / "w", record, formats=("points",), stride=2)
    assert result.voxel == pytest.approx(4.0 * 2 / (0.8 * 8))
    single = write_world(tmp_path / "one", plane_record([0.25]), formats=("points",), stride=2, voxel=result.voxel)
    assert result.num_points == single.num_points  # the second frame adds nothing


def test_the_nearest_sample_wins_a_voxel(tmp_path):
    record = plane_record([0.25, 0.5])  # depth 4, then depth 2 from the same camera
    write_world(tmp_path / "w", record, formats=("points",), voxel=1000.0)
    positions, _ = read_vertices(tmp_path / "w" / "points.ply")
    assert 1 <= len(positions) <= 4
    np.testing.assert_allclose(positions[:, 2], -2.0, rtol=1e-6)


def test_edges_and_sky_are_dropped(tmp_path):
    record = plane_record([0.8])
    record.rgbd[0, 3, :, 4:] = 0.1  # a depth step between columns 3 and 4
    record.rgbd[0, 3, :2] = 0.0  # two rows of sky
    kept = sobel_edge_mask(record.rgbd[:, 3:])[0, 0] > 0.5
    assert not kept.all()
    result = write_world(tmp_path / "w", record, formats=("points",), voxel=0)
    assert result.num_points == int(kept[2:].sum())
    with_sky = write_world(tmp_path / "s", record, formats=("points",), voxel=0, keep_sky=True)
    assert with_sky.num_points == int(kept.sum())
    positions, _ = read_vertices(tmp_path / "s" / "points.ply")
    assert positions[:, 2].min() == pytest.approx(-100.0)


def test_a_moved_camera_places_its_points_in_the_world(tmp_path):
    record = plane_record([0.5], poses=[pose(30.0, (1.0, -2.0, 3.0))])
    write_world(tmp_path / "w", record, formats=("points",), voxel=0)
    positions, _ = read_vertices(tmp_path / "w" / "points.ply")
    np.testing.assert_allclose(positions, expected_samples(record)[0], rtol=1e-5, atol=1e-5)
    centre = FLIP @ np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(np.linalg.norm(positions - centre, axis=1).min(), 2.0, rtol=0.05)


# -------------------------------------------------------------------------------------------- mesh


def test_the_mesh_of_a_plane_faces_its_camera(tmp_path):
    result = write_world(tmp_path / "w", plane_record([0.25]), formats=("mesh",))
    ply = plyfile.PlyData.read(str(tmp_path / "w" / "mesh.ply"))
    assert [element.name for element in ply.elements] == ["vertex", "face"]
    assert ply["face"].properties[0].name == "vertex_indices"
    faces = np.stack(ply["face"].data["vertex_indices"])
    positions, _ = read_vertices(tmp_path / "w" / "mesh.ply")
    assert (len(positions), len(faces)) == (result.num_mesh_vertices, result.num_faces) == (48, 2 * 5 * 7)
    a, b, c = (positions[faces[:, k]].astype(np.float64) for k in range(3))
    normals = np.cross(b - a, c - a)
    assert (normals[:, 2] > 0).all()  # counter-clockwise seen from the camera, which is at +z of the plane


def test_stretched_triangles_are_dropped(tmp_path):
    height, width = 6, 64
    record = plane_record([0.05], height=height, width=width)
    record.rgbd[0, 3, :, 32:] = 0.04  # depth 20 -> 25: too small a disparity step for the Sobel mask
    assert sobel_edge_mask(record.rgbd[:, 3:]).all()
    full = 2 * (height - 1) * (width - 1)
    assert write_world(tmp_path / "a", record, formats=("mesh",), max_stretch=1e9).num_faces == full
    assert write_world(tmp_path / "b", record, formats=("mesh",), max_stretch=4).num_faces == full - 2 * (height - 1)


def test_stride_and_the_mesh_size_guard(tmp_path, clip_record):
    strided = write_world(tmp_path / "w", clip_record, formats=("mesh",), stride=2)
    assert strided.num_mesh_vertices <= 3 * 12 * 16
    with pytest.raises(InputError, match=r"up to 2,304 mesh vertices .* use stride 2 \(--stride 2\)"):
        write_world(tmp_path / "x", clip_record, formats=("mesh",), max_mesh_vertices=600)
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------ splats


def rotation_from_quaternion(q: np.ndarray) -> np.ndarray:
    """3DGS's ``build_rotation`` (w first), for ``[M, 4]``."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    r, x, y, z = q.T
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - r * z), 2 * (x * z + r * y),
                     2 * (x * y + r * z), 1 - 2 * (x * x + z * z), 2 * (y * z - r * x),
                     2 * (x * z - r * y), 2 * (y * z + r * x), 1 - 2 * (x * x + y * y)], axis=1).reshape(-1, 3, 3)


def test_splats_have_the_3dgs_layout_and_face_their_camera(tmp_path):
    record = plane_record([0.25], poses=[pose(20.0, (0.5, 0.0, 1.0))])
    result = write_world(tmp_path / "w", record, formats=("points", "splats"), voxel=0)
    vertex = plyfile.PlyData.read(str(tmp_path / "w" / "splats.ply"))["vertex"]
    assert [p.name for p in vertex.properties] == list(SPLAT_PROPERTIES)
    assert len(SPLAT_PROPERTIES) == 62 and SPLAT_PROPERTIES[9] == "f_rest_0" and SPLAT_PROPERTIES[53] == "f_rest_44"
    data = vertex.data
    assert all(data.dtype[name].str == "<f4" for name in data.dtype.names)
    assert len(data) == result.num_splats == result.num_points == 48
    positions, colors = read_vertices(tmp_path / "w" / "points.ply")
    np.testing.assert_array_equal(np.stack([data[n] for n in "xyz"], 1), positions)
    rgb = 0.5 + C0 * np.stack([data[f"f_dc_{k}"] for k in range(3)], 1)
    np.testing.assert_allclose(rgb, record.rgbd[0, :3].permute(1, 2, 0).reshape(-1, 3).numpy(), atol=1e-5)
    assert all((data[f"f_rest_{k}"] == 0).all() for k in range(45))
    np.testing.assert_allclose(1 / (1 + np.exp(-data["opacity"])), 0.9, rtol=1e-6)
    quaternions = np.stack([data[f"rot_{k}"] for k in range(4)], 1).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(quaternions, axis=1), 1.0, atol=1e-6)
    normals = np.stack([data[f"n{a}"] for a in "xyz"], 1).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    optical_axis = FLIP @ pose(20.0)[:, :3].numpy().T @ np.array([0.0, 0.0, 1.0])  # camera +z in file axes
    np.testing.assert_allclose(normals, np.broadcast_to(-optical_axis, normals.shape), atol=1e-6)
    axes = rotation_from_quaternion(quaternions)
    np.testing.assert_allclose(axes[:, :, 2], np.broadcast_to(optical_axis, normals.shape), atol=1e-6)
    scales = np.exp(np.stack([data[f"scale_{k}"] for k in range(3)], 1))
    np.testing.assert_allclose(scales[:, 0], 4.0 / (0.8 * 8), rtol=1e-5)  # depth / fx in pixels
    np.testing.assert_allclose(scales[:, 2], 0.1 * scales[:, 0], rtol=1e-5)  # thin along the optical axis


def test_the_identity_camera_splat_is_a_half_turn_about_x(tmp_path):
    write_world(tmp_path / "w", plane_record([0.5]), formats=("splats",), voxel=0)
    data = plyfile.PlyData.read(str(tmp_path / "w" / "splats.ply"))["vertex"].data
    np.testing.assert_allclose(np.stack([data[f"rot_{k}"] for k in range(4)], 1), [[0, 1, 0, 0]] * 48, atol=1e-7)
    np.testing.assert_allclose(np.stack([data[f"n{a}"] for a in "xyz"], 1), [[0, 0, 1]] * 48, atol=1e-7)


def test_quaternions_round_trip_every_rotation():
    generator = np.random.default_rng(0)
    q = generator.normal(size=(200, 4))
    q[:4] = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]  # half turns: w = 0
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1, 1)
    np.testing.assert_allclose(quaternion_from_rotation(rotation_from_quaternion(q)), q, atol=1e-12)


# ----------------------------------------------------------------------------------------- cameras


def test_cameras_txt_round_trips_through_the_realestate10k_reader(tmp_path, clip_record):
    write_world(tmp_path / "w", clip_record, formats=("cameras",), name="hills flight")
    clip = read_camera_file(tmp_path / "w" / "cameras.txt")
    assert clip.url == "hills flight"
    assert clip.timestamps.tolist() == [0, 41667, 83333]  # 24 fps
    torch.testing.assert_close(clip.cam_from_world, clip_record.cam_from_world, rtol=0, atol=0)
    torch.testing.assert_close(clip.intrinsics, clip_record.intrinsics, rtol=0, atol=0)


def test_transforms_json_inverts_the_poses_in_nerfstudio_axes(tmp_path, clip_record):
    write_world(tmp_path / "w", clip_record, formats=("points", "cameras"))
    folder = tmp_path / "w"
    transforms = json.loads((folder / "transforms.json").read_text())
    height, width = clip_record.size
    fx, fy, cx, cy = clip_record.intrinsics[0].tolist()
    assert transforms["camera_model"] == "OPENCV" and (transforms["w"], transforms["h"]) == (width, height)
    assert (transforms["fl_x"], transforms["fl_y"], transforms["cx"], transforms["cy"]) == (
        fx * width, fy * height, cx * width, cy * height)
    assert transforms["ply_file_path"] == "points.ply"
    flip4 = np.diag([1.0, -1.0, -1.0, 1.0])
    for index, frame in enumerate(transforms["frames"]):
        with Image.open(folder / frame["file_path"]) as image:
            assert image.size == (width, height)
        camera_to_world = np.array(frame["transform_matrix"])
        cam_from_world = np.vstack([clip_record.cam_from_world[index].numpy(), [0, 0, 0, 1]])
        # OpenGL camera <- file world == flip @ (OpenCV camera <- viewgen world) @ flip
        np.testing.assert_allclose(np.linalg.inv(camera_to_world), flip4 @ cam_from_world @ flip4, atol=1e-6)
    # the first frame's own points lie in front of it: -z in nerfstudio's camera axes
    positions, _ = read_vertices(folder / "points.ply")
    first = np.linalg.inv(np.array(transforms["frames"][0]["transform_matrix"]))
    in_camera = positions @ first[:3, :3].T + first[:3, 3]
    assert (in_camera[:, 2] < 0).mean() > 0.5


def test_per_frame_intrinsics_are_written_where_they_differ(tmp_path):
    record = plane_record([0.5, 0.5])
    record = WorldRecord(record.rgbd, record.cam_from_world, torch.tensor([[0.8, 1.0, 0.5, 0.5], [0.9, 1.2, 0.5, 0.5]]))
    write_world(tmp_path / "w", record, formats=("cameras",))
    frames = json.loads((tmp_path / "w" / "transforms.json").read_text())["frames"]
    assert "fl_x" not in frames[0] and frames[1]["fl_x"] == pytest.approx(0.9 * 8)
    assert sorted(p.name for p in (tmp_path / "w" / "images").iterdir()) == ["frame_00000.png", "frame_00001.png"]


# --------------------------------------------------------------------------- the folder and records


def test_every_format_into_one_folder_deterministically(tmp_path, clip_record):
    first = write_world(tmp_path / "a", clip_record)
    write_world(tmp_path / "b", clip_record)
    assert first.files == ("points.ply", "mesh.ply", "splats.ply", "cameras.txt", "transforms.json", "images/")
    names = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*"))
    assert names == sorted(p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b").rglob("*"))
    for name in names:
        if (tmp_path / "a" / name).is_file():
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.num_cameras == 3 and first.num_faces > 0 and first.num_points == first.num_splats > 0


def test_an_export_replaces_an_export_but_never_other_files(tmp_path):
    out = tmp_path / "w"
    write_world(out, plane_record([0.5]))
    write_world(out, plane_record([0.5]), formats=("mesh",))
    assert sorted(p.name for p in out.iterdir()) == ["mesh.ply"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match=r"will not replace .* not a world export \(notes.txt\)"):
        write_world(out, plane_record([0.5]))
    assert sorted(p.name for p in out.iterdir()) == ["mesh.ply", "notes.txt"]


def test_an_interrupted_export_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(world_files, "write_splats_ply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_world(tmp_path / "w", plane_record([0.5]))
    assert list(tmp_path.iterdir()) == []


def test_a_flight_record_round_trips(tmp_path, clip_record):
    record = WorldRecord(clip_record.rgbd, clip_record.cam_from_world, clip_record.intrinsics, fps=30.0)
    write_flight_record(tmp_path / "flight", record)
    names = sorted(p.name for p in (tmp_path / "flight").iterdir())
    assert names == ["cameras.json", *(f"disparity_{i:05d}.png" for i in range(3)),
                     *(f"frame_{i:05d}.png" for i in range(3))]
    back = read_flight_record(tmp_path / "flight")
    torch.testing.assert_close(back.rgbd[:, :3], record.rgbd[:, :3], rtol=0, atol=0.5 / 255 + 1e-6)
    torch.testing.assert_close(back.rgbd[:, 3], record.rgbd[:, 3], rtol=0, atol=0.5 / 65535 + 1e-7)
    torch.testing.assert_close(back.cam_from_world, record.cam_from_world, rtol=0, atol=0)
    torch.testing.assert_close(back.intrinsics, record.intrinsics, rtol=0, atol=0)
    assert back.fps == 30.0


def test_cameras_json_payload():
    intrinsics = torch.tensor([0.8, 1.0, 0.5, 0.5], dtype=torch.float64)
    payload = cameras_json_payload(torch.eye(4).expand(2, 4, 4), intrinsics, fps=12)
    assert payload["format"] == "viewgen-cameras" and payload["version"] == 1 and payload["fps"] == 12.0
    assert payload["frames"][1] == {"index": 1, "cam_from_world": torch.eye(4)[:3].tolist(),
                                    "intrinsics": [0.8, 1.0, 0.5, 0.5]}
    assert "fps" not in cameras_json_payload(torch.eye(4)[None, :3], torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"cam_from_world must be an \[N, 3, 4\] or \[N, 4, 4\] pose"):
        cameras_json_payload(torch.eye(3)[None], torch.ones(1, 4))


def _break(folder, how):
    if how == "no cameras.json":
        (folder / "cameras.json").unlink()
    elif how == "no disparity":
        for path in folder.glob("disparity_*.png"):
            path.unlink()
    elif how == "one disparity fewer":
        (folder / "disparity_00001.png").unlink()
    elif how == "a camera too many":
        payload = json.loads((folder / "cameras.json").read_text())
        payload["frames"].append({**payload["frames"][0], "index": 2})
        (folder / "cameras.json").write_text(json.dumps(payload))
    elif how == "a gap":
        (folder / "frame_00001.png").rename(folder / "frame_00005.png")
    elif how == "another size":
        Image.new("RGB", (3, 3)).save(folder / "frame_00001.png")
    elif how == "bad json":
        (folder / "cameras.json").write_text("{")
    elif how == "a bad pose":
        payload = json.loads((folder / "cameras.json").read_text())
        payload["frames"][1]["cam_from_world"][0][0] = 3.0
        (folder / "cameras.json").write_text(json.dumps(payload))


@pytest.mark.parametrize("how, message", [
    ("no cameras.json", r"has no cameras.json .*`viewgen fly --out DIR --save-disparity`"),
    ("no disparity", r"has frames but no disparity_00000.png .*`viewgen fly --out DIR --save-disparity`"),
    ("one disparity fewer", r"has 2 frame PNGs but 1 disparity PNGs"),
    ("a camera too many", r"has 3 cameras but .* has 2 frames"),
    ("a gap", r"has 2 frame PNGs but no frame_00001.png"),
    ("another size", r"frame_00001.png is 3x3, but frame_00000.png is 8x6"),
    ("bad json", r"cameras.json: not valid JSON"),
    ("a bad pose", r"cam_from_world has a rotation part R that is not orthonormal"),
])
def test_bad_flight_records_are_one_line_errors(tmp_path, how, message):
    folder = write_flight_record(tmp_path / "flight", plane_record([0.5, 0.5]))
    _break(folder, how)
    with pytest.raises(InputError, match=message) as error:
        read_flight_record(folder)
    assert "\n" not in str(error.value)


def test_missing_and_empty_flight_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_flight_record(tmp_path / "nothere")
    with pytest.raises(InputError, match="holds no frame_00000.png"):
        read_flight_record(tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda r: (r.rgbd[:, :3], r.cam_from_world, r.intrinsics), r"rgbd must be an \[N, 4, H, W\] tensor"),
    (lambda r: (r.rgbd, r.cam_from_world[:1], r.intrinsics), r"cam_from_world must be .* with N = 2"),
    (lambda r: (r.rgbd, r.cam_from_world, r.intrinsics[:, :3]), r"intrinsics must be"),
    (lambda r: (r.rgbd * 2, r.cam_from_world, r.intrinsics), r"rgbd frame 0 RGB must lie in \[0, 1\]"),
    (lambda r: (r.rgbd, r.cam_from_world * 2, r.intrinsics), r"cam_from_world has a rotation part"),
    (lambda r: (r.rgbd, r.cam_from_world, -r.intrinsics), r"intrinsics must have positive focal lengths"),
])
def test_bad_records_are_refused(change, message):
    with pytest.raises(InputError, match=message):
        WorldRecord(*change(plane_record([0.5, 0.5])))


@pytest.mark.parametrize("options, message", [
    ({"formats": ("points", "nerf")}, "formats must be some of points, mesh, splats, cameras"),
    ({"stride": 0}, "stride must be a whole number >= 1"),
    ({"voxel": -1.0}, "voxel must be a size >= 0"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, options, message):
    with pytest.raises(InputError, match=message):
        write_world(tmp_path / "w", plane_record([0.5]), **options)
    assert list(tmp_path.iterdir()) == []
