import pytest
import torch

from viewgen.evaluation.flight_stats import (
    color_drift,
    compensated_flicker,
    frozen_runs,
    high_frequency_energy,
    raw_flicker,
    sharpness,
    sky_fraction,
)
from viewgen.procedural.filters import gaussian_blur
from viewgen.rendering import warp_rgbd

INTRINSICS = torch.tensor([0.8, 0.8, 0.5, 0.5])


def _frames(count=3, size=(24, 32), seed=0):
    return torch.rand(count, 3, *size, generator=torch.Generator().manual_seed(seed))


def test_a_blurred_image_is_less_sharp_and_has_less_high_frequency_energy():
    frames = _frames()
    blurred = gaussian_blur(frames, 1.5)
    assert (sharpness(blurred) < sharpness(frames)).all()
    assert (sharpness(blurred, frames) < 0.5).all()
    assert torch.allclose(sharpness(frames, frames), torch.ones(3))
    assert (high_frequency_energy(blurred, frames) < 0.5).all()
    assert torch.allclose(high_frequency_energy(frames, frames), torch.ones(3))


def test_sky_fraction_counts_far_pixels():
    disparity = torch.full((2, 1, 4, 4), 0.5)
    disparity[0, :, :1] = 0.01  # the renderer's far plane
    disparity[1] = 0.0  # the synthetic world's sky
    assert torch.allclose(sky_fraction(disparity), torch.tensor([0.25, 1.0]))


def test_color_drift_against_frame_0():
    frames = _frames(2)
    mean = frames[0].mean(dim=(1, 2), keepdim=True)
    frames[1] = mean + 0.5 * (frames[0] - mean)  # half the contrast, same mean color
    frames = torch.cat([frames, frames[:1] * 0.5])
    drift = color_drift(frames)
    assert torch.allclose(drift.contrast_ratio, torch.tensor([1.0, 0.5, 0.5]), atol=1e-5)
    assert drift.mean_color_shift[0] == 0 and drift.mean_color_shift[1] < 1e-6 < drift.mean_color_shift[2]


def test_a_static_sequence_does_not_flicker():
    frames = _frames(1).expand(5, 3, 24, 32)
    assert torch.equal(raw_flicker(frames), torch.zeros(4))
    assert raw_flicker(_frames(5)).min() > 0.2


def _smooth_texture(size=(32, 48)):
    y, x = torch.meshgrid(torch.linspace(0, 1, size[0]), torch.linspace(0, 1, size[1]), indexing="ij")
    channels = [0.5 + 0.4 * torch.sin(12 * x), 0.5 + 0.4 * torch.cos(9 * y), 0.5 + 0.3 * torch.sin(7 * (x + y))]
    return torch.stack(channels)


def test_motion_compensated_flicker_of_a_pure_warp_sequence_is_small():
    """Frames are one RGBD image (a plane at depth 2) seen from cameras sliding sideways, holes filled."""
    rgbd = torch.cat([_smooth_texture(), torch.full((1, 32, 48), 0.5)]).unsqueeze(0)
    poses = torch.eye(4)[:3].repeat(4, 1, 1)
    poses[:, 0, 3] = torch.arange(4) * -0.05
    warped, mask = warp_rgbd(rgbd.expand(4, 4, 32, 48), poses[:1].expand(4, 3, 4), poses, INTRINSICS)
    frames = torch.where(mask > 0.25, warped[:, :3] / mask.sqrt().clamp_min(1e-6), rgbd[:, :3])
    disparity = torch.full((4, 1, 32, 48), 0.5)
    compensated = compensated_flicker(frames, disparity, poses, INTRINSICS)
    raw = raw_flicker(frames)
    assert compensated.shape == (3,)
    assert (compensated < 0.01).all() and (compensated < 0.2 * raw).all()


def test_a_frozen_run_is_found():
    frames = torch.cat([_frames(6), _frames(1, seed=1).expand(12, 3, 24, 32)])
    disparity = torch.rand(18, 1, 24, 32, generator=torch.Generator().manual_seed(3))
    disparity[6:] = 0.3
    assert frozen_runs(frames, disparity, min_length=10) == [(6, 18)]
    assert frozen_runs(frames, disparity, min_length=13) == []
    assert frozen_runs(_frames(12), min_length=2) == []


def test_statistics_are_deterministic():
    frames = _frames()
    assert torch.equal(sharpness(frames), sharpness(frames.clone()))
    assert torch.equal(high_frequency_energy(frames), high_frequency_energy(frames.clone()))


@pytest.mark.parametrize("call, message", [
    (lambda: sharpness(torch.rand(2, 1, 8, 8)), "frames must be an [N, 3, H, W] tensor"),
    (lambda: sharpness(torch.rand(2, 3, 8, 8), torch.rand(3, 3, 8, 8)), "reference must be"),
    (lambda: sky_fraction(torch.rand(2, 3, 8, 8)), "disparity must be an [N, 1, H, W] tensor"),
    (lambda: frozen_runs(torch.rand(3, 3, 8, 8), torch.rand(2, 1, 8, 8)), "disparity must be"),
    (lambda: frozen_runs(torch.rand(3, 3, 8, 8), min_length=1), "min_length must be at least 2"),
    (lambda: compensated_flicker(torch.rand(3, 3, 8, 8), torch.rand(3, 1, 8, 8), torch.eye(4)[:3], INTRINSICS),
     "cam_from_world must be"),
])
def test_bad_input_is_one_line_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)
