"""FlyThroughPipeline: parity with the original TF render-refine step and autocruise, real inputs, API.

Parity runs the converted shared fixture checkpoint (seeded random weights, see the fixture
README) against ``reference.npz``. Measured on CPU float32: the encoder's mu is within
9.95e-6 of TF's ``style_noise`` (TF's own float32 rounding is about 1e-5); one render-refine
step is within 6e-5 (max) and 1.3e-6 (mean); feeding TF's ``style_noise`` instead of our mu
moves the output by at most ~1e-5. Everything else runs on tiny random networks.
"""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from tests.helpers.shared import infinite_nature_checkpoint, load_reference, shared_path
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.convert import convert_infinite_nature_checkpoint
from viewgen.io.rgbd_files import InputError, load_rgbd_file
from viewgen.pipelines import (
    FlyThroughConfig,
    FlyThroughPipeline,
    make_controller,
    rescale_refined_disparity,
)

IDENTITY = torch.eye(4)[:3]
REAL_INPUTS = [f"autocruise_input{index}.pkl" for index in (1, 2, 3)]
STEP_LIMITS = {"max": 5e-3, "mean": 1e-4}


def nchw(array: np.ndarray) -> torch.Tensor:
    """``[H, W, C]`` or ``[1, H, W, C]`` numpy -> ``[1, C, H, W]`` tensor."""
    tensor = torch.from_numpy(array)
    return (tensor if tensor.dim() == 4 else tensor[None]).permute(0, 3, 1, 2)


def abs_diff(ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
    assert ours.shape == theirs.shape
    return (ours.double() - theirs.double()).abs()


def forward_pose(distance: float) -> torch.Tensor:
    """The camera moved ``distance`` along +z (world-to-camera translation ``-distance``)."""
    pose = IDENTITY.clone()
    pose[2, 3] = -distance
    return pose


def check_flight(frames, num_frames: int) -> None:
    """Finite frames in range that keep changing, and a camera that moves forward."""
    assert [frame.index for frame in frames] == list(range(1, num_frames + 1))
    rgbd = torch.cat([frame.rgbd for frame in frames])
    assert torch.isfinite(rgbd).all() and rgbd.min() >= 0 and rgbd.max() <= 1
    change = (rgbd[1:] - rgbd[:-1]).abs().mean(dim=(1, 2, 3))
    assert (change > 1e-4).all(), change.min()
    forward = [-float(frame.cam_from_world[2, 3]) for frame in frames]  # distance along the start look axis
    assert all(b > a for a, b in zip(forward, forward[1:]))


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return load_reference("infinite_nature")


@pytest.fixture(scope="module")
def converted_pipeline(tmp_path_factory) -> FlyThroughPipeline:
    """The shared TF fixture checkpoint, converted once for this module (never stored in the repo)."""
    prefix = infinite_nature_checkpoint(tmp_path_factory.mktemp("infinite_nature_tf"))
    weights_dir = tmp_path_factory.mktemp("infinite_nature_converted")
    convert_infinite_nature_checkpoint(prefix, weights_dir)
    return FlyThroughPipeline.from_pretrained(weights_dir)


@pytest.fixture(scope="module")
def our_style(converted_pipeline, reference) -> torch.Tensor:
    return converted_pipeline.encode_style(nchw(reference["input_rgbd"]))


# ----------------------------------------------------------------------------- parity with the original


def test_style_is_the_reference_style_noise(our_style, reference):
    diff = abs_diff(our_style[0], torch.from_numpy(reference["style_noise"]))
    assert our_style.shape == (1, 256)
    assert diff.max() <= 2e-5 and diff.mean() <= 5e-6  # measured 1.08e-5 and 2.3e-6


@pytest.mark.parametrize("conv", ["winograd", "direct"])
@pytest.mark.parametrize("suffix, pose_key", [("fixed", "pose_next_fixed"), ("fly_1", "fly_pose_1")])
def test_render_refine_matches_reference(converted_pipeline, our_style, reference, suffix, pose_key, conv):
    intrinsics = torch.from_numpy(reference["intrinsics"])
    args = (torch.from_numpy(reference["pose_identity"]), intrinsics, torch.from_numpy(reference[pose_key]), intrinsics)
    rgbd = nchw(reference["input_rgbd"])
    default_config = converted_pipeline.config
    converted_pipeline.config = replace(default_config, conv=conv)
    try:
        ours = converted_pipeline.render_refine(rgbd, our_style, *args)
    finally:
        converted_pipeline.config = default_config
    diff = abs_diff(ours, nchw(reference[f"render_refine_{suffix}"]))
    assert (diff.amax(dim=(0, 2, 3)) <= STEP_LIMITS["max"]).all() and diff.mean() <= STEP_LIMITS["mean"]
    # Measured on fly_1: max 5.7e-5, mean 1.4e-6 with PyTorch's AVX2 kernels (winograd and direct alike);
    # max 1.7e-4, mean 1.4e-6 with its AVX-512 kernels (convolutions round differently per instruction set).
    assert diff.max() <= 5e-4 and diff.mean() <= 5e-6
    disparity_diff = abs_diff(ours[:, 3:], nchw(reference[f"refined_disparity_{suffix}"]))
    assert disparity_diff.max() <= 5e-5 and disparity_diff.mean() <= 1e-6
    # Our mu or TF's style_noise: the style difference (~1e-5) barely reaches the frame.
    with_tf_style = converted_pipeline.render_refine(rgbd, torch.from_numpy(reference["style_noise"]), *args)
    assert abs_diff(ours, with_tf_style).max() <= 1e-4


def test_two_autocruise_steps_match_reference(converted_pipeline, reference):
    converted_pipeline.reset(nchw(reference["input_rgbd"]))
    first, second = converted_pipeline.step(), converted_pipeline.step()
    assert abs_diff(first.cam_from_world, torch.from_numpy(reference["fly_pose_1"])).max() <= 1e-5
    assert abs_diff(second.cam_from_world, torch.from_numpy(reference["fly_pose_2"])).max() <= 1e-5
    diff = abs_diff(first.rgbd, nchw(reference["render_refine_fly_1"]))
    assert diff.max() <= STEP_LIMITS["max"] and diff.mean() <= STEP_LIMITS["mean"]
    assert torch.equal(first.intrinsics, torch.tensor([0.8, 1.28, 0.5, 0.5]))


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_INPUTS)
def test_real_input_flies_100_frames_with_fixture_weights(converted_pipeline, name):
    loaded = load_rgbd_file(shared_path("real_inputs", name))
    check_flight(converted_pipeline(loaded.rgbd, num_frames=100), 100)


