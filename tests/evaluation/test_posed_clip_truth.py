"""Protocol (a) on posed clips: clips read into flight units (exact scale from synthetic metadata,
a fitted one for real clips), the usable-clip listing, the config's checks, and a scored case."""

import shutil

import pytest
import torch

from viewgen.data.posed_clips import read_camera_file
from viewgen.data.synthetic.export import export_clips
from viewgen.evaluation.baselines import warp_nearest_fill
from viewgen.evaluation.metrics import psnr
from viewgen.evaluation.posed_clip_truth import SCALE_GRID, PosedClipsConfig, clip_truth, fit_scale, usable_clips
from viewgen.evaluation.protocols import METHODS, METRICS, run_clip_case
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

SIZE = (96, 160)  # the mesh warp drops the steep near ground of smaller frames


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    export_clips(root, num_clips=2, num_frames=7, height=SIZE[0], width=SIZE[1], seed=3, split="test")
    return root


def _config(root, **options):
    return PosedClipsConfig(root=str(root), num_frames=3, stride=2, height=SIZE[0], width=SIZE[1], **options)


def test_a_synthetic_clip_takes_its_exact_scale_and_disparity_from_its_files(dataset):
    config = _config(dataset)
    clips = usable_clips(config)
    assert [clip.name for clip in clips] == sorted(clip.name for clip in clips) and len(clips) == 2
    truth = clip_truth(clips[0], config)
    assert truth.rgbd.shape == (config.num_frames + 1, 4, *SIZE)
    assert truth.scale_source == "metadata"
    assert truth.scale == pytest.approx(1.0 / float(clips[0].disparity_scales[0]))
    assert torch.equal(truth.cam_from_world[0], torch.eye(4, dtype=torch.float64)[:3])
    # frame k of the case is clip frame k * stride, its translation relative to frame 0 scaled into depth units
    raw = clips[0].cam_from_world.double()
    k = config.num_frames * config.stride
    expected = raw[k, :, :3] @ raw[0, :, :3].T
    assert torch.allclose(truth.cam_from_world[-1, :, :3], expected, atol=1e-9)
    relative_translation = raw[k, :, 3] - expected @ raw[0, :, 3]  # pose units (metres)
    assert torch.allclose(truth.cam_from_world[-1, :, 3], relative_translation * truth.scale, atol=1e-9)
    assert truth.scale_gain is None
    assert bool((truth.rgbd[0, 3] > 0).any()) and not bool(truth.rgbd[1:, 3].any())


def test_the_fitted_scale_recovers_a_known_one():
    torch.manual_seed(0)
    rows = torch.linspace(0.2, 1.0, 40).view(40, 1).expand(40, 64)
    rgbd = torch.cat([torch.rand(1, 3, 40, 64), rows[None, None]], dim=1)
    poses = torch.eye(4, dtype=torch.float64)[:3].repeat(3, 1, 1)
    poses[1:, 0, 3] = torch.tensor([-2.0, -4.0], dtype=torch.float64)  # pose units: the camera moves right
    true_scale = 0.05
    scaled = poses.clone()
    scaled[:, :, 3] *= true_scale
    targets = warp_nearest_fill(rgbd, scaled.float(), torch.tensor([0.9, 1.4, 0.5, 0.5]))[1:, :3]
    fitted = fit_scale(rgbd, poses, torch.tensor([0.9, 1.4, 0.5, 0.5]), targets)
    step = (2.0 / 1e-3) ** (1.0 / (SCALE_GRID - 1))  # the grid's ratio between neighbours
    assert true_scale / step <= fitted.scale <= true_scale * step
    assert fitted.gain > 0.5  # the warps explain the targets far better than a still camera
    still = fit_scale(rgbd, poses, torch.tensor([0.9, 1.4, 0.5, 0.5]), rgbd[0, :3].expand(2, 3, 40, 64))
    assert still.gain <= 0.0  # targets equal to frame 0: no motion to see, flagged by the gain


def test_a_real_clip_gets_the_depth_backends_disparity_and_a_fitted_scale(dataset, tmp_path, monkeypatch):
    clip = usable_clips(_config(dataset))[1]
    folder = tmp_path / "real" / "test" / clip.name
    folder.mkdir(parents=True)
    shutil.copy(dataset / "test" / f"{clip.name}.txt", folder.parent)
    for path in clip.frame_paths:  # frames as JPEG, no disparity file, no metadata: as a real download
        from PIL import Image

        Image.open(path).convert("RGB").save(folder / f"{path.stem}.jpg", quality=95)
    real = read_camera_file(folder.parent / f"{clip.name}.txt")
    assert real.frame_paths[0].suffix == ".jpg" and real.disparity_scales is None
    asked = []

    def estimate(image, backend, size=None):
        asked.append((backend, size))
        return torch.full((1, 1, *size), 0.5)

    monkeypatch.setattr("viewgen.depth.estimate_disparity", estimate)
    config = _config(tmp_path / "real", depth="some-backend")
    truth = clip_truth(usable_clips(config)[0], config)
    assert asked == [("some-backend", SIZE)]
    assert truth.scale_source == "fitted" and truth.scale > 0 and truth.scale_gain is not None
    assert torch.equal(truth.rgbd[0, 3], torch.full(SIZE, 0.5))
    given = clip_truth(usable_clips(config)[0], config, estimator="built-once")  # a caller's estimator is used
    assert asked[-1] == ("built-once", SIZE) and torch.equal(given.rgbd, truth.rgbd)


def test_clips_too_short_or_without_frames_are_not_usable(dataset, tmp_path):
    assert len(usable_clips(_config(dataset, max_clips=1))) == 1
    with pytest.raises(ValueError, match="no clip with 13 frames .6 scored, stride 2."):
        usable_clips(PosedClipsConfig(root=str(dataset), num_frames=6, stride=2))
    (tmp_path / "bare").mkdir()
    shutil.copy(next((dataset / "test").glob("*.txt")), tmp_path / "bare")  # a camera file, no frames
    with pytest.raises(ValueError, match="1 camera file.s. found"):
        usable_clips(_config(tmp_path / "bare"))
    with pytest.raises(OSError, match="is not a folder"):
        usable_clips(_config(tmp_path / "missing"))


@pytest.mark.parametrize("options, needle", [
    ({"num_frames": 0}, "num_frames must be a whole number >= 1"),
    ({"stride": 0}, "stride must be"),
    ({"max_clips": 0}, "max_clips must be"),
    ({"height": 8}, "at least 16x16"),
])
def test_bad_settings_are_refused(options, needle):
    with pytest.raises(ValueError, match=needle):
        PosedClipsConfig(root=".", **options)


def test_a_clip_case_scores_the_flight_and_both_baselines_deterministically(dataset):
    config = _config(dataset)
    truth = clip_truth(usable_clips(config)[0], config)
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=SIZE))
    first, second = (run_clip_case(pipe, truth, config) for _ in range(2))
    assert first.preset == truth.name and set(first.scores) == set(METHODS)
    for method in METHODS:
        for metric in METRICS:
            assert first.scores[method][metric].shape == (config.num_frames,)
            assert torch.equal(first.scores[method][metric], second.scores[method][metric])
    assert first.sheet_flight.shape == (len(config.sheet_indices), 3, *SIZE)
    # the baselines fly the clip's scaled poses and are scored against its frames 1..N
    warped = warp_nearest_fill(truth.rgbd[0], truth.cam_from_world, truth.intrinsics)[1:, :3]
    assert torch.allclose(first.scores["warp_nearest_fill"]["psnr"], psnr(warped, truth.rgbd[1:, :3]).double())
