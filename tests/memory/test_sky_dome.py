"""SkyDome: frame 0's sky at infinity, seen by rotation only; ElevationTint: another sky taken to frame 0's."""

import math

import pytest
import torch

from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.memory.sky_dome import ElevationTint, SkyDome, ray_elevation

H, W = 24, 40


def _yaw_pose(yaw_deg: float, position=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """``cam_from_world [3, 4]`` of a camera at ``position`` turned ``yaw_deg`` about the y axis."""
    angle = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(angle), 0.0, -math.sin(angle)], [0.0, 1.0, 0.0],
                             [math.sin(angle), 0.0, math.cos(angle)]])
    return torch.cat([rotation, -(rotation @ torch.tensor(position)).view(3, 1)], dim=1)


def _frame0(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rgb = torch.rand(3, H, W, generator=torch.Generator().manual_seed(seed))
    sky = torch.zeros(H, W, dtype=torch.bool)
    sky[: H // 2] = True  # the upper half is sky, the lower half land
    return rgb, sky


def test_from_frame_0_the_dome_is_frame_0s_sky_and_gives_way_behind_its_land():
    rgb, sky = _frame0()
    intrinsics = default_intrinsics(H, W)
    dome = SkyDome(rgb, sky, _yaw_pose(0.0), intrinsics)
    seen, weight = dome.look(_yaw_pose(0.0), intrinsics, (H, W))
    assert seen.shape == (1, 3, H, W) and weight.shape == (1, 1, H, W)
    assert torch.allclose(seen[0][:, sky], rgb[:, sky], atol=1e-5)
    inner_sky, deep_land = weight[0, 0, 4:H // 2 - 4, 4:-4], weight[0, 0, H // 2 + 4:]
    assert bool((inner_sky > 0.98).all()) and bool((deep_land < 0.02).all())  # the caller's sky behind the land
    assert bool(((weight >= 0) & (weight <= 1)).all())
    below = seen[0, :, H // 2:]  # land rows: the sky spread in and blurred, not copied column by column
    low, high = (value.view(3, 1, 1) for value in rgb[:, sky].aminmax(dim=1))
    assert bool((below >= low - 1e-5).all() & (below <= high + 1e-5).all())
    streaks = (below[..., 1:] - below[..., :-1]).abs().mean()
    assert float(streaks) < 0.25 * float((rgb[:, H // 2 - 1, 1:] - rgb[:, H // 2 - 1, :-1]).abs().mean())


def test_moving_the_camera_does_not_move_the_sky_and_turning_it_does():
    rgb, sky = _frame0(1)
    intrinsics = default_intrinsics(H, W)
    dome = SkyDome(rgb, sky, _yaw_pose(0.0), intrinsics)
    still, _ = dome.look(_yaw_pose(0.0), intrinsics, (H, W))
    moved, _ = dome.look(_yaw_pose(0.0, position=(3.0, -2.0, 50.0)), intrinsics, (H, W))
    assert torch.equal(still, moved)
    turned, weight = dome.look(_yaw_pose(10.0), intrinsics, (H, W))
    assert not torch.allclose(turned, still)
    turned_away, away_weight = dome.look(_yaw_pose(180.0), intrinsics, (H, W))
    assert bool((away_weight == 0).all()) and bool(torch.isfinite(turned_away).all())
    assert float(weight[..., -1].max()) < 1.0  # the edge the turn brought in lies outside frame 0's view


def test_the_dome_is_deterministic_and_keeps_the_callers_size():
    rgb, sky = _frame0(2)
    intrinsics = default_intrinsics(H, W)
    looks = [SkyDome(rgb, sky, _yaw_pose(5.0), intrinsics).look(_yaw_pose(-3.0), intrinsics, (12, 20))
             for _ in range(2)]
    assert torch.equal(looks[0][0], looks[1][0]) and looks[0][0].shape == (1, 3, 12, 20)


DOWN = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # world y down, as the camera's


def test_ray_elevation_is_zero_on_the_optical_axis_of_a_level_camera_and_grows_upward():
    intrinsics = default_intrinsics(H + 1, W + 1)  # odd sizes: a pixel centre on the axis
    elevation = ray_elevation(_yaw_pose(30.0), intrinsics, (H + 1, W + 1), DOWN)
    assert elevation.shape == (H + 1, W + 1) and elevation.dtype == torch.float64
    assert float(elevation[H // 2, W // 2]) == pytest.approx(0.0, abs=1e-12)
    assert bool((elevation[:-1] > elevation[1:]).all())  # each row above sees higher
    fx, fy, cx, cy = intrinsics.tolist()
    top = math.atan((cy - 0.5 / (H + 1)) / fy)  # the top row's centre column
    assert float(elevation[0, W // 2]) == pytest.approx(top, abs=1e-6)


def test_the_tint_takes_the_other_sky_to_frame_0s_by_elevation_and_holds_beyond():
    intrinsics = default_intrinsics(H, W)
    elevation = ray_elevation(_yaw_pose(0.0), intrinsics, (H, W), DOWN)
    rgb, sky = _frame0()
    offset = 0.1 + 0.5 * elevation.float()  # frame 0's sky is brighter higher up, by 0.5 a radian
    other = (rgb - offset).clamp(0.0, 1.0)
    rgb = other + offset
    tint = ElevationTint(rgb, other, sky, sky, elevation, step_deg=1.0)
    seen = tint(elevation)[:, sky]
    torch.testing.assert_close(seen, offset[sky].double().expand(3, -1), atol=0.5 * math.radians(1.0), rtol=0)
    above = tint(torch.full((2, 2), math.radians(80.0)))  # higher than frame 0 saw: the highest offset held
    torch.testing.assert_close(above, tint(elevation[:1, W // 2:W // 2 + 1].expand(2, 2)), atol=0.01, rtol=0)
    assert torch.equal(tint(elevation), tint(elevation))


def test_without_common_sky_the_tint_is_zero():
    rgb, sky = _frame0()
    elevation = ray_elevation(_yaw_pose(0.0), default_intrinsics(H, W), (H, W), DOWN)
    tint = ElevationTint(rgb, rgb * 0.5, sky, ~sky, elevation)  # the two skies never overlap
    assert tint.table is None
    assert torch.equal(tint(elevation), torch.zeros(3, H, W, dtype=torch.float64))