# ----------------------------------------------------------------------------- real inputs, tiny networks


@pytest.mark.parametrize("name", REAL_INPUTS)
def test_real_input_flight_with_tiny_networks(name):
    loaded = load_rgbd_file(shared_path("real_inputs", name))
    assert loaded.warnings == ()
    check_flight(tiny_pipeline()(loaded.rgbd, num_frames=40), 40)


def test_real_input_with_its_own_intrinsics_and_pose():
    loaded = load_rgbd_file(shared_path("real_inputs", REAL_INPUTS[0]))
    pipe = tiny_pipeline()
    start = pipe.reset(loaded.rgbd, intrinsics=loaded.intrinsics, cam_from_world=loaded.cam_from_world)
    assert torch.equal(start.intrinsics, loaded.intrinsics) and torch.equal(start.cam_from_world, loaded.cam_from_world)
    check_flight([pipe.step() for _ in range(3)], 3)


# ----------------------------------------------------------------------------- determinism and batching


def test_two_flights_are_identical():
    rgbd = scene_rgbd(*TINY_SIZE, seed=1)
    first, second = tiny_pipeline()(rgbd, num_frames=5), tiny_pipeline()(rgbd, num_frames=5)
    assert all(torch.equal(a.rgbd, b.rgbd) and torch.equal(a.cam_from_world, b.cam_from_world)
               for a, b in zip(first, second))


def test_sampled_style_follows_the_seed():
    rgbd = scene_rgbd(*TINY_SIZE, seed=1)
    styles = []
    for seed in (3, 3, 4):
        pipe = tiny_pipeline(style_temperature=1.0, seed=seed)
        pipe.reset(rgbd)
        styles.append(pipe.style)
    assert torch.equal(styles[0], styles[1]) and not torch.equal(styles[0], styles[2])
    assert not torch.equal(styles[0], tiny_pipeline().encode_style(rgbd))


