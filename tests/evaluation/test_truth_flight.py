"""The truth of protocol (b): the same autopilot flying the sample's own world."""

import torch

from viewgen.control.fly_dynamic import FlyDynamicConfig
from viewgen.evaluation.attitude import camera_attitude
from viewgen.evaluation.sample_worlds import clearance, render_truth, sample_world, world_poses
from viewgen.evaluation.truth_flight import fly_truth

SIZE = (48, 80)


def test_the_truth_flight_starts_at_the_sample_flies_level_and_keeps_the_frames_asked_for():
    sample = sample_world(2)
    counted = []
    flight = fly_truth(sample, FlyDynamicConfig(level=True), 12, [0, 4, 12], SIZE, progress=counted.append)
    assert flight.poses.shape == (13, 3, 4) and flight.poses.dtype == torch.float64
    assert torch.equal(flight.poses[0], torch.eye(4, dtype=torch.float64)[:3]) and sum(counted) == 12
    assert sorted(flight.frames) == [0, 4, 12] and flight.frames[4].shape == (1, 4, *SIZE)
    rgb, disparity = render_truth(sample, world_poses(sample, flight.poses[4][None]), *SIZE)
    assert torch.equal(flight.frames[4], torch.cat([rgb, disparity], dim=1))  # a full render at its own pose
    metric = world_poses(sample, flight.poses[1:])
    attitude = camera_attitude(metric)
    assert float(attitude.roll_deg.abs().max()) < 1.0 and not bool(attitude.upside_down.any())
    assert bool((clearance(sample, metric) > 0).all())
    assert float((flight.poses[-1][:, 3] - flight.poses[0][:, 3]).norm()) > 0  # it moved


def test_the_truth_flight_is_deterministic():
    sample = sample_world(1)
    one, two = (fly_truth(sample, FlyDynamicConfig(level=True), 6, [6], SIZE) for _ in range(2))
    assert torch.equal(one.poses, two.poses) and torch.equal(one.frames[6], two.frames[6])
