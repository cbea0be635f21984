"""Protocol (b), long range: the sample worlds and their pose map, a tiny flight measured per window,
the patch-distance ratio, the config's checks, and its metrics block and report section."""

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F

from viewgen.data.synthetic.presets import scene_preset
from viewgen.evaluation.flight_stats import _laplacian_variance
from viewgen.evaluation.long_range import (
    FlightLog,
    LongRangeConfig,
    progress_frames,
    run_long_range_case,
    steering_offset,
)
from viewgen.evaluation.long_range_report import LONG_RANGE_FILES, TARGETS, long_range_metrics
from viewgen.evaluation.long_range_stats import WINDOW_STATS, longest_run, range_distances
from viewgen.evaluation.report import write_report
from viewgen.evaluation.sample_worlds import (
    clearance,
    raise_above_ground,
    render_truth,
    sample_world,
    shown_clearance,
    world_poses,
)
from viewgen.evaluation.truth_flight import sibling_world
from viewgen.geometry.poses import camera_center
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

TINY = LongRangeConfig(samples=(2,), num_frames=12, window=4, height=64, width=96, truth_stride=2,
                       new_content_lag=4, distance_ranges=((2, 12), (20, 30)), steer_frames=8, sheet_frames=3)


@pytest.fixture(scope="module")
def pipe():
    return FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(TINY.height, TINY.width)))


@pytest.fixture(scope="module")
def tiny_case(pipe):
    return run_long_range_case(pipe, 2, TINY)