def test_batch_of_two_equals_two_singles():
    pipe = tiny_pipeline()
    rgbd = torch.cat([scene_rgbd(*TINY_SIZE, seed=1), scene_rgbd(*TINY_SIZE, seed=2).flip(-1)])
    style = pipe.encode_style(rgbd)
    intrinsics = torch.tensor([0.8, 1.28, 0.5, 0.5])
    next_poses = torch.stack([forward_pose(0.3), forward_pose(1.5)])
    batched = pipe.render_refine(rgbd, style, IDENTITY, intrinsics, next_poses, intrinsics)
    for index in range(2):
        single = pipe.render_refine(rgbd[index:index + 1], style[index], IDENTITY, intrinsics,
                                    next_poses[index], intrinsics)
        torch.testing.assert_close(batched[index:index + 1], single, atol=1e-5, rtol=0)
        torch.testing.assert_close(style[index:index + 1], pipe.encode_style(rgbd[index:index + 1]),
                                   atol=1e-5, rtol=0)


def test_rescale_is_per_image_and_recovers_a_known_scale():
    generator = torch.Generator().manual_seed(0)
    warped = torch.rand(2, 1, 6, 8, generator=generator) * 0.25 + 0.2  # stays inside [0.01, 1] at x2
    mask = (torch.rand(2, 1, 6, 8, generator=generator) > 0.3).float()
    scales = torch.tensor([0.5, 2.0]).view(2, 1, 1, 1)
    rescaled = rescale_refined_disparity(warped * mask, mask, warped * scales)
    torch.testing.assert_close(rescaled, warped, rtol=1e-3, atol=0)  # 1e-4 in the denominator
    empty = rescale_refined_disparity(warped, torch.zeros_like(mask), warped * 0.5)
    assert torch.equal(empty, warped * 0.5)


# ------------------------------------------------------------- networks (weights: test_fly_through_weights.py)


def test_networks_of_different_sizes_are_refused():
    pipe = tiny_pipeline()
    with pytest.raises(ValueError, match="image sizes disagree"):
        FlyThroughPipeline(pipe.style_encoder, pipe.generator, FlyThroughConfig())


# ----------------------------------------------------------------------------- inputs and API


def test_input_is_resized_and_intrinsics_follow_its_aspect():
    pipe = tiny_pipeline()
    start = pipe.reset(scene_rgbd(90, 120, seed=3)[0])  # [4, H, W], aspect 4:3
    assert start.rgbd.shape == (1, 4, *TINY_SIZE) and start.index == 0
    torch.testing.assert_close(start.intrinsics, torch.tensor([0.8, 0.8 * 120 / 90, 0.5, 0.5]))
    assert torch.equal(start.cam_from_world, IDENTITY)


def test_constant_disparity_warns_but_flies():
    rgbd = scene_rgbd(*TINY_SIZE, seed=4)
    rgbd[:, 3] = 0.3
    pipe = tiny_pipeline()
    with pytest.warns(UserWarning, match="disparity is constant"):
        pipe.reset(rgbd)
    assert len(pipe.input_warnings) == 1
    assert torch.isfinite(pipe.step().rgbd).all()


@pytest.mark.parametrize("bad_value, message", [(math.nan, "NaN"), (math.inf, "infinite"), (1.5, r"\[0, 1\]")])
def test_bad_disparity_is_refused(bad_value, message):
    rgbd = scene_rgbd(*TINY_SIZE, seed=4)
    rgbd[0, 3, 5, 7] = bad_value
    with pytest.raises(InputError, match=message):
        tiny_pipeline().reset(rgbd)


@pytest.mark.parametrize("image", [torch.rand(1, 3, 80, 128), torch.rand(3, 80, 128), "photo.png"])
def test_rgb_image_needs_a_depth_backend(image):
    with pytest.raises(InputError, match="depth backend"):
        tiny_pipeline()(image, num_frames=1)


@pytest.mark.parametrize("shape", [(2, 4, 80, 128), (80, 128, 4), (1, 5, 80, 128), (4, 80)])
def test_wrong_input_shapes_are_refused(shape):
    with pytest.raises(InputError, match=r"\[1, 4, H, W\]"):
        tiny_pipeline().reset(torch.rand(shape))


def test_wrong_network_call_shapes_are_refused():
    pipe = tiny_pipeline()
    rgbd, intrinsics = scene_rgbd(*TINY_SIZE), torch.tensor([0.8, 1.28, 0.5, 0.5])
    with pytest.raises(ValueError, match="rgbd must be a"):
        pipe.encode_style(scene_rgbd(64, 128))
    with pytest.raises(ValueError, match="style must be"):
        pipe.render_refine(rgbd, torch.zeros(7), IDENTITY, intrinsics, forward_pose(0.2), intrinsics)
    with pytest.raises(RuntimeError, match="call reset"):
        pipe.step()


