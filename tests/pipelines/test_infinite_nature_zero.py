"""Infinite Nature Zero's flight: parity with the original ``view_generation`` chain, tiny flights, crash events.

The parity tests read ``fixtures/infinite_nature_zero`` (see its README): the original's input
batch made from ``real_inputs/autocruise_input1.pkl`` (``input_*`` keys) and its 3-step
``view_generation`` with sky correction (``vg_*`` keys), for a seeded random checkpoint, with the
fixed noise maps, dropout keep mask, z and mean latent it used (all read from the fixture).

Observed on CPU, float32, one thread: every input_* and vg_* key matches bit for bit (max |diff| 0,
no mask pixel and no saved PNG value differs). Tolerances: 1e-6 for the inputs and the autopilot,
1e-5 for images; the splatted disparity and the Sobel alpha of steps 2-3 sit on depth edges where one
float32 step of the pose moves them by ~1e-4 (the README: up to 1.8e-4 between one and two threads of
the original itself), so they get 5e-4.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tests.helpers.cpu import FIXTURE_KERNELS
from tests.helpers.shared import max_abs_diff, reference_tensors, shared_path
from viewgen.control.zero_autopilot import ZeroAutopilotState
from viewgen.errors import InputError, ViewgenRuntimeError
from viewgen.geometry.poses import compose_poses
from viewgen.io.rgbd_files import load_rgbd_file
from viewgen.networks.stylegan2 import CoModGenerator, CoModGeneratorConfig
from viewgen.pipelines.fly_through_weights import MissingWeightsError
from viewgen.pipelines.infinite_nature_zero import (
    InfiniteNatureZeroConfig,
    InfiniteNatureZeroPipeline,
    ZeroFlightOutput,
    ZeroFrame,
)
from viewgen.pipelines.zero_inputs import ZeroInputConfig, prepare_zero_inputs
from viewgen.refiners.stylegan import StyleGANRefinerConfig

FIXTURE = "infinite_nature_zero"
INPUT_ATOL, POSE_ATOL, IMAGE_ATOL, EDGE_ATOL = 1e-6, 1e-6, 1e-5, 5e-4
PNG_CHANGES = 8  # saved 8-bit values allowed to differ by 1 (the README: 4 differ between 1 and 2 threads)
if not FIXTURE_KERNELS:  # AVX-512 kernels (tests/helpers/cpu.py), measured: images 1.6e-5, edges 7.5e-4, 13 values
    IMAGE_ATOL, EDGE_ATOL, PNG_CHANGES = 4e-5, 1e-3, 16  # images: the README's 1-vs-2-thread spread (3.8e-5)
STEPS = 3  # the README: view_generation(..., num_steps=3)
PNG_ROUNDING = 0.499999999  # the README: imageio 2.22.4 writes floor(v * 255 + 0.499999999)


@pytest.fixture(scope="module")
def ref() -> dict[str, torch.Tensor]:
    return reference_tensors(FIXTURE)


@pytest.fixture(scope="module")
def pipe(one_thread) -> InfiniteNatureZeroPipeline:
    """The 65M-parameter fixture generator, loaded once, from the original's checkpoint folder."""
    return InfiniteNatureZeroPipeline.from_pretrained(shared_path("fixtures", FIXTURE, "checkpoints"))


@pytest.fixture(scope="module")
def source_rgbd() -> torch.Tensor:
    return load_rgbd_file(shared_path("real_inputs", "autocruise_input1.pkl")).rgbd


@pytest.fixture(scope="module")
def chain(pipe, ref, source_rgbd) -> list[dict]:
    """The 3-step flight with the fixture's style; per step: the frame, ``last_step`` and the autopilot states."""
    inputs = pipe.prepare(source_rgbd)
    noise = [ref["noise__" + name.replace(".", "_")] for name in pipe.refiner.generator.noise_names]
    style = pipe.refiner.sample_style(inputs.rgbd, keep_mask=ref["dropout_keep_mask"], z=ref["z"],
                                      mean_latent=ref["mean_latent"], noise=noise)
    frames = pipe.iter_frames(inputs, STEPS, style=style)
    records, before = [], pipe.controller.state
    for frame in frames:
        records.append({"frame": frame, "step": pipe.last_step, "before": before, "after": pipe.controller.state})
        before = records[-1]["after"]
    return records


