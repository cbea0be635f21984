"""FlyDynamic's level mode: zero roll, bounded pitch and climb, no-signal relax, ground clearance."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from viewgen.control import make_controller
from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig
from viewgen.control.leveling import disparity_signal, ground_clearance, max_descent, pitch_of, with_pitch_in
from viewgen.data.samples import load_sample
from viewgen.evaluation.attitude import camera_attitude
from viewgen.geometry.poses import camera_center, invert_pose, look_direction_pose
from viewgen.networks.pretrained import config_from_dict, config_to_dict

K = torch.tensor([0.8, 1.28, 0.5, 0.5], dtype=torch.float64)
IDENTITY = torch.eye(4, dtype=torch.float64)[:3]
STEPS = 2000
PITCH_TOLERANCE_DEG = 1e-4  # camera_attitude reports float32 degrees


def rgbd_from_disparity(disparity: torch.Tensor) -> torch.Tensor:
    """[H, W] disparity -> [1, 4, H, W] with grey RGB."""
    return torch.cat([torch.full((3, *disparity.shape), 0.5, dtype=disparity.dtype), disparity[None]])[None]


def tilted_start() -> torch.Tensor:
    """A start pose whose down axis is not world +y (yawed, pitched and rolled), away from the origin."""
    look = torch.tensor([0.3, 0.4, 1.0], dtype=torch.float64)
    down = torch.tensor([0.5, 1.0, -0.2], dtype=torch.float64)
    return look_direction_pose(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), look, down)


def ramp_with_sky(height: int = 32, width: int = 48) -> torch.Tensor:
    """Sky over the top third, then ground whose disparity ramps up to 1 at the bottom row."""
    v = (torch.arange(height, dtype=torch.float64) + 0.5) / height
    return ((v - 0.35) / 0.65).clamp(0.0, 1.0)[:, None].expand(height, width).clone()


def sample_disparity() -> torch.Tensor:
    """Built-in sample 2's disparity, area-downsampled to [40, 64] (a fixed frame for every step)."""
    return F.interpolate(load_sample(2).rgbd[:, 3:].double(), size=(40, 64), mode="area")[0, 0]


SCENES = {
    "ramp": ramp_with_sky,
    "uniform": lambda: torch.full((32, 48), 0.3, dtype=torch.float64),
    "sample": sample_disparity,
}