def test_call_options_controllers_and_steering():
    pipe = tiny_pipeline()
    rgbd = scene_rgbd(*TINY_SIZE, seed=5)
    stacked = pipe(rgbd, num_frames=3, output_type="tensor", controller="straight", speed=0.5)
    assert stacked.shape == (3, 4, *TINY_SIZE)
    assert float(pipe.frame.cam_from_world[2, 3]) == pytest.approx(-1.5)
    assert pipe(rgbd, num_frames=0, output_type="tensor").shape == (0, 4, *TINY_SIZE)
    seen = []
    frames = list(pipe.iter_frames(rgbd, 2, offset=lambda index: seen.append(index) or (1.0, 0.0)))
    assert seen == [1, 2] and len(frames) == 2
    steered = frames[-1].cam_from_world
    straight = pipe(rgbd, num_frames=2)[-1].cam_from_world
    assert steered[0, 2] < straight[0, 2]  # steering right turns the look axis toward +x
    controller = make_controller("circle", torch.tensor([0.8, 1.28, 0.5, 0.5]), IDENTITY, radius=1.0)
    assert pipe(rgbd, num_frames=1, controller=controller)[0].cam_from_world[0, 3] < 0
    with pytest.raises(ValueError, match="unknown option"):
        pipe(rgbd, num_frames=1, speeed=1.0)


def test_float64_pipeline():
    pipe = tiny_pipeline(dtype="float64")
    frame = pipe(scene_rgbd(*TINY_SIZE, seed=6), num_frames=1)[0]
    assert frame.rgbd.dtype == torch.float64 and torch.isfinite(frame.rgbd).all()


def test_an_unknown_conv_algorithm_is_refused():
    with pytest.raises(ValueError, match="conv must be one of winograd, direct, got 'fft'"):
        FlyThroughConfig(conv="fft")


@pytest.mark.gpu
def test_cuda_flight_matches_cpu():
    rgbd = scene_rgbd(*TINY_SIZE, seed=7)
    on_cpu = tiny_pipeline()(rgbd, num_frames=3, output_type="tensor")
    on_cuda = tiny_pipeline(device="cuda")(rgbd, num_frames=3, output_type="tensor")
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, atol=1e-3, rtol=0)


def test_step_none_means_no_steering_and_bad_offsets_fail_at_the_boundary():
    pipe = tiny_pipeline()
    rgbd = scene_rgbd(*TINY_SIZE, seed=5)
    pipe.reset(rgbd)
    unsteered = pipe.step(None)
    pipe.reset(rgbd)
    assert torch.equal(unsteered.rgbd, pipe.step((0.0, 0.0)).rgbd)
    pipe.reset(rgbd)
    assert torch.equal(unsteered.cam_from_world, pipe.step(torch.zeros(2)).cam_from_world)
    for offset, error, message in [(5, TypeError, "offset must be None or two numbers"),
                                   ("ab", TypeError, "offset must be None or two numbers"),
                                   ((1.0, 2.0, 3.0), ValueError, "two numbers"),
                                   ((math.nan, 0.0), ValueError, "finite")]:
        with pytest.raises(error, match=message):
            pipe.step(offset)
    assert pipe.frame.index == 1  # a refused offset flies no frame


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
@pytest.mark.parametrize("make", [lambda: tiny_pipeline(device="cuda"),
                                  lambda: FlyThroughPipeline.weight_free(FlyThroughConfig(device="cuda:0"))])
def test_cuda_without_cuda_is_refused_at_construction(make):
    with pytest.raises(ValueError, match="CUDA is not available .* use device 'cpu'"):
        make()


def test_an_unknown_device_is_refused_at_construction():
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        FlyThroughPipeline.weight_free(FlyThroughConfig(device="gpu0"))


def test_input_warnings_are_input_warnings():
    from viewgen.io.rgbd_files import InputWarning

    rgbd = scene_rgbd(*TINY_SIZE, seed=4)
    rgbd[:, 3] = 0.3
    with pytest.warns(InputWarning, match="disparity is constant"):
        tiny_pipeline().reset(rgbd)