# ----------------------------------------------------------------------------- inputs


INPUT_KEYS = {"input_real_rgbd": "rgbd", "input_real_rgbd_full": "rgbd_full", "input_k_ref": "pixel_matrix",
              "input_k_full": "full_pixel_matrix"}


def test_inputs_match_the_originals_batch(pipe, ref, source_rgbd):
    inputs = pipe.prepare(source_rgbd)
    for key, name in INPUT_KEYS.items():
        assert max_abs_diff(getattr(inputs, name).reshape(ref[key].shape), ref[key]) <= INPUT_ATOL, key
    assert max_abs_diff(inputs.sky_mask_full[0, 0], ref["input_sky_mask_full"]) == 0.0
    assert max_abs_diff(torch.tensor(inputs.disparity_range, dtype=torch.float64), ref["input_dmin_dmax"]) == 0.0
    for key in ("input_sky_offset", "vg_sky_offset"):
        assert inputs.sky_offset == float(ref[key])
    assert inputs.sky_ratio == float(ref["input_sky_ratio"])
    assert inputs.vertical_offset == 0 and inputs.warnings == ()
    torch.testing.assert_close(inputs.intrinsics, torch.tensor([0.96049106, 0.96049106, 0.5, 0.5]))


def test_rgbd_or_image_plus_disparity_give_the_same_inputs(source_rgbd):
    together = prepare_zero_inputs(source_rgbd)
    apart = prepare_zero_inputs(source_rgbd[0, :3].permute(1, 2, 0).numpy(), source_rgbd[0, 3])
    assert torch.equal(together.rgbd, apart.rgbd) and torch.equal(together.rgbd_full, apart.rgbd_full)
    assert together.sky_offset == apart.sky_offset


# ----------------------------------------------------------------------------- the 3-step chain

POSE_KEYS = ("pose_w2c", "fly_se3", "look", "move", "down", "position_f64", "autopilot_in_look",
             "autopilot_in_move", "autopilot_in_down", "autopilot_in_position_f64")
IMAGE_KEYS = ("warp_init_rgb", "warp_init_disp", "warp_init_mask", "next_rgbd_raw", "next_alpha", "init_sky_mask",
              "m_disp_2", "m_disp_2_blur", "refine_rgb_corrected", "cur_disp", "rast_disp")
MASK_KEYS = ("disocc_mask",)
SCALAR_KEYS = ("sky_fraction_m_disp_2",)


def chain_value(record: dict, name: str) -> torch.Tensor:
    """The pipeline's value for the fixture's ``vg_stepN_<name>``."""
    step, frame, before, after = record["step"], record["frame"], record["before"], record["after"]
    state_names = {"look": "look", "move": "move", "down": "down", "position_f64": "position"}
    if name.startswith("autopilot_in_"):
        return getattr(before, state_names[name.removeprefix("autopilot_in_")])
    if name in state_names:
        return getattr(after, state_names[name])
    return {
        "pose_w2c": lambda: step.cam_from_start[None], "fly_se3": lambda: step.fly[None],
        "warp_init_rgb": lambda: step.dome.rgb, "warp_init_disp": lambda: step.dome.disparity,
        "warp_init_mask": lambda: step.dome.coverage, "next_rgbd_raw": lambda: frame.rgbd,
        "next_alpha": lambda: step.alpha, "init_sky_mask": lambda: step.sky.dome_sky, "m_disp_2": lambda: step.sky.sky,
        "m_disp_2_blur": lambda: step.sky.blend, "refine_rgb_corrected": lambda: frame.carried_rgbd[:, :3],
        "cur_disp": lambda: frame.carried_rgbd[:, 3], "rast_disp": lambda: step.refinement.warp.disparity[:, 0],
        "disocc_mask": lambda: step.refinement.warp.mask[:, 0].bool(),
        "sky_fraction_m_disp_2": lambda: torch.tensor([frame.sky_fraction]),
    }[name]()