@pytest.mark.parametrize("index", [1, 2, 3])
def test_the_truth_at_frame_0s_pose_is_the_sample(index):
    sample = sample_world(index)
    assert sample.world.config == scene_preset(sample.name).world  # the JSON rebuilds the preset's world
    identity = torch.eye(4)[:3][None]
    assert torch.equal(world_poses(sample, identity)[0], sample.cam_from_world)
    resized = F.interpolate(sample.rgbd, size=(64, 96), mode="bilinear", align_corners=False)  # as a flight does
    rgb, disparity = render_truth(sample, world_poses(sample, identity), 64, 96)  # formed as frame 0 was
    assert float((rgb - resized[:, :3]).abs().mean()) < 2e-3  # the renderer's settings only
    assert float((disparity - resized[:, 3:]).abs().mean()) < 2e-3
    direct_rgb, direct_disparity = render_truth(sample, world_poses(sample, identity), 64, 96, resolution="flight")
    assert direct_rgb.shape == rgb.shape and direct_disparity.shape == disparity.shape
    assert 2e-3 < float((direct_rgb - resized[:, :3]).abs().mean()) < 0.03  # its own pixels: resampling differs
    half = (sample.rgbd.shape[-2] // 2, sample.rgbd.shape[-1] // 2)  # each pixel the mean of 2x2 of the sample's
    formed, direct = (render_truth(sample, world_poses(sample, identity), *half, resolution=r)[0]
                      for r in ("input", "flight"))
    assert float(_laplacian_variance(direct)[0]) > 1.2 * float(_laplacian_variance(formed)[0])  # sharper than frame 0
    metres = float(clearance(sample, sample.cam_from_world[None])[0])
    assert 20.0 < metres < 150.0  # the preset's altitude
    shown = shown_clearance(sample, sample.rgbd, torch.eye(4)[:3], sample.intrinsics)
    assert shown == pytest.approx(metres / sample.disparity_scale, rel=0.15)  # the ground ahead, seen by the frame


def _plane_rgbd(sample, cam_from_world, offset: float, height: int = 48, width: int = 80) -> torch.Tensor:
    """``[1, 4, H, W]``: the plane ``offset`` below the camera along the sample's gravity (above it when < 0)."""
    down = (cam_from_world[:3, :3].double() @ sample.cam_from_world[:, :3]) @ torch.tensor([0.0, 1.0, 0.0],
                                                                                         dtype=torch.float64)
    fx, fy, cx, cy = sample.intrinsics.double().tolist()
    x = ((torch.arange(width, dtype=torch.float64) + 0.5) / width - cx) / fx
    y = ((torch.arange(height, dtype=torch.float64) + 0.5) / height - cy) / fy
    toward = x[None, :] * down[0] + y[:, None] * down[1] + down[2]  # [H, W] each ray's component along down
    disparity = (toward / offset).clamp(0.0, 1.0)  # 0 (sky) where the ray never meets the plane
    return torch.cat([torch.full((3, height, width), 0.5, dtype=torch.float64), disparity[None]])[None].float()


def test_shown_clearance_reads_the_ground_around_the_camera_above_or_below_it():
    sample = sample_world(1)
    level = torch.eye(4)[:3]
    assert shown_clearance(sample, _plane_rgbd(sample, level, 0.4), level, sample.intrinsics) == pytest.approx(0.4,
                                                                                                              rel=1e-3)
    pitched_up = torch.eye(4)[:3].clone()
    angle = math.radians(30.0)  # the camera looks 30 degrees up: its whole frame sees up
    pitched_up[1:3, 1:3] = torch.tensor([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    under = shown_clearance(sample, _plane_rgbd(sample, pitched_up, -1.0), pitched_up, sample.intrinsics)
    assert under == pytest.approx(-1.0, rel=1e-3)  # a ground above the camera: it is under the ground it shows
    far = _plane_rgbd(sample, pitched_up, -1.0)
    far[:, 3] = far[:, 3].clamp_max(1.0 / 40.0)  # the same points pushed out to 40 units and more: none near
    assert math.isnan(shown_clearance(sample, far, pitched_up, sample.intrinsics))
    sliver = _plane_rgbd(sample, pitched_up, -1.0)
    sliver[:, 3, 2:] = 0.0
    sliver[:, 3, :, 10:] = 0.0  # only a 2x10 corner shows that ground: less than 2% of the frame
    assert math.isnan(shown_clearance(sample, sliver, pitched_up, sample.intrinsics))


def test_flight_lengths_are_in_units_of_the_disparity_scale():
    sample = sample_world(2)
    forward = torch.eye(4)[:3].clone()
    forward[2, 3] = -1.0  # the camera moved one unit along its view axis
    poses = world_poses(sample, torch.stack([torch.eye(4)[:3], forward]))
    centers = camera_center(poses)
    assert float((centers[1] - centers[0]).norm()) == pytest.approx(sample.disparity_scale, rel=1e-6)
    assert torch.allclose(centers[1] - centers[0], sample.disparity_scale * sample.cam_from_world[2, :3])
    lifted, raised = raise_above_ground(sample, poses, 500.0)
    assert raised.tolist() == [True, True] and torch.allclose(clearance(sample, lifted), torch.full((2,), 500.0,
                                                                                                   dtype=torch.float64))
    assert torch.equal(lifted[:, :, :3], poses[:, :, :3])  # attitude kept
    sunk = forward.clone()
    sunk[1, 3] = -5.0  # five units down (camera +y is down, so the centre moves by -t)
    assert float(clearance(sample, world_poses(sample, sunk[None]))[0]) < 0


def test_a_tiny_flight_is_measured_in_every_window(tiny_case):
    assert tiny_case.sample.name == "hills" and tiny_case.start_truth_error < 2e-3  # the truth is formed as frame 0
    assert set(tiny_case.windows) == set(WINDOW_STATS)
    for name, values in tiny_case.windows.items():
        assert values.shape == (3,) and values.dtype == torch.float64, name
    windows = tiny_case.windows
    assert bool((windows["sharpness_ratio"] > 0).all()) and bool((windows["travelled"] > 0).all())
    assert bool(((windows["sky_fraction"] > 0) & (windows["sky_fraction"] < 1)).all())
    assert torch.allclose(windows["travelled_m"], windows["travelled"] * tiny_case.sample.disparity_scale)
    assert bool((windows["new_content"] > 0).all()) and bool((windows["truth_new_content"] > 0).all())
    assert bool((windows["pitch_max_deg"].abs() < 45).all()) and int(windows["upside_down"].sum()) == 0
    assert tiny_case.attitude["pitch_deg"].shape == (12,) and tiny_case.steered["pitch_deg"].shape == (8,)
    assert bool((windows["shown_clearance_min"] > 0).all()) and int(windows["truth_raised"].sum()) == 0
    assert tiny_case.steered["shown_clearance"].shape == (8,)
    assert tiny_case.sheet_flight.shape == tiny_case.sheet_truth.shape == (3, 3, 64, 96)
    near, beyond = tiny_case.distances
    assert near["truth_frames"] == 6 and near["ratio"] == pytest.approx(near["distance"] / near["floor"])
    assert near["ratio_adjacent"] == pytest.approx(near["distance"] / near["floor_adjacent"])
    assert near["floor"] > 0 and beyond["ratio"] is None and "ends at frame 12" in beyond["reason"]


def test_the_same_flight_gives_the_same_numbers(pipe, tiny_case):
    again = run_long_range_case(pipe, 2, TINY)
    for name in WINDOW_STATS:
        assert torch.equal(again.windows[name].nan_to_num(-1.0), tiny_case.windows[name].nan_to_num(-1.0)), name
    assert again.distances == tiny_case.distances


def _log_of(truth: torch.Tensor, flight: torch.Tensor) -> FlightLog:
    log = FlightLog()
    for k in range(truth.shape[0]):
        log.truth[k + 1] = {"truth_rgb": truth[k], "flight_rgb": flight[k]}
    return log


def test_a_flight_equal_to_the_truth_is_at_distance_0_and_noise_is_far():
    config = LongRangeConfig(samples=(2,), num_frames=8, window=8, truth_stride=1, new_content_lag=1,
                             distance_ranges=((1, 8),))
    truth = torch.rand(8, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    truth = truth * torch.linspace(0.9, 1.0, 8).view(8, 1, 1, 1)  # the world darkens along the path
    (perfect,) = range_distances(_log_of(truth, truth), config)
    assert perfect["distance"] == 0 and perfect["ratio"] == 0 and perfect["truth_frames"] == 8
    assert perfect["floor"] > perfect["floor_adjacent"] > 0  # far stretches differ more than neighbours
    noisy = (truth + 0.3 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    (worse,) = range_distances(_log_of(truth, noisy), config)
    assert worse["floor"] == perfect["floor"] and worse["ratio"] > 1.0 and worse["ratio_adjacent"] > worse["ratio"]


def test_runs_and_steering():
    assert longest_run([False, True, True, False, True]) == 2 and longest_run([]) == 0
    assert [steering_offset(k, 16) for k in (1, 3, 5, 9, 13, 16)] == [
        (1.0, 0.0), (0.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (0.0, 1.0), (0.0, 0.0)]


@pytest.mark.parametrize("options, needle", [
    ({"window": 20, "num_frames": 12}, "must not be longer than the flight"),
    ({"samples": (4,)}, "samples must be some of 1, 2, 3"),
    ({"truth_stride": 200}, "truth_stride must be between 1 and the window"),
    ({"new_content_lag": 7}, "must be a multiple of truth_stride"),
    ({"distance_ranges": ((5, 2),)}, "distance_ranges must be"),
    ({"height": 8}, "at least 16x16"),
    ({"truth": "world"}, "truth must be one of flight, poses"),
    ({"truth_resolution": "native"}, "truth_resolution must be one of input, flight"),
])
def test_bad_configs_are_refused_in_one_line(options, needle):
    with pytest.raises(ValueError, match=needle) as caught:
        LongRangeConfig(**options)
    assert "\n" not in str(caught.value)


def test_metrics_block_and_report_section(tiny_case, tmp_path):
    perceptual = {"fid": None, "kid": None, "fid_reason": "not here"}
    block = long_range_metrics(TINY, [tiny_case], "weight-free", 0, perceptual)
    json.dumps(block, allow_nan=False)
    assert block["frames"] == 12 and block["window"] == 4 and block["resolution"] == [64, 96]
    assert block["truth_resolution"] == "input"
    assert block["sample_names"] == ["hills"] and block["fid"] is None and block["fid_reason"] == "not here"
    assert set(block["headline"]["autopilot"]) == set(TARGETS)
    head = block["headline"]["autopilot"]["min_sharpness_ratio"]
    assert head["value"] == pytest.approx(float(tiny_case.windows["sharpness_ratio"].min()), rel=1e-5)
    assert head["met"] == (head["value"] >= 0.5)
    assert block["headline"]["autopilot"]["max_patch_ratio"]["value"] == pytest.approx(
        tiny_case.distances[0]["ratio"], rel=1e-5)
    gap = dataclasses.replace(tiny_case, windows={**tiny_case.windows, "new_content": torch.tensor([math.nan, 1, 1])})
    assert long_range_metrics(TINY, [gap], "", 0, perceptual)["cases"][0]["windows"]["new_content"][0] is None
    metrics = {"viewgen_version": "0.0", "protocols": ["long_range"], "long_range": block}
    write_report(metrics, None, [], tmp_path, (TINY, [tiny_case]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.md", "long_range_windows.png", "long_range_sheet_hills.png"])
    assert set(LONG_RANGE_FILES) >= {"long_range_windows.png", "long_range_sheet_hills.png"}
    report = (tmp_path / "report.md").read_text()
    assert block["truth"] == "flight" and "the same autopilot flying the sample's world itself" in report
    assert "## Long range (protocol b)" in report and "| smallest window sharpness, flight / truth | >= 0.5 |" in report
    assert "FID / KID not measured: not here." in report
    for table in report.split("\n\n"):  # every table's rows have as many cells as its header
        rows = [line for line in table.splitlines() if line.startswith("|")]
        assert len({row.count("|") for row in rows}) <= 1, rows[:3]


def test_world_config_round_trip_is_checked():
    from viewgen.evaluation.sample_worlds import world_config_from_dict

    values = json.loads(json.dumps(dataclasses.asdict(scene_preset("coast").world)))
    assert world_config_from_dict(values) == scene_preset("coast").world
    with pytest.raises(ValueError, match="has no field"):
        world_config_from_dict({**values, "moon": 1})


def test_the_truth_at_the_flights_poses_is_the_other_reading(pipe, tiny_case):
    posed = run_long_range_case(pipe, 2, dataclasses.replace(TINY, truth="poses"))
    assert torch.equal(posed.sheet_flight, tiny_case.sheet_flight)  # the flight itself is the same
    assert not torch.equal(posed.sheet_truth, tiny_case.sheet_truth)  # its truth is not
    frames = list(pipe.iter_frames(posed.sample.rgbd, max(TINY.sheet_indices), intrinsics=posed.sample.intrinsics))
    poses = torch.stack([frames[k - 1].cam_from_world.detach().double() for k in TINY.sheet_indices])
    expected = render_truth(posed.sample, world_poses(posed.sample, poses), TINY.height, TINY.width)[0]
    assert float((posed.sheet_truth - expected).abs().mean()) < 0.01  # the world at the flight's own poses


def test_a_sibling_world_is_the_same_family_with_another_seed():
    sample = sample_world(1)
    sibling = sibling_world(sample)
    assert sibling.world.config == dataclasses.replace(sample.world.config, seed=sample.world.config.seed + 1)
    assert sibling.name == sample.name and sibling.disparity_scale == sample.disparity_scale
    assert torch.equal(sibling.intrinsics, sample.intrinsics)
    assert sibling.rgbd.shape == sample.rgbd.shape and float((sibling.rgbd - sample.rgbd).abs().mean()) > 0.02
    assert 20.0 < float(clearance(sibling, sibling.cam_from_world[None])[0]) < 150.0  # placed as the preset places it
    with pytest.raises(ValueError, match="needs another seed"):
        sibling_world(sample, seed_offset=0)


def test_the_sibling_floor_is_the_family_reading(pipe, tiny_case):
    assert all(row["floor_sibling"] is None and row["ratio_sibling"] is None for row in tiny_case.distances)
    config = dataclasses.replace(TINY, sibling_floor=True)
    assert progress_frames(config) == progress_frames(TINY) + TINY.num_frames
    case = run_long_range_case(pipe, 2, config)
    near, beyond = case.distances
    assert {key: near[key] for key in ("distance", "floor", "floor_adjacent")} == {
        key: tiny_case.distances[0][key] for key in ("distance", "floor", "floor_adjacent")}  # the same flight
    assert near["floor_sibling"] > 0
    assert near["ratio_sibling"] == pytest.approx(near["distance"] / near["floor_sibling"])
    assert beyond["floor_sibling"] is None  # the flight ends before this range
    perceptual = {"fid": None, "kid": None, "fid_reason": "not here"}
    head = long_range_metrics(config, [case], "weight-free", 0, perceptual)["headline"]["autopilot"]
    assert head["max_patch_ratio_sibling"]["value"] == pytest.approx(near["ratio_sibling"], rel=1e-5)
    unmeasured = long_range_metrics(TINY, [tiny_case], "weight-free", 0, perceptual)["headline"]["autopilot"]
    assert unmeasured["max_patch_ratio_sibling"] == {"value": None, "target": "<= 2", "met": None}


def test_the_truth_refuses_an_unknown_resolution():
    sample = sample_world(2)
    with pytest.raises(ValueError, match="resolution must be one of input, flight") as caught:
        render_truth(sample, world_poses(sample, torch.eye(4)[:3][None]), 16, 16, resolution="native")
    assert "\n" not in str(caught.value)
