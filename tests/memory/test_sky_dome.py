"""SkyDome: frame 0's sky at infinity, seen by rotation only."""

import math

import torch

from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.memory.sky_dome import SkyDome

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
