import math

import numpy as np
import pytest
import torch

from tests.helpers.shared import load_reference, shared_path
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig, skyline_balance
from viewgen.geometry.poses import camera_center

DEMO_INTRINSICS = torch.tensor([0.8, 1.28, 0.5, 0.5])
IDENTITY = torch.eye(4)[:3]
PARITY = 1e-5


def nchw(rgbd_hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgbd_hwc).permute(2, 0, 1)[None]


def rgbd_from_disparity(disparity: torch.Tensor) -> torch.Tensor:
    """[H, W] disparity -> [1, 4, H, W] with grey RGB."""
    return torch.cat([torch.full((3, *disparity.shape), 0.5), disparity[None]], dim=0)[None]


def halves(left: float, right: float, height: int = 8, width: int = 16) -> torch.Tensor:
    disparity = torch.full((height, width), right)
    disparity[:, : width // 2] = left
    return disparity


def look_axis(cam_from_world: torch.Tensor) -> torch.Tensor:
    """World direction of the camera's +z axis."""
    return cam_from_world[2, :3]


# ----------------------------------------------------------------------------- parity with the original


def test_first_pose_matches_original_next_pose():
    rgbd = np.load(shared_path("real_inputs", "rgbd.npy"))
    expected = np.load(shared_path("real_inputs", "next_pose.npy"))
    pose = FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(nchw(rgbd))
    assert pose.dtype == torch.float32 and pose.shape == (3, 4)
    assert np.abs(pose.numpy() - expected).max() <= PARITY


def test_two_stateful_steps_match_reference_fixture():
    ref = load_reference("infinite_nature")
    autopilot = FlyDynamic(torch.from_numpy(ref["intrinsics"]), torch.from_numpy(ref["pose_identity"]))
    first = autopilot.next(nchw(ref["input_rgbd"]))
    second = autopilot.next(nchw(ref["render_refine_fly_1"]))
    assert np.abs(first.numpy() - ref["fly_pose_1"]).max() <= PARITY
    assert np.abs(second.numpy() - ref["fly_pose_2"]).max() <= PARITY
    assert autopilot.frame_index == 2
    assert torch.equal(autopilot.cam_from_world, second)


# ----------------------------------------------------------------------------- an independent float64 model


def reference_fly(disparities, speed=0.2, offsets=None, meander=(100.0, 0.0), lerp=0.05):
    """The fly_dynamic formulas written out in numpy (identity start, demo intrinsics)."""
    fx, fy, cx, cy = DEMO_INTRINSICS.double().numpy()
    world_from_cam = np.eye(4)[:3]
    look = move = world_from_cam[:, 2].copy()
    position = np.zeros(3)
    poses = []
    for t, disparity in enumerate(disparities):
        dx, dy = offsets[t] if offsets else (0.0, 0.0)
        dx += math.sin(2 * math.pi * t / meander[0]) * meander[1]
        x, y, h = skyline_balance(disparity)
        if speed < 0:
            x, h = 1 - x, 1 - h
        down = world_from_cam[:, 1]
        targets = [((u - cx) / fx, (v - cy) / fy, 1.0) for u, v in ((x + dx, y + dy), (0.5, h))]
        world = [world_from_cam[:, :3] @ np.array(p) + world_from_cam[:, 3] for p in targets]
        new_look, new_move = (w - position for w in world)
        look = look * (1 - lerp) + new_look / np.linalg.norm(new_look) * lerp
        move = move * (1 - lerp) + new_move / np.linalg.norm(new_move) * lerp
        position = position + move * speed
        z = look / np.linalg.norm(look)
        x_axis = np.cross(down, z) / np.linalg.norm(np.cross(down, z))
        rotation = np.stack([x_axis, np.cross(z, x_axis), z], axis=1)
        world_from_cam = np.concatenate([rotation, position[:, None]], axis=1)
        poses.append(np.concatenate([rotation.T, -rotation.T @ position[:, None]], axis=1))
    return poses


def sky_left_scene(height=16, width=32):
    """Sky over the left half, mid-distance ground on the right, near ground at the bottom."""
    disparity = halves(0.02, 0.3, height, width)
    disparity[-3:] = 0.8
    return disparity


@pytest.mark.parametrize("speed", [0.2, -0.2])
def test_steps_match_the_formulas_forward_and_reverse(speed):
    scenes = [sky_left_scene(), sky_left_scene().flip(-1), torch.full((16, 32), 0.4)]
    autopilot = FlyDynamic(DEMO_INTRINSICS.double(), IDENTITY.double(), speed=speed)
    poses = [autopilot.next(rgbd_from_disparity(d)) for d in scenes]
    for pose, expected in zip(poses, reference_fly(scenes, speed=speed)):
        np.testing.assert_allclose(pose.numpy(), expected, atol=1e-12)


def test_reverse_flies_backwards_and_mirrors_the_sky_balance():
    scene = rgbd_from_disparity(sky_left_scene())
    forward, backward = FlyDynamic(DEMO_INTRINSICS, IDENTITY), FlyDynamic(DEMO_INTRINSICS, IDENTITY, speed=-0.2)
    forward_pose, backward_pose = forward.next(scene), backward.next(scene)
    assert camera_center(forward_pose)[2] > 0.19 and camera_center(backward_pose)[2] < -0.19
    assert look_axis(forward_pose)[0] < 0 < look_axis(backward_pose)[0]  # toward the sky, then mirrored


# ----------------------------------------------------------------------------- steering and meander


@pytest.mark.parametrize("offset, axis, sign", [((1.0, 0.0), 0, 1), ((-1.0, 0.0), 0, -1), ((0.0, 0.5), 1, 1)])
def test_offset_turns_toward_its_side(offset, axis, sign):
    scene = rgbd_from_disparity(torch.full((8, 16), 0.3))  # no sky, no near ground: neutral
    neutral = FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(scene)
    steered = FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(scene, offset=offset)
    assert sign * (look_axis(steered)[axis] - look_axis(neutral)[axis]) > 1e-3
    # positive x offset yaws right: the camera's +z gains a +x world component
    steered_again = FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(scene, offset=torch.tensor(offset))
    assert torch.equal(steered, steered_again)


def test_offset_matches_the_formulas_over_several_steps():
    scenes = [sky_left_scene()] * 4
    offsets = [(0.8, -0.2), (0.8, -0.2), (0.0, 0.3), (-1.0, 0.0)]
    autopilot = FlyDynamic(DEMO_INTRINSICS.double(), IDENTITY.double())
    poses = [autopilot.next(rgbd_from_disparity(d), offset=o) for d, o in zip(scenes, offsets)]
    for pose, expected in zip(poses, reference_fly(scenes, offsets=offsets)):
        np.testing.assert_allclose(pose.numpy(), expected, atol=1e-12)


def test_meander_starts_at_zero_then_wanders_right():
    scenes = [torch.full((8, 16), 0.3)] * 3
    plain = FlyDynamic(DEMO_INTRINSICS.double(), IDENTITY.double())
    wander = FlyDynamic(DEMO_INTRINSICS.double(), IDENTITY.double(), meander_x_period=4, meander_x_magnitude=0.5)
    plain_poses = [plain.next(rgbd_from_disparity(d)) for d in scenes]
    wander_poses = [wander.next(rgbd_from_disparity(d)) for d in scenes]
    assert torch.equal(plain_poses[0], wander_poses[0])  # sin(0) = 0 on the first frame
    assert look_axis(wander_poses[1])[0] > look_axis(plain_poses[1])[0] + 1e-3
    for pose, expected in zip(wander_poses, reference_fly(scenes, meander=(4.0, 0.5))):
        np.testing.assert_allclose(pose.numpy(), expected, atol=1e-12)


# ----------------------------------------------------------------------------- state, reset, dtype


def test_reset_replays_and_state_is_read_only():
    scene = rgbd_from_disparity(sky_left_scene())
    autopilot = FlyDynamic(DEMO_INTRINSICS, IDENTITY)
    first_run = [autopilot.next(scene) for _ in range(3)]
    autopilot.reset(IDENTITY)
    assert autopilot.frame_index == 0 and torch.equal(autopilot.position, torch.zeros(3, dtype=torch.float64))
    assert all(torch.equal(a, autopilot.next(scene)) for a in first_run)
    autopilot.position.add_(100.0)
    assert autopilot.position.abs().max() < 1.0
    with pytest.raises(AttributeError):
        autopilot.look_dir = torch.zeros(3)
    assert autopilot.move_dir.shape == (3,) and autopilot.look_dir.shape == (3,)


def test_pose_dtype_follows_the_start_pose_and_4x4_is_accepted():
    scene = rgbd_from_disparity(sky_left_scene())
    pose64 = FlyDynamic(DEMO_INTRINSICS, torch.eye(4, dtype=torch.float64)).next(scene)
    pose32 = FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(scene)
    assert pose64.dtype == torch.float64 and pose64.shape == (3, 4)
    assert torch.allclose(pose64.float(), pose32, atol=1e-7)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("shape", [(4, 8, 16), (1, 3, 8, 16), (2, 4, 8, 16), (1, 4, 8, 1)])
def test_bad_rgbd_shapes_raise(shape):
    with pytest.raises(ValueError, match="rgbd|disparity"):
        FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(torch.rand(shape))


def test_non_finite_disparity_raises_without_advancing():
    autopilot = FlyDynamic(DEMO_INTRINSICS, IDENTITY)
    rgbd = rgbd_from_disparity(torch.full((8, 16), 0.3))
    rgbd[0, 3, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        autopilot.next(rgbd)
    assert autopilot.frame_index == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"intrinsics": torch.tensor([0.8, 1.28, 0.5])}, "intrinsics"),
    ({"intrinsics": torch.tensor([0.0, 1.28, 0.5, 0.5])}, "positive"),
    ({"cam_from_world": torch.ones(3, 4)}, "rotation"),
    ({"cam_from_world": torch.eye(3)}, "shape"),
    ({"lerp": 1.5}, "lerp"),
    ({"meander_x_period": 0}, "non-zero"),
    ({"speed": float("nan")}, "finite"),
])
def test_bad_construction_raises(kwargs, message):
    arguments = {"intrinsics": DEMO_INTRINSICS, "cam_from_world": IDENTITY, **kwargs}
    with pytest.raises(ValueError, match=message):
        FlyDynamic(**arguments)


