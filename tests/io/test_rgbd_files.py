import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

from tests.helpers.shared import shared_path
from viewgen.io.rgbd_files import InputError, RGBDInput, UnsafePickleError, load_rgbd_file, save_rgbd_npz, validate_rgbd


def random_rgbd_hwc(height=6, width=10, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (height, width, 4)).astype(np.float32)


def write_pickle(path, content, protocol=4):
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


# ----------------------------------------------------------------------------- the real pickles


@pytest.mark.parametrize("index, intrinsics, has_pose", [
    (1, [0.6456, 1.1478, 0.5, 0.5], True),
    (2, [0.5088, 0.9045, 0.5, 0.5], False),
    (3, [0.5093, 0.9054, 0.5, 0.5], False),
])
def test_real_autocruise_pickles_load(index, intrinsics, has_pose):
    loaded = load_rgbd_file(shared_path("real_inputs", f"autocruise_input{index}.pkl"))
    assert isinstance(loaded, RGBDInput) and loaded.warnings == ()
    assert loaded.rgbd.shape == (1, 4, 160, 256) and loaded.rgbd.dtype == torch.float32
    assert loaded.intrinsics.tolist() == pytest.approx(intrinsics, abs=1e-4)
    assert (loaded.cam_from_world is not None) == has_pose
    if has_pose:
        assert loaded.cam_from_world.shape == (3, 4) and loaded.cam_from_world.dtype == torch.float32


def test_real_pickle_rgbd_is_bit_identical_to_the_npy():
    expected = np.load(shared_path("real_inputs", "rgbd.npy"))
    loaded = load_rgbd_file(shared_path("real_inputs", "autocruise_input1.pkl"))
    assert np.array_equal(loaded.rgbd[0].permute(1, 2, 0).numpy(), expected)
    assert torch.equal(load_rgbd_file(shared_path("real_inputs", "rgbd.npy")).rgbd, loaded.rgbd)


# ----------------------------------------------------------------------------- hostile pickles


class _RunsACommand:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _EvalsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


class _Popen:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return subprocess.Popen, (["touch", self.marker],)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("payload, reference", [(_RunsACommand, "system"), (_EvalsCode, "eval"), (_Popen, "Popen")])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path, protocol, payload, reference):
    # protocols 0 and 2 spell some names the Python 2 way (__builtin__.eval, commands.Popen)
    marker = tmp_path / "pwned"
    content = {"input_rgbd": random_rgbd_hwc(), "input_intrinsics": payload(marker)}
    path = write_pickle(tmp_path / "autocruise_input.pkl", content, protocol)
    with pytest.raises(UnsafePickleError, match=f"refusing to load autocruise_input.pkl: it references .*{reference}"):
        load_rgbd_file(path)
    assert not marker.exists()
    assert isinstance(UnsafePickleError("x"), InputError) and isinstance(UnsafePickleError("x"), ValueError)


