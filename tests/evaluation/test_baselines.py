"""The two baselines: repeat the start frame; plain warp with nearest-pixel fill."""

import pytest
import torch

from viewgen.evaluation.baselines import fill_nearest, repeat_start_frame, warp_nearest_fill
from viewgen.evaluation.ground_truth import ground_truth_clip

H, W = 32, 48


def _plane_rgbd(seed: int = 0) -> torch.Tensor:
    """``[4, H, W]``: smooth random colours on a fronto-parallel plane (disparity 0.5, no edges)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 6, generator=generator)
    rgb = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)[0]
    return torch.cat([rgb, torch.full((1, H, W), 0.5)])


def _forward_poses(count: int, step: float = 0.1) -> torch.Tensor:
    poses = torch.eye(4)[:3].repeat(count, 1, 1)
    poses[:, 2, 3] = -step * torch.arange(count)  # the camera moves forward
    poses[:, 0, 3] = 0.05 * torch.arange(count)  # and to the left, so holes open on one side
    return poses


def test_repeat_start_frame():
    rgbd = _plane_rgbd()
    frames = repeat_start_frame(rgbd, _forward_poses(3))
    assert frames.shape == (3, 4, H, W)
    assert all(torch.equal(frame, rgbd) for frame in frames)
    assert torch.equal(repeat_start_frame(rgbd[None], _forward_poses(1))[0], rgbd)


def test_warp_reproduces_the_start_frame_and_fills_every_hole():
    rgbd = _plane_rgbd()
    poses = _forward_poses(4, step=-0.3)  # backwards: the frame shrinks and leaves a border of holes
    frames = warp_nearest_fill(rgbd, poses, torch.tensor([0.8, 1.2, 0.5, 0.5]))
    assert frames.shape == (4, 4, H, W)
    error = (frames[0] - rgbd).abs()  # float32 rasterization drops a few pixel centres; their fill is close
    assert float(error.mean()) < 2e-3 and float((error > 2e-3).float().mean()) < 0.02
    assert bool(torch.isfinite(frames).all()) and float(frames[1:, :3].amin(dim=(1, 2, 3)).min()) > 0.0
    assert float(frames[1:, 3].min()) > 0.0  # no black or zero-disparity hole left


def test_warp_baseline_on_a_ground_truth_clip():
    """At 160x256 the warp's disparity-edge mask leaves few holes; at tiny sizes it masks most pixels."""
    clip = ground_truth_clip("coast", seed=0, height=160, width=256, num_frames=3)
    frames = warp_nearest_fill(clip.rgbd[0], clip.cam_from_world, clip.intrinsics)
    assert float((frames[0, :3] - clip.rgbd[0, :3]).abs().mean()) < 0.01
    assert float((frames[1:, :3] - clip.rgbd[1:, :3]).square().mean()) < 0.01
    assert torch.equal(frames, warp_nearest_fill(clip.rgbd[0], clip.cam_from_world, clip.intrinsics))


def test_fill_nearest_copies_the_nearest_known_pixel():
    image = torch.zeros(1, 1, 3, 5)
    image[0, 0, 1, 0], image[0, 0, 1, 4] = 1.0, 2.0
    known = image > 0
    filled = fill_nearest(image, known)
    assert filled[0, 0, 1, :2].tolist() == [1.0, 1.0] and filled[0, 0, 1, 3:].tolist() == [2.0, 2.0]
    assert filled[0, 0, 0, 0] == 1.0 and filled[0, 0, 2, 4] == 2.0


@pytest.mark.parametrize("rgbd, poses, message", [
    (torch.zeros(3, H, W), _forward_poses(2), "start rgbd"),
    (torch.zeros(2, 4, H, W), _forward_poses(2), "start rgbd"),
    (torch.full((4, H, W), float("nan")), _forward_poses(2), "finite"),
    (torch.zeros(4, H, W), torch.eye(4)[:3], "cam_from_world"),
    (torch.zeros(4, H, W), torch.zeros(0, 3, 4), "at least one pose"),
    ([0.0], _forward_poses(2), "torch.Tensor"),
])
def test_bad_input_is_one_line(rgbd, poses, message):
    for baseline in (repeat_start_frame, lambda r, p: warp_nearest_fill(r, p, torch.tensor([0.8, 1.2, 0.5, 0.5]))):
        with pytest.raises(ValueError, match=message) as error:
            baseline(rgbd, poses)
        assert "\n" not in str(error.value)


def test_warp_refuses_non_rigid_poses():
    poses = _forward_poses(2)
    poses[1, :, :3] *= 2.0
    with pytest.raises(ValueError) as error:
        warp_nearest_fill(_plane_rgbd(), poses, torch.tensor([0.8, 1.2, 0.5, 0.5]))
    assert "\n" not in str(error.value)