def steering(frame: int) -> tuple[float, float]:
    """Look down for 500 frames, up for 500, turn right for 500, then let go."""
    return [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (0.0, 0.0)][min(frame // 500, 3)]


@functools.cache
def level_flight(scene: str, speed: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``STEPS`` level-mode poses ``[N, 3, 4]`` from the tilted start on a fixed frame, the gravity ``[3]`` and
    the clearance each step read before it moved ``[N]``."""
    autopilot = FlyDynamic(K, tilted_start(), speed=speed, level=True)
    frame = rgbd_from_disparity(SCENES[scene]())
    poses, clearances = [], []
    for t in range(STEPS):
        poses.append(autopilot.next(frame, steering(t)))
        clearances.append(autopilot.clearance)
    return torch.stack(poses), autopilot.gravity, torch.tensor(clearances, dtype=torch.float64)


FLIGHTS = [(scene, speed) for scene in SCENES for speed in (0.2, -0.2)]


# ----------------------------------------------------------------------------- attitude guarantees


@pytest.mark.parametrize("scene, speed", FLIGHTS)
def test_level_flight_never_rolls_and_keeps_pitch_bounded(scene, speed):
    poses, gravity, _ = level_flight(scene, speed)
    assert torch.allclose(gravity, invert_pose(tilted_start())[:, 1])
    attitude = camera_attitude(poses, world_down=gravity.tolist())
    rotation = poses[:, :, :3]
    roll = torch.rad2deg(torch.atan2(rotation[:, 0] @ gravity, rotation[:, 1] @ gravity))  # float64
    assert float(roll.abs().max()) < 1e-6
    assert float(attitude.pitch_deg.abs().max()) <= 25.0 + PITCH_TOLERANCE_DEG
    assert not bool(attitude.upside_down.any()) and float((rotation[:, 1] @ gravity).min()) > 0.9
    orthonormal = rotation @ rotation.transpose(1, 2) - torch.eye(3, dtype=torch.float64)
    assert float(orthonormal.abs().max()) < 1e-12


@pytest.mark.parametrize("scene, speed", FLIGHTS)
def test_steering_reaches_the_pitch_bounds_and_yaws_freely(scene, speed):
    poses, gravity, _ = level_flight(scene, speed)
    attitude = camera_attitude(poses, world_down=gravity.tolist())
    pitch = attitude.pitch_deg
    assert float(pitch[400:500].min()) > 24.9  # held down: clamped at +25 (looking down)
    assert float(pitch[900:1000].max()) < -24.9  # held up: clamped at -25
    heading = torch.deg2rad(attitude.heading_deg[1000:1500].double())
    turned = torch.remainder(heading.diff() + math.pi, 2 * math.pi) - math.pi
    assert float(turned.sum()) > 2 * math.pi  # held right: more than a full turn about gravity


@pytest.mark.parametrize("scene, speed", FLIGHTS)
def test_motion_climbs_and_descends_within_max_climb(scene, speed):
    """Within max_climb_deg while the nearby ground lies at least half min_clearance below the camera; nearer,
    a climb of at least max_climb_deg, never steeper than max_escape_climb_deg (steering up on a fixed frame
    shows ground above the camera)."""
    poses, gravity, clearances = level_flight(scene, speed)
    steps = camera_center(poses).diff(dim=0)
    assert torch.allclose(steps.norm(dim=-1), torch.full((STEPS - 1,), abs(speed), dtype=torch.float64))
    climb = torch.rad2deg(torch.asin((steps @ gravity / steps.norm(dim=-1)).clamp(-1, 1)))  # > 0 descends
    ground_below = clearances[1:] >= 0.5 * 0.15  # step t+1's motion was bounded by the clearance read at step t+1
    assert float(climb[ground_below].abs().max()) <= 15.0 + 1e-9
    assert float(climb.abs().max()) <= 60.0 + 1e-9
    escaping = climb[~ground_below]
    assert escaping.numel() == 0 or float(escaping.max()) <= -15.0 + 1e-9  # ground above: it climbs, 15 deg or more


def test_no_signal_relaxes_to_level():
    """A uniform frame without sky: after a dive the camera levels out instead of pitching on."""
    autopilot = FlyDynamic(K, IDENTITY, level=True)
    frame = rgbd_from_disparity(torch.full((32, 48), 0.3, dtype=torch.float64))
    for _ in range(100):
        autopilot.next(frame, (0.0, 1.0))
    assert pitch_of(autopilot.look_dir, autopilot.gravity) > math.radians(20)
    poses = torch.stack([autopilot.next(frame) for _ in range(500)])
    pitch = camera_attitude(poses).pitch_deg
    assert float(pitch[-1].abs()) < 0.5 and bool((pitch.diff() <= 1e-6).all())  # monotone toward level
    original = FlyDynamic(K, IDENTITY)
    original_poses = torch.stack([original.next(frame) for _ in range(600)])
    assert float(camera_attitude(original_poses).pitch_deg.abs().max()) > 80  # the original does not level


@pytest.mark.parametrize("speed", [0.2, -0.2])
def test_near_ground_everywhere_makes_the_camera_climb(speed):
    """A uniform near plane (no sky, disparity 0.8): the clearance is below min_clearance, so it climbs."""
    autopilot = FlyDynamic(K, IDENTITY, speed=speed, level=True)
    frame = rgbd_from_disparity(torch.full((32, 48), 0.8, dtype=torch.float64))
    heights = [float(-camera_center(autopilot.next(frame)) @ autopilot.gravity) for _ in range(200)]
    assert autopilot.clearance < autopilot.config.min_clearance
    assert all(b > a for a, b in zip(heights[20:], heights[21:]))
    assert heights[-1] > 150 * abs(speed) * math.sin(math.radians(10))


def _climb_deg(autopilot: FlyDynamic, frame: torch.Tensor, offset=(0.0, 0.0)) -> float:
    """Degrees the autopilot's next step (steered by ``offset``) climbs (< 0 descends)."""
    previous = autopilot.position
    autopilot.next(frame, offset)
    step = autopilot.position - previous
    return math.degrees(math.asin(float(-step @ autopilot.gravity) / float(step.norm())))


def test_ground_above_the_camera_makes_it_climb_steeper_than_max_climb():
    """Pitched 30 degrees up at a near wall (disparity 0.8): the lower half's points lie above the camera within
    3 units, so it climbs at the escape angle, not at max_climb_deg."""
    angle = math.radians(30.0)
    up_look = torch.tensor([0.0, -math.sin(angle), math.cos(angle)], dtype=torch.float64)
    start = look_direction_pose(torch.zeros(3, dtype=torch.float64), up_look, torch.tensor([0.0, 1.0, 0.0],
                                                                                           dtype=torch.float64))
    frame = rgbd_from_disparity(torch.full((32, 48), 0.8, dtype=torch.float64))
    autopilot = FlyDynamic(K, start, level=True)
    autopilot.set_gravity(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    assert _climb_deg(autopilot, frame) == pytest.approx(autopilot.config.max_escape_climb_deg, abs=1e-6)
    assert autopilot.clearance < -autopilot.config.min_clearance
    no_escape = FlyDynamic(K, start, level=True, max_escape_climb_deg=15.0)
    no_escape.set_gravity(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    assert _climb_deg(no_escape, frame) == pytest.approx(15.0, abs=1e-6)
    level = FlyDynamic(K, IDENTITY, level=True)  # level at the same wall: its lower half lies below, but near
    climb = _climb_deg(level, frame)
    assert 0.0 < level.clearance < 0.5 * level.config.min_clearance
    assert climb == pytest.approx(-math.degrees(max_descent(level.clearance, 0.15, math.radians(15.0),
                                                            math.radians(60.0))), abs=1e-6)
    assert 15.0 < climb < 60.0


@pytest.mark.parametrize("offset", [(0.0, -1.0), (1.0, 0.0)])
def test_a_steered_camera_counts_the_slope_ahead_above_it(offset):
    """Level at a near wall (disparity 0.8): unsteered only the lower half counts (the wall below eye level, near);
    steered, the view does not turn away by itself, so the wall above eye level counts too and it escapes."""
    frame = rgbd_from_disparity(torch.full((32, 48), 0.8, dtype=torch.float64))
    free, steered = FlyDynamic(K, IDENTITY, level=True), FlyDynamic(K, IDENTITY, level=True)
    free_climb, steered_climb = _climb_deg(free, frame), _climb_deg(steered, frame, offset)
    assert 0.0 < free.clearance and steered.clearance < -0.5 * steered.config.min_clearance  # the wall above it
    assert steered_climb == pytest.approx(steered.config.max_escape_climb_deg, abs=1e-6)
    assert steered_climb > free_climb + 10.0
    disparity = frame[0, 3].double()
    world_from_cam = torch.eye(4, dtype=torch.float64)[:3]
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    assert ground_clearance(disparity, K, world_from_cam, down, whole_frame=True) == steered.clearance
    assert ground_clearance(disparity, K, world_from_cam, down) == free.clearance


def test_escape_climb_config_is_checked():
    with pytest.raises(ValueError, match="max_escape_climb_deg"):
        FlyDynamicConfig(max_climb_deg=20.0, max_escape_climb_deg=10.0)
    with pytest.raises(ValueError, match="max_escape_climb_deg"):
        FlyDynamicConfig(max_escape_climb_deg=90.0)


def test_clearance_rule_alone_lifts_a_descending_camera():
    """Steered down over near ground: the descent stops and turns into a climb (h balance neutralized)."""
    flat = torch.full((32, 48), 0.8, dtype=torch.float64)
    autopilot = FlyDynamic(K, IDENTITY, level=True, near_fraction=1.0, horizon=-0.5)  # h = 0.5: no skyline climb
    frame, heights = rgbd_from_disparity(flat), []
    for _ in range(300):
        autopilot.next(frame, (0.0, 1.0))
        heights.append(float(-autopilot.position @ autopilot.gravity))
    assert heights[-1] > heights[100] > 0


# ----------------------------------------------------------------------------- defaults, determinism, config


def test_default_is_the_original_and_level_fields_are_ignored_without_level():
    frame = rgbd_from_disparity(ramp_with_sky())
    plain = FlyDynamic(K, IDENTITY)
    tuned = FlyDynamic(K, IDENTITY, max_pitch_deg=5.0, max_climb_deg=1.0, min_clearance=10.0, level_rate=0.5)
    assert plain.config.level is False
    for t in range(50):
        assert torch.equal(plain.next(frame, steering(t * 40)), tuned.next(frame, steering(t * 40)))
    assert plain.clearance is None


def test_level_flight_is_deterministic_and_reset_replays():
    frame = rgbd_from_disparity(sample_disparity())
    first, second = (FlyDynamic(K, tilted_start(), level=True) for _ in range(2))
    run = [first.next(frame, steering(t * 10)) for t in range(150)]
    assert all(torch.equal(a, second.next(frame, steering(t * 10))) for t, a in enumerate(run))
    first.reset(tilted_start())
    assert all(torch.equal(a, first.next(frame, steering(t * 10))) for t, a in enumerate(run))


def test_level_config_through_registry_and_json():
    config = FlyDynamicConfig(level=True, max_pitch_deg=10.0)
    assert config_from_dict(FlyDynamicConfig, config_to_dict(config)) == config
    controller = make_controller("autopilot", K, IDENTITY, level=True, max_pitch_deg=10.0)
    assert controller.config == config
    frame = rgbd_from_disparity(torch.zeros(32, 48, dtype=torch.float64))  # all sky: look down
    poses = torch.stack([controller.next(frame) for _ in range(200)])
    assert abs(float(camera_attitude(poses).pitch_deg[-1]) - 10.0) < PITCH_TOLERANCE_DEG


@pytest.mark.parametrize("field, value, message", [
    ("max_pitch_deg", -1.0, r"max_pitch_deg must lie in \[0, 90\)"),
    ("max_pitch_deg", 90.0, r"max_pitch_deg must lie in \[0, 90\)"),
    ("max_pitch_deg", 120.0, r"max_pitch_deg must lie in \[0, 90\)"),
    ("max_climb_deg", -5.0, r"max_climb_deg must lie in \[0, 90\)"),
    ("min_clearance", -0.1, "min_clearance must be >= 0"),
    ("level_rate", 1.5, r"level_rate must lie in \[0, 1\]"),
    ("level", "yes", "level must be true or false"),
    ("level", 1, "level must be true or false"),
    ("max_pitch_deg", float("nan"), "max_pitch_deg must be a finite number"),
])
def test_bad_level_config_raises_one_line(field, value, message):
    with pytest.raises(ValueError, match=message) as error:
        FlyDynamicConfig(**{field: value})
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=message):
        FlyDynamic(K, IDENTITY, **{field: value})


# ----------------------------------------------------------------------------- the helpers


def flat_ground_disparity(height: float, world_from_cam: torch.Tensor, size=(48, 64)) -> torch.Tensor:
    """Disparity [H, W] of a flat ground ``height`` below the camera (world down = +y); sky is 0."""
    rows, cols = size
    v = (torch.arange(rows, dtype=torch.float64) + 0.5) / rows
    u = (torch.arange(cols, dtype=torch.float64) + 0.5) / cols
    rays = torch.stack(torch.broadcast_tensors(((u - 0.5) / 0.8)[None], ((v - 0.5) / 1.28)[:, None],
                                               torch.ones(rows, cols, dtype=torch.float64)), dim=-1)
    falling = rays @ world_from_cam[:, :3].T[:, 1]  # world-y component per unit camera z
    return torch.where(falling > 0, falling / height, torch.zeros_like(falling)).clamp(max=1.0)


@pytest.mark.parametrize("pitch_deg", [0.0, 20.0, -10.0])
def test_ground_clearance_of_a_flat_ground_is_the_camera_height(pitch_deg):
    pitch = math.radians(pitch_deg)
    forward = torch.tensor([0.0, math.sin(pitch), math.cos(pitch)], dtype=torch.float64)
    world_from_cam = invert_pose(look_direction_pose(torch.zeros(3, dtype=torch.float64), forward,
                                                     torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)))
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    disparity = flat_ground_disparity(0.4, world_from_cam)  # the nearest rows lie within CLEARANCE_RANGE
    assert ground_clearance(disparity, K, world_from_cam, down) == pytest.approx(0.4, abs=1e-9)
    assert ground_clearance(torch.zeros(48, 64, dtype=torch.float64), K, world_from_cam, down) == math.inf


def test_sample_start_clearance_is_above_the_default_minimum():
    sample = load_sample(2)
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    clearance = ground_clearance(sample.rgbd[0, 3].double(), sample.intrinsics.double(), IDENTITY, down)
    assert FlyDynamicConfig().min_clearance < clearance < 1.0
    assert disparity_signal(sample.rgbd[0, 3].double()) == 1.0
    assert disparity_signal(torch.full((8, 8), 0.4, dtype=torch.float64)) == 0.0  # uniform ground: none
    assert disparity_signal(torch.zeros(8, 8, dtype=torch.float64)) == 1.0  # all sky: look down


def test_with_pitch_in_keeps_heading_and_clamps():
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    fallback = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    steep = torch.tensor([0.0, 3.0, 1.0], dtype=torch.float64)
    clamped = with_pitch_in(steep, down, -0.2, 0.3, fallback)
    assert pitch_of(clamped, down) == pytest.approx(0.3) and float(clamped.norm()) == pytest.approx(1.0)
    assert clamped[0] == 0 and clamped[2] > 0
    straight_down = with_pitch_in(down * 2, down, -0.2, 0.3, fallback)  # no heading: the fallback's
    assert torch.allclose(straight_down, torch.tensor([math.cos(0.3), math.sin(0.3), 0.0], dtype=torch.float64))
    relaxed = with_pitch_in(torch.tensor([0.0, 0.1, 1.0], dtype=torch.float64), down, -1.0, 1.0, fallback, relax=0.5)
    assert pitch_of(relaxed, down) == pytest.approx(0.5 * math.atan(0.1))


def test_max_descent_ramps_from_descent_to_climb():
    assert max_descent(1.0, 0.15, 0.2) == 0.2 and max_descent(0.01, 0.0, 0.2) == 0.2
    assert max_descent(0.75 * 0.15, 0.15, 0.2) == pytest.approx(0.0, abs=1e-12)
    assert max_descent(0.05, 0.15, 0.2) == -0.2 and max_descent(-3.0, 0.15, 0.2) == -0.2
    # with an escape climb: as before down to half min_clearance, then steeper, to the escape climb at -half of it
    assert max_descent(0.075, 0.15, 0.2, 1.0) == pytest.approx(-0.2)
    assert max_descent(0.1125, 0.15, 0.2, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert max_descent(0.0, 0.15, 0.2, 1.0) == pytest.approx(-0.6)
    assert max_descent(-3.0, 0.15, 0.2, 1.0) == -1.0 and max_descent(1.0, 0.15, 0.2, 1.0) == 0.2


def test_set_gravity_replaces_the_start_pose_down_axis_and_refuses_nonsense():
    pilot = FlyDynamic(torch.tensor([0.8, 1.2, 0.5, 0.5]), torch.eye(4)[:3], level=True)
    pilot.set_gravity(torch.tensor([0.0, 2.0, 0.2]))
    torch.testing.assert_close(pilot.gravity, torch.nn.functional.normalize(torch.tensor([0.0, 2.0, 0.2],
                                                                                        dtype=torch.float64), dim=0))
    for bad in (torch.zeros(3), torch.tensor([float("nan"), 1.0, 0.0])):
        with pytest.raises(ValueError, match="gravity"):
            pilot.set_gravity(bad)
