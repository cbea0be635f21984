"""Zero's autopilot: parity with the original ``fly_camera.auto_pilot``, the controller, and bad inputs.

The fixture (``fixtures/infinite_nature_zero``) recorded the original's 3 standalone steps on the
input disparity and the 3 autopilot calls inside ``view_generation``; every recorded quantity
matches bit for bit on CPU. The run's speed (``0.025 * 7.5 * disp_gamma``, ``disp_gamma = 1``),
lerps, horizon and fractions are stated only in the fixture's README: they are
:class:`ZeroAutopilotConfig`'s defaults, checked here by name.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers.shared import max_abs_diff, reference_tensors
from viewgen.control.base import CameraController
from viewgen.control.zero_autopilot import (
    ZeroAutopilot,
    ZeroAutopilotConfig,
    ZeroAutopilotState,
    zero_autopilot_step,
    zero_skyline_balance,
)
from viewgen.geometry.intrinsics import pixel_matrix_to_intrinsics
from viewgen.geometry.poses import camera_center, compose_poses

PARITY = 1e-7  # observed 0.0 everywhere; about one float32 step at the magnitudes involved (<= 1)
STATE_KEYS = {"look": "look", "move": "move", "position": "position_f64"}


@pytest.fixture(scope="module")
def ref() -> dict[str, torch.Tensor]:
    return reference_tensors("infinite_nature_zero")


def rgbd_from_disparity(disparity: torch.Tensor) -> torch.Tensor:
    """``[1, H, W]`` disparity -> ``[1, 4, H, W]`` with grey RGB."""
    return torch.cat([torch.full((3, *disparity.shape[-2:]), 0.5), disparity], dim=0).unsqueeze(0)


def test_defaults_are_the_released_run():
    config = ZeroAutopilotConfig()
    assert (config.speed, config.looklerp, config.movelerp) == (0.025 * 7.5 * 1.0, 0.05, 0.2)
    assert (config.horizon, config.sky_fraction, config.near_fraction) == (0.4, 0.1, 0.3)


def test_start_state_is_the_originals(ref):
    start = ZeroAutopilotState.start()
    for name in ("look", "move", "down"):
        assert torch.equal(getattr(start, name), ref[f"vg_step1_autopilot_in_{name}"])
    assert torch.equal(start.position.double(), ref["vg_step1_autopilot_in_position_f64"])


# ----------------------------------------------------------------------------- parity with the original


def test_three_standalone_steps_match_original(ref):
    """``autopilot_step{s}_*``: the same input disparity each step; ``down`` from the returned pose."""
    pixel_matrix, disparity = ref["input_k_ref"][0], ref["input_real_rgbd"][:, 3]
    state = ZeroAutopilotState.start()
    step = 0
    while f"autopilot_step{step}_next_R" in ref:
        pose, state = zero_autopilot_step(pixel_matrix, disparity, state)
        assert max_abs_diff(pose[:, :, :3], ref[f"autopilot_step{step}_next_R"]) <= PARITY
        assert max_abs_diff(pose[:, :, 3], ref[f"autopilot_step{step}_next_t"]) <= PARITY
        assert max_abs_diff(state.down, ref[f"autopilot_step{step}_down_after"]) <= PARITY
        for name, key in STATE_KEYS.items():
            assert max_abs_diff(getattr(state, name), ref[f"autopilot_step{step}_{key}"]) <= PARITY
        assert pose.dtype == torch.float32 and state.position.dtype == torch.float64
        step += 1
    assert step == 3


@pytest.mark.parametrize("step", [1, 2, 3])
def test_view_generation_autopilot_calls_match_original(ref, step):
    """``vg_step{N}``: the recorded input state and the disparity the chain flew on (the input, then cur_disp)."""
    state = ZeroAutopilotState(**{name: ref[f"vg_step{step}_autopilot_in_{key}"]
                                  for name, key in (*STATE_KEYS.items(), ("down", "down"))})
    disparity = ref["input_real_rgbd"][:, 3] if step == 1 else ref[f"vg_step{step - 1}_cur_disp"]
    pose, state = zero_autopilot_step(ref["input_k_ref"][0], disparity, state)
    assert max_abs_diff(pose, ref[f"vg_step{step}_pose_w2c"][:, :3]) <= PARITY
    assert max_abs_diff(state.down, ref[f"vg_step{step}_down"]) <= PARITY
    for name, key in STATE_KEYS.items():
        assert max_abs_diff(getattr(state, name), ref[f"vg_step{step}_{key}"]) <= PARITY


@pytest.mark.parametrize("camera", ["pixel matrix", "normalized"])
def test_controller_matches_original(ref, camera):
    k_ref = ref["input_k_ref"][0]
    size = ref["input_real_rgbd"].shape[-1]
    intrinsics = k_ref
    if camera == "normalized":
        intrinsics = pixel_matrix_to_intrinsics(k_ref, size, size)
        intrinsics[2:] += 0.5 / size  # integer-pixel principal point -> corner origin
    autopilot = ZeroAutopilot(intrinsics, torch.eye(4)[:3])
    assert isinstance(autopilot, CameraController)
    for step in range(3):
        pose = autopilot.next(ref["input_real_rgbd"])
        assert pose.shape == (3, 4) and pose.dtype == torch.float32
        assert max_abs_diff(pose[:, :3], ref[f"autopilot_step{step}_next_R"][0]) <= PARITY
        assert max_abs_diff(pose[:, 3], ref[f"autopilot_step{step}_next_t"][0]) <= PARITY
        assert max_abs_diff(autopilot.state.position, ref[f"autopilot_step{step}_position_f64"]) <= PARITY
    assert autopilot.frame_index == 3 and torch.equal(autopilot.cam_from_world, pose)


# ----------------------------------------------------------------------------- controller behaviour


def test_flight_is_relative_to_the_start_pose(ref):
    angle = math.radians(20.0)
    start = torch.tensor([[math.cos(angle), 0.0, math.sin(angle), 0.3], [0.0, 1.0, 0.0, -0.1],
                          [-math.sin(angle), 0.0, math.cos(angle), 2.0]], dtype=torch.float64)
    moved = ZeroAutopilot(ref["input_k_ref"][0], start)
    at_origin = ZeroAutopilot(ref["input_k_ref"][0], torch.eye(4, dtype=torch.float64)[:3])
    for _ in range(3):
        pose, local = moved.next(ref["input_real_rgbd"]), at_origin.next(ref["input_real_rgbd"])
        assert pose.dtype == torch.float64
        torch.testing.assert_close(pose, compose_poses(local, start), rtol=0, atol=1e-12)
    travelled = float((camera_center(pose) - camera_center(start)).norm())
    assert 2.5 * 0.1875 < travelled <= 3 * 0.1875 + 1e-6  # about speed per frame, never more


def test_reset_speed_and_determinism(ref):
    rgbd = ref["input_real_rgbd"]
    autopilot = ZeroAutopilot(ref["input_k_ref"][0], torch.eye(4)[:3])
    first = [autopilot.next(rgbd) for _ in range(2)]
    autopilot.reset(torch.eye(4)[:3])
    assert autopilot.frame_index == 0 and torch.equal(autopilot.cam_from_world, torch.eye(4)[:3])
    assert all(torch.equal(a, autopilot.next(rgbd)) for a in first)
    autopilot.set_speed(0.0)
    assert autopilot.speed == 0.0
    torch.testing.assert_close(camera_center(autopilot.next(rgbd)), camera_center(first[1]), rtol=0, atol=1e-6)


def test_offset_steers_the_look_target(ref):
    rgbd = ref["input_real_rgbd"]
    straight = ZeroAutopilot(ref["input_k_ref"][0], torch.eye(4)[:3])
    steered = ZeroAutopilot(ref["input_k_ref"][0], torch.eye(4)[:3])
    straight.next(rgbd)
    steered.next(rgbd, offset=(0.5, 0.0))
    assert float(steered.state.look[0, 0]) > float(straight.state.look[0, 0]) + 0.005  # turned right
    assert torch.equal(steered.state.move, straight.state.move)


def test_skyline_balance_reads_sky_and_near_ground():
    disparity = torch.full((1, 8, 16), 0.3)
    disparity[:, :, 8:] = 0.0  # sky on the right half only
    x, y, h = zero_skyline_balance(disparity, horizon=0.4, sky_threshold=0.1, near_fraction=0.3)
    assert float(x) > 0.99 and abs(float(y) - 0.6) < 1e-6 and abs(float(h) - 0.7) < 1e-6
    _, y, h = zero_skyline_balance(torch.ones(1, 8, 16), 0.4, 0.1, 0.3)  # all near ground, no sky
    assert abs(float(y) - 0.1) < 1e-6 and abs(float(h) + 0.3) < 1e-6


def test_sky_on_the_right_turns_right():
    disparity = torch.full((1, 16, 16), 0.3)
    disparity[:, :8, 8:] = 0.0
    autopilot = ZeroAutopilot(torch.tensor([0.9, 0.9, 0.5, 0.5]), torch.eye(4)[:3])
    for _ in range(5):
        pose = autopilot.next(rgbd_from_disparity(disparity))
    assert float(pose[2, 0]) > 0.0  # the camera's +z has turned toward world +x


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("options, match", [
    ({"looklerp": 1.5}, r"ZeroAutopilotConfig.looklerp must lie in \[0, 1\]"),
    ({"movelerp": -0.1}, r"ZeroAutopilotConfig.movelerp must lie in \[0, 1\]"),
    ({"speed": float("nan")}, r"ZeroAutopilotConfig.speed must be a finite number"),
    ({"horizon": "0.4"}, r"ZeroAutopilotConfig.horizon must be a finite number"),
])
def test_config_refuses_bad_values(options, match):
    with pytest.raises(ValueError, match=match):
        ZeroAutopilotConfig(**options)


@pytest.mark.parametrize("intrinsics, match", [
    (torch.tensor([0.9, 0.9, 0.5]), r"intrinsics must be a \[4\] or \[3, 3\] tensor"),
    (torch.tensor([0.9, -0.9, 0.5, 0.5]), r"positive fx, fy"),
    (torch.zeros(3, 3), r"intrinsics K must be finite with positive fx, fy"),
])
def test_controller_refuses_bad_intrinsics(intrinsics, match):
    with pytest.raises(ValueError, match=match) as error:
        ZeroAutopilot(intrinsics, torch.eye(4)[:3])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("rgbd, offset, error, match", [
    (torch.zeros(4, 8, 8), (0, 0), ValueError, r"rgbd must be a \[1, 4, H, W\] tensor"),
    (torch.full((1, 4, 8, 8), float("nan")), (0, 0), ValueError, r"contains NaN"),
    (torch.zeros(1, 4, 8, 8), (0, 0, 0), ValueError, r"offset must hold two numbers"),
    ([[0.0]], (0, 0), TypeError, r"rgbd must be a torch.Tensor"),
])
def test_next_refuses_bad_inputs(rgbd, offset, error, match):
    autopilot = ZeroAutopilot(torch.tensor([0.9, 0.9, 0.5, 0.5]), torch.eye(4)[:3])
    with pytest.raises(error, match=match):
        autopilot.next(rgbd, offset)
    assert autopilot.frame_index == 0


def test_controller_refuses_a_non_rotation_start():
    with pytest.raises(ValueError, match="must be a rotation"):
        ZeroAutopilot(torch.tensor([0.9, 0.9, 0.5, 0.5]), 2 * torch.eye(4)[:3])
