"""Posed clips made ready for training: a depth backend's disparity cached per frame, the clip's units fitted
(checked against a synthetic clip's exact units), resumable preparation, and the clip windows read from them."""

import json
import shutil

import pytest
import torch
from PIL import Image

from viewgen.data.clip_units import PREPARED_FILE, clip_units
from viewgen.data.datasets import PosedClipWindows
from viewgen.data.posed_clips import read_clips
from viewgen.data.prepared_clips import prepare_clips, prepared_with
from viewgen.data.synthetic.export import export_clips
from viewgen.io.images import read_disparity_png16
from viewgen.rendering import warp_rgbd


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    export_clips(root, num_clips=2, num_frames=8, height=96, width=160, seed=4, split="train")
    return root


class Oracle:
    """A depth 'backend' that returns each clip frame's exact disparity, in the order prepare_clips asks."""

    def __init__(self, clips) -> None:
        self.queue = [read_disparity_png16(path) for clip in clips for path in clip.disparity_paths]
        self.asked = 0

    def __call__(self, image, size=None, normalization="minmax"):
        self.asked += 1
        return torch.nn.functional.interpolate(self.queue.pop(0), size=size, mode="bilinear")


def _as_real(synthetic, root):
    """The synthetic clips as a real download: camera files and JPEG frames, no disparity, no metadata."""
    for clip in read_clips(synthetic, "train"):
        folder = root / "train" / clip.name
        folder.mkdir(parents=True)
        shutil.copy(synthetic / "train" / f"{clip.name}.txt", folder.parent)
        for path in clip.frame_paths:
            Image.open(path).convert("RGB").save(folder / f"{path.stem}.jpg", quality=95)
    return root


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory):
    """``(root, summary, estimator)``: the synthetic clips as real ones, prepared with the exact disparity."""
    real = _as_real(synthetic, tmp_path_factory.mktemp("prepared"))
    oracle = Oracle(read_clips(synthetic, "train"))
    return real, prepare_clips(real, oracle, "oracle"), oracle


def test_preparing_real_clips_recovers_the_synthetic_units(synthetic, prepared):
    exact = read_clips(synthetic, "train")
    real, summary, oracle = prepared
    assert (summary.prepared, summary.skipped, summary.frames) == (2, 0, 16) and oracle.asked == 16
    for truth, clip in zip(exact, read_clips(real, "train")):
        assert prepared_with(clip) == "oracle" and all(path.is_file() for path in clip.disparity_paths)
        fitted, known = clip_units(clip), clip_units(truth)
        assert fitted.source == "prepared:oracle" and known.source == "metadata"
        # each frame's disparity map into frame 0's unit, fitted on points, as the exact scales give it
        assert torch.allclose(torch.tensor(fitted.disparity_gain), torch.tensor(known.disparity_gain), rtol=0.03)
        assert max(abs(offset) for offset in fitted.disparity_offset) < 0.01
    again = prepare_clips(real, Oracle(exact), "oracle")  # a second run has nothing left to do
    assert (again.prepared, again.skipped, again.frames) == (0, 2, 0)
    windows = PosedClipWindows(real, "train", (96, 160), frames=2, stride=3)  # real clips train once prepared
    assert windows[0]["rgbd"].shape == (2, 4, 96, 160) and float(windows[0]["rgbd"][0, 3].max()) == pytest.approx(1)


def test_a_prepared_record_that_does_not_fit_its_clip_is_refused(prepared, tmp_path):
    real = tmp_path / "copy"
    shutil.copytree(prepared[0], real)
    clip = read_clips(real, "train")[0]
    record_path = clip.frame_paths[0].parent / PREPARED_FILE
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "timestamps": record["timestamps"][:-1]}))
    with pytest.raises(ValueError, match="was prepared for other frames"):
        clip_units(clip)
    record_path.write_text("{")
    with pytest.raises(ValueError, match="not a prepare-clips record"):
        clip_units(clip)


def _warp_error(window, length_scale):
    """Median absolute RGBD error, over the land the first frame sees, of its warps to the window's later poses."""
    rgbd, poses = window["rgbd"], window["cam_from_world"].clone()
    poses[:, :, 3] *= length_scale
    count = rgbd.shape[0] - 1
    warped, coverage = warp_rgbd(rgbd[:1].expand(count, -1, -1, -1), poses[:1].expand(count, -1, -1), poses[1:],
                                 window["intrinsics"])
    land = (coverage > 0.9) & (rgbd[1:, 3:] > 0.05)  # seen from the first frame; not the sky (disparity 0)
    return float((warped / coverage.clamp_min(1e-6) - rgbd[1:]).abs()[land.expand_as(warped)].median())


def test_windows_are_seeded_anchored_and_consistent_with_the_poses(synthetic):
    windows = PosedClipWindows(synthetic, "train", (96, 160), frames=3, stride=2, seed=1, num_windows=5)
    first, again = windows[3], windows[3]
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert first["rgbd"].shape == (3, 4, 96, 160) and first["cam_from_world"].shape == (3, 3, 4)
    assert torch.allclose(first["cam_from_world"][0], torch.eye(3, 4), atol=1e-6)
    assert float(first["rgbd"][0, 3].max()) == pytest.approx(1.0)
    clip_number, frames = windows.place(3)
    assert frames[1] - frames[0] == 2 and frames[-1] < len(windows.clips[clip_number][0])
    assert len(windows) == 5 and {windows.place(k)[0] for k in range(40)} == {0, 1}
    # in one unit: the first frame warped along the window's poses matches the later frames, far better than along
    # poses whose lengths are off by half (on the hills: the coast's glinting water changes with the view)
    hills = next(index for index in range(40) if "hills" in windows.clips[windows.place(index)[0]][0].name)
    window = windows[hills]
    assert _warp_error(window, 1.0) < 0.5 * min(_warp_error(window, 0.5), _warp_error(window, 2.0))
    with pytest.raises(IndexError):
        windows[-1]


def test_clips_without_known_disparity_are_not_windows(synthetic, tmp_path):
    real = _as_real(synthetic, tmp_path / "real")
    with pytest.raises(ValueError, match="0 with known disparity .run viewgen prepare-clips"):
        PosedClipWindows(real, "train", (48, 80), frames=2)
    with pytest.raises(ValueError, match="none with 17 frames"):
        PosedClipWindows(synthetic, "train", (48, 80), frames=9, stride=2)