def test_numpy_functions_outside_the_allow_list_are_refused(tmp_path):
    # np.load could read further pickles; only the array rebuilders are admitted
    path = tmp_path / "sneaky.pkl"
    path.write_bytes(b"cnumpy\nload\n(S'x.npy'\ntR.")
    with pytest.raises(UnsafePickleError, match="numpy.load"):
        load_rgbd_file(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_numpy_pickles_of_every_protocol_load(tmp_path, protocol):
    rgbd = random_rgbd_hwc()
    content = {"input_rgbd": rgbd, "input_intrinsics": np.float32([0.8, 1.28, 0.5, 0.5]),
               "input_pose": np.eye(4)[:3], "scale": np.float32(2.0), "note": ["plain", ("containers",)]}
    loaded = load_rgbd_file(write_pickle(tmp_path / "input.pickle", content, protocol))
    assert np.array_equal(loaded.rgbd[0].permute(1, 2, 0).numpy(), rgbd)
    assert torch.equal(loaded.cam_from_world, torch.eye(4)[:3])


@pytest.mark.parametrize("content, message", [
    ([1, 2, 3], "expected a dict"),
    ({"rgbd": np.zeros((4, 4, 4), np.float32)}, "no 'input_rgbd'"),
    ({"input_rgbd": "not an array"}, "floating-point array"),
    ({"input_rgbd": np.zeros((5, 5, 3), np.float32)}, r"\[H, W, 4\]"),
])
def test_pickles_with_wrong_content_raise(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        load_rgbd_file(write_pickle(tmp_path / "bad.pkl", content))


# ----------------------------------------------------------------------------- npz / npy


def test_npz_round_trip(tmp_path):
    rgbd = torch.from_numpy(random_rgbd_hwc()).permute(2, 0, 1)[None]
    intrinsics = torch.tensor([0.8, 1.28, 0.5, 0.5])
    pose = torch.eye(4)[:3].clone()
    pose[:, 3] = torch.tensor([0.1, -0.2, 0.3])
    path = save_rgbd_npz(tmp_path / "scene.data", rgbd, intrinsics, torch.cat([pose, torch.eye(4)[3:]]))
    assert path == tmp_path / "scene.data"  # nothing appended
    loaded = load_rgbd_file(path.rename(tmp_path / "scene.npz"))
    assert torch.equal(loaded.rgbd, rgbd) and torch.equal(loaded.intrinsics, intrinsics)
    assert torch.equal(loaded.cam_from_world, pose)
    save_rgbd_npz(tmp_path / "bare.npz", rgbd.numpy()[0])
    bare = load_rgbd_file(tmp_path / "bare.npz")
    assert torch.equal(bare.rgbd, rgbd) and bare.intrinsics is None and bare.cam_from_world is None


@pytest.mark.parametrize("layout", ["hwc", "chw", "nchw", "nhwc"])
def test_npz_layouts(tmp_path, layout):
    hwc = random_rgbd_hwc()
    arrays = {"hwc": hwc, "chw": hwc.transpose(2, 0, 1), "nchw": hwc.transpose(2, 0, 1)[None], "nhwc": hwc[None]}
    np.savez(tmp_path / "in.npz", rgbd=arrays[layout])
    loaded = load_rgbd_file(tmp_path / "in.npz")
    assert np.array_equal(loaded.rgbd[0].permute(1, 2, 0).numpy(), hwc)


def test_ambiguous_layout_raises(tmp_path):
    np.save(tmp_path / "square.npy", np.zeros((4, 7, 4), np.float32))
    with pytest.raises(InputError, match="ambiguous layout"):
        load_rgbd_file(tmp_path / "square.npy")


def test_object_arrays_in_npz_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", rgbd=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="obj.npz"):
        load_rgbd_file(tmp_path / "obj.npz")


# ----------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("suffix", [".pkl", ".npz", ".npy"])
def test_truncated_files_raise_input_error(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    rgbd = random_rgbd_hwc(32, 48)
    if suffix == ".pkl":
        write_pickle(full, {"input_rgbd": rgbd})
    elif suffix == ".npz":
        save_rgbd_npz(full, rgbd)
    else:
        np.save(full, rgbd)
    data = full.read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 10):
        truncated = tmp_path / f"cut{suffix}"
        truncated.write_bytes(data[:cut])
        with pytest.raises(InputError, match=f"cannot read cut{suffix}"):
            load_rgbd_file(truncated)


@pytest.mark.parametrize("suffix", [".pkl", ".npz", ".npy"])
def test_garbage_files_raise_input_error(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(np.random.default_rng(1).bytes(300))
    with pytest.raises(InputError, match=f"garbage{suffix}"):
        load_rgbd_file(path)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_rgbd_file(tmp_path / "absent.npz")
    (tmp_path / "scene.png").write_bytes(b"\x89PNG")
    with pytest.raises(InputError, match="unsupported extension '.png'"):
        load_rgbd_file(tmp_path / "scene.png")


# ----------------------------------------------------------------------------- value checks


def nchw(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(hwc).permute(2, 0, 1)[None].contiguous()


@pytest.mark.parametrize("channel, value, message", [
    (3, np.nan, "disparity contains 1 NaN"),
    (3, np.inf, "disparity contains 0 NaN and 1 infinite"),
    (0, np.nan, "RGB contains 1 NaN"),
    (3, 1.5, r"disparity must lie in \[0, 1\]"),
    (1, -0.2, r"RGB must lie in \[0, 1\]"),
])
def test_bad_values_raise(tmp_path, channel, value, message):
    hwc = random_rgbd_hwc()
    hwc[2, 3, channel] = value
    with pytest.raises(InputError, match=message):
        validate_rgbd(nchw(hwc))
    np.savez(tmp_path / "bad.npz", rgbd=hwc)
    with pytest.raises(InputError, match="bad.npz: rgbd"):
        load_rgbd_file(tmp_path / "bad.npz")


def test_tiny_range_excursions_are_clamped(tmp_path):
    hwc = random_rgbd_hwc()
    hwc[0, 0, 3], hwc[0, 1, 0] = 1.00005, -0.00005
    np.savez(tmp_path / "edge.npz", rgbd=hwc)
    rgbd = load_rgbd_file(tmp_path / "edge.npz").rgbd
    assert float(rgbd.max()) == 1.0 and float(rgbd.min()) == 0.0


def test_soft_problems_are_reported_not_raised(tmp_path):
    hwc = random_rgbd_hwc()
    hwc[..., 3] = 0.4
    assert "constant" in validate_rgbd(nchw(hwc))[0]
    save_rgbd_npz(tmp_path / "flat.npz", hwc)
    assert "constant" in load_rgbd_file(tmp_path / "flat.npz").warnings[0]
    hwc[..., 3] = np.linspace(0.0, 0.04, hwc.shape[1])
    assert "sky" in validate_rgbd(nchw(hwc))[0]
    assert validate_rgbd(nchw(random_rgbd_hwc())) == ()


@pytest.mark.parametrize("rgbd", [torch.rand(4, 8, 8), torch.rand(1, 4, 1, 8), torch.rand(1, 4, 8, 8).int()])
def test_validate_rgbd_rejects_bad_tensors(rgbd):
    with pytest.raises(InputError):
        validate_rgbd(rgbd)


@pytest.mark.parametrize("key, value, message", [
    ("intrinsics", np.float32([0.8, 1.28, 0.5]), "positive focal"),
    ("intrinsics", np.float32([-0.8, 1.28, 0.5, 0.5]), "positive focal"),
    ("cam_from_world", np.ones((3, 4)), "not a rotation"),
    ("cam_from_world", np.eye(3), r"\[3, 4\]"),
    ("cam_from_world", np.full((3, 4), np.nan), "NaN"),
])
def test_bad_intrinsics_and_poses_raise(tmp_path, key, value, message):
    np.savez(tmp_path / "in.npz", rgbd=random_rgbd_hwc(), **{key: value})
    with pytest.raises(InputError, match=message):
        load_rgbd_file(tmp_path / "in.npz")