def test_every_vg_key_is_checked(ref):
    names = POSE_KEYS + IMAGE_KEYS + MASK_KEYS + SCALAR_KEYS
    checked = {f"vg_step{n}_{name}" for n in range(1, STEPS + 1) for name in names}
    checked |= {"vg_sky_offset", "vg_saved_png_frames"}
    assert {key for key in ref if key.startswith("vg_")} == checked


def test_the_chain_ran_without_a_crash(chain):
    assert [record["frame"].index for record in chain] == [1, 2, 3]
    assert all(record["frame"].event is None for record in chain)
    assert torch.equal(chain[0]["before"].look, ZeroAutopilotState.start().look)


@pytest.mark.parametrize("step", range(1, STEPS + 1))
@pytest.mark.parametrize("name", POSE_KEYS)
def test_chain_cameras(chain, ref, step, name):
    assert max_abs_diff(chain_value(chain[step - 1], name), ref[f"vg_step{step}_{name}"]) <= POSE_ATOL


@pytest.mark.parametrize("step", range(1, STEPS + 1))
@pytest.mark.parametrize("name", IMAGE_KEYS)
def test_chain_images(chain, ref, step, name):
    edge = step > 1 and name in ("rast_disp", "next_alpha")
    tolerance = EDGE_ATOL if edge else IMAGE_ATOL
    assert max_abs_diff(chain_value(chain[step - 1], name), ref[f"vg_step{step}_{name}"]) <= tolerance


@pytest.mark.parametrize("step", range(1, STEPS + 1))
def test_chain_masks_and_sky_fraction(chain, ref, step):
    ours = chain_value(chain[step - 1], "disocc_mask")
    assert ours.shape == ref[f"vg_step{step}_disocc_mask"].shape
    assert int((ours != ref[f"vg_step{step}_disocc_mask"]).sum()) == 0
    fraction = chain_value(chain[step - 1], "sky_fraction_m_disp_2")
    assert max_abs_diff(fraction, ref[f"vg_step{step}_sky_fraction_m_disp_2"]) <= IMAGE_ATOL


def test_saved_frames_are_the_refined_frames(chain, ref):
    saved = ref["vg_saved_png_frames"].int()
    ours = torch.stack([torch.floor(r["frame"].rgb[0].permute(1, 2, 0) * 255 + PNG_ROUNDING) for r in chain]).int()
    assert int((ours - saved).abs().max()) <= 1 and int((ours != saved).sum()) <= PNG_CHANGES


# ----------------------------------------------------------------------------- tiny flights

TINY = CoModGeneratorConfig(resolution=32, latent_dim=8, mapping_layers=2, channel_base=64, style_channel_base=32,
                            channel_max=16)
TINY_SETTINGS = InfiniteNatureZeroConfig(refiner=StyleGANRefinerConfig(mean_latent_samples=64))


def tiny_generator(disparity_bias: float) -> CoModGenerator:
    """Seeded random weights; every ToRGB's disparity bias set to ``disparity_bias`` (< 0: sky, > 0: near)."""
    torch.manual_seed(0)
    model = CoModGenerator(TINY)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
            if name.endswith("ToRGB.bias"):
                parameter[0, 3] = disparity_bias
    return model


def tiny_pipe(disparity_bias: float = -3.0, **config) -> InfiniteNatureZeroPipeline:
    return InfiniteNatureZeroPipeline(tiny_generator(disparity_bias), dataclasses.replace(TINY_SETTINGS, **config))