def test_bad_offset_raises():
    with pytest.raises(ValueError, match="offset"):
        FlyDynamic(DEMO_INTRINSICS, IDENTITY).next(rgbd_from_disparity(torch.rand(8, 16)), offset=(1.0,))


def test_from_config_equals_keywords():
    config = FlyDynamicConfig(speed=0.3, horizon=0.4)
    scene = rgbd_from_disparity(sky_left_scene())
    a = FlyDynamic.from_config(DEMO_INTRINSICS, IDENTITY, config)
    b = FlyDynamic(DEMO_INTRINSICS, IDENTITY, speed=0.3, horizon=0.4)
    assert a.config == config and torch.equal(a.next(scene), b.next(scene))


# ----------------------------------------------------------------------------- skyline_balance


@pytest.mark.parametrize("disparity, expected", [
    (torch.zeros(8, 16), (0.5, 1.2, 0.5)),  # all sky: look down, balanced
    (torch.full((8, 16), 0.3), (0.5, 0.2, 0.5)),  # no sky: look up by the horizon, balanced
    (halves(0.0, 0.3), (1e-4 / (1 + 2e-4), 0.7, 0.5)),  # sky on the left: turn left
    (halves(0.3, 0.0), ((1 + 1e-4) / (1 + 2e-4), 0.7, 0.5)),  # sky on the right: turn right
    (torch.ones(8, 16), (0.5, 0.2, -0.5)),  # all near ground: climb
    (torch.full((8, 16), 0.075), (0.5, 0.7, 0.5)),  # half-way up the sky ramp
    (torch.full((8, 16), 0.55), (0.5, 0.2, 0.0)),  # half-way up the ground ramp
])
def test_skyline_balance_known_answers(disparity, expected):
    # 1e-6: 0.075 and 0.55 are not exact in float32
    assert skyline_balance(disparity) == pytest.approx(expected, abs=1e-6)
    assert skyline_balance(disparity[None, None]) == skyline_balance(disparity)


def test_skyline_balance_odd_width_splits_at_floor_half():
    disparity = torch.full((4, 5), 0.3)
    disparity[:, :2] = 0.0  # exactly the left W // 2 = 2 columns are sky
    x, y, h = skyline_balance(disparity, horizon=0.25, near_fraction=0.1)
    assert x == pytest.approx(1e-4 / (1 + 2e-4))
    assert y == pytest.approx(0.5 + 0.4 - 0.25) and h == pytest.approx(0.35)


@pytest.mark.parametrize("disparity", [torch.zeros(8, 1), torch.zeros(2, 1, 8, 8), torch.tensor([[0.1, float("inf")]])])
def test_skyline_balance_rejects_bad_input(disparity):
    with pytest.raises(ValueError):
        skyline_balance(disparity)