def landscape(sky_rows: int = 16, height: int = 48, width: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB ``[1, 3, H, W]`` and disparity ``[H, W]``: sky (0 to 0.02) above ``sky_rows``, ground nearing below."""
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 3, height, width, generator=gen) * 0.2 + torch.linspace(0.2, 0.6, height).view(1, 1, -1, 1)
    disparity = torch.linspace(0.3, 1.0, height).view(-1, 1).expand(height, width).clone()
    disparity[:sky_rows] = torch.linspace(0.0, 0.02, sky_rows).view(-1, 1)
    return rgb, disparity


def test_tiny_frame_zero_and_first_frames():
    pipe = tiny_pipe()
    rgb, disparity = landscape()
    frame = pipe.reset(rgb, disparity)
    assert isinstance(frame, ZeroFrame) and frame.index == 0 and frame.rgbd.shape == (1, 4, 32, 32)
    assert pipe.inputs.rgbd_full.shape == (1, 4, 48, 48) and pipe.inputs.sky_offset > 0
    assert pipe.style.kernels is not None  # the modulated kernels are computed once per flight
    for index in (1, 2, 3):
        frame = pipe.step()
        assert frame.index == index and frame.event is None and 0.05 <= frame.sky_fraction <= 0.6
        assert not torch.equal(frame.carried_rgbd, frame.rgbd)  # the sky was corrected
        assert frame.cam_from_world.shape == (3, 4) and frame.intrinsics.shape == (4,)


def test_tiny_20_frame_flight_has_no_nan():
    rgb, disparity = landscape()
    flight = tiny_pipe(stop_on_crash=False)(rgb, 20, disparity=disparity)
    assert isinstance(flight, ZeroFlightOutput) and len(flight) == 20
    assert flight.rgbd.shape == (20, 4, 32, 32) and flight.poses.shape == (20, 3, 4)
    for stack in (flight.rgbd, flight.carried_rgbd, flight.poses, flight.intrinsics):
        assert bool(torch.isfinite(stack).all())
    assert float(flight.poses[-1, 2, 3]) < -2.0  # flew forward, about 0.19 per frame


def test_tiny_flights_are_reproducible_and_the_seed_matters():
    rgb, disparity = landscape()
    first = tiny_pipe()(rgb, 3, disparity=disparity, output_type="tensor")
    again = tiny_pipe()(rgb, 3, disparity=disparity, output_type="tensor")
    other = tiny_pipe(seed=1)(rgb, 3, disparity=disparity, output_type="tensor")
    assert torch.equal(first, again) and max_abs_diff(first, other) > 1e-4


def test_fresh_noise_per_frame_is_reproducible():
    settings = dataclasses.replace(TINY_SETTINGS.refiner, fixed_noise=False)
    rgb, disparity = landscape()
    first = tiny_pipe(refiner=settings)(rgb, 2, disparity=disparity, output_type="tensor")
    assert torch.equal(first, tiny_pipe(refiner=settings)(rgb, 2, disparity=disparity, output_type="tensor"))


def test_crash_is_an_event_and_keeps_the_frames():
    pipe = tiny_pipe(disparity_bias=3.0)  # everything near: none of the expected sky is left
    rgb, disparity = landscape()
    flight = pipe(rgb, 10, disparity=disparity)
    assert len(flight) == 1 and flight.crashed and flight.events == (flight[0].event,)
    event = flight[0].event
    assert event.kind == "crash" and event.frame_index == 1 and event.sky_fraction < 0.05
    assert "obstacle" in event.message and "\n" not in event.message
    assert torch.equal(flight[0].carried_rgbd, flight[0].rgbd.clamp(0, 1))  # no sky correction on that frame
    with pytest.raises(ViewgenRuntimeError, match=r"stopped at frame 1 .*call reset\(\)"):
        pipe.step()
    assert pipe.frame is flight[0] and pipe.events == flight.events


def test_lost_in_the_sky_and_flying_on_after_a_crash():
    rgb, disparity = landscape(sky_rows=46)  # almost all sky, and the refined frames are sky too
    flight = tiny_pipe(stop_on_crash=False)(rgb, 3, disparity=disparity)
    assert len(flight) == 3 and len(flight.events) == 3
    assert all(event.sky_fraction > 0.6 and "lost in the sky" in event.message for event in flight.events)


def test_no_sky_turns_the_correction_off():
    pipe = tiny_pipe(disparity_bias=3.0)
    rgb, disparity = landscape()
    flight = pipe(rgb, 2, disparity=disparity, sky_mask=torch.zeros(48, 64))
    assert pipe.inputs.sky_offset == 0.0 and any("no sky found" in text for text in pipe.input_warnings)
    assert len(flight) == 2 and not flight.events and flight[0].sky_fraction is None


def test_steering_and_the_start_pose():
    rgb, disparity = landscape()
    pipe = tiny_pipe()
    pipe.reset(rgb, disparity)
    straight = pipe.step((0.0, 0.0)).cam_from_world
    pipe.reset(rgb, disparity)
    steered = pipe.step((0.5, 0.0)).cam_from_world
    assert max_abs_diff(straight, steered) > 1e-6
    angle = math.radians(30.0)
    start = torch.tensor([[math.cos(angle), 0.0, math.sin(angle), 1.0], [0.0, 1.0, 0.0, 0.0],
                          [-math.sin(angle), 0.0, math.cos(angle), 2.0]])
    assert torch.equal(pipe.reset(rgb, disparity, cam_from_world=start).cam_from_world, start)
    moved = pipe.step().cam_from_world
    torch.testing.assert_close(moved, compose_poses(straight.double(), start.double()).float())


def test_autopilot_options_reach_the_controller():
    pipe = tiny_pipe()
    pipe.reset(*landscape(), speed=0.5)
    assert pipe.controller.speed == 0.5
    assert float(pipe.step().cam_from_world[:, 3].norm()) == pytest.approx(0.5, abs=0.02)


def test_save_and_load(tmp_path):
    pipe = tiny_pipe()
    rgb, disparity = landscape()
    expected = pipe(rgb, 2, disparity=disparity, output_type="tensor")
    pipe.save_pretrained(tmp_path / "release")
    loaded = InfiniteNatureZeroPipeline.from_pretrained(tmp_path / "release")
    assert loaded.config == pipe.config
    assert torch.equal(loaded(rgb, 2, disparity=disparity, output_type="tensor"), expected)
    bare = InfiniteNatureZeroPipeline.from_pretrained(tmp_path / "release" / "generator", config=pipe.config)
    assert torch.equal(bare(rgb, 2, disparity=disparity, output_type="tensor"), expected)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingWeightsError, match="no Infinite Nature Zero weights"):
        InfiniteNatureZeroPipeline.from_pretrained(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match="will not replace"):
        pipe.save_pretrained(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("image, disparity, match", [
    (torch.rand(1, 3, 48, 64), None, r"image must be a \[1, 4, H, W\]"),
    (torch.rand(1, 3, 48, 64), torch.full((48, 64), float("nan")), "disparity contains NaN"),
    (torch.rand(1, 3, 48, 64), torch.rand(40, 64), "image and disparity sizes differ"),
    (torch.rand(1, 3, 48, 64) + 1.5, torch.rand(48, 64), r"image RGB must lie in \[0, 1\]"),
    ("photo.png", torch.rand(48, 64), "image must be a numeric tensor or array"),
])
def test_bad_inputs_are_refused(image, disparity, match):
    with pytest.raises(InputError, match=match):
        tiny_pipe().reset(image, disparity)


def test_bad_calls_are_refused():
    pipe = tiny_pipe()
    with pytest.raises(ViewgenRuntimeError, match="no flight yet"):
        pipe.step()
    pipe.reset(*landscape())
    with pytest.raises(TypeError, match="offset must be None or two numbers"):
        pipe.step(0.5)
    with pytest.raises(ValueError, match="num_frames must be a non-negative int"):
        pipe(pipe.inputs, -1)
    other = prepare_zero_inputs(*landscape(), config=ZeroInputConfig(size=16))
    with pytest.raises(ValueError, match="the generator needs 32"):
        pipe.reset(other)
    with pytest.raises(ValueError, match="give either a generator or a refiner"):
        InfiniteNatureZeroPipeline()
    with pytest.raises(ValueError, match="crash_below <= crash_above"):
        InfiniteNatureZeroConfig(crash_below=0.7)
