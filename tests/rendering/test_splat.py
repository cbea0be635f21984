"""Softmax splatting and Zero's forward-splat render: parity with the original, semantics, gradients, errors.

The parity tests read ``fixtures/infinite_nature_zero/reference.npz``, made by the original
``RenderModel`` and hperrot/splatting's compiled CPU kernel (see that folder's README). On CPU in
float32 every key matches bit for bit; the limit below allows one float32 rounding step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from tests.helpers.shared import max_abs_diff, reference_tensors
from viewgen.geometry.intrinsics import focal_from_fov_deg, integer_pixel_matrix, pixel_matrix_to_intrinsics
from viewgen.rendering.splat import (
    depth_importance,
    render_forward_splat,
    sobel_foreground_alpha,
    softmax_splat,
    splat_flow,
    summation_splat,
)

PARITY = 1e-6  # observed 0.0 on every key (torch 2.13 CPU); one float32 step at the flows' magnitude (~8 px)
F64 = torch.float64


@pytest.fixture(scope="module")
def ref() -> dict[str, torch.Tensor]:
    return reference_tensors("infinite_nature_zero")


def reference_splat(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The C kernel of hperrot/splatting, transcribed as a plain loop (independent of the vectorized one)."""
    batch, channels, height, width = values.shape
    out = torch.zeros_like(values)
    for n in range(batch):
        for y in range(height):
            for x in range(width):
                px, py = x + flow[n, 0, y, x], y + flow[n, 1, y, x]
                x0, y0 = int(math.floor(px)), int(math.floor(py))
                corners = [(x0, y0, (x0 + 1 - px) * (y0 + 1 - py)), (x0 + 1, y0, (px - x0) * (y0 + 1 - py)),
                           (x0, y0 + 1, (x0 + 1 - px) * (py - y0)), (x0 + 1, y0 + 1, (px - x0) * (py - y0))]
                for cx, cy, weight in corners:
                    if 0 <= cx < width and 0 <= cy < height:
                        out[n, :, cy, cx] += weight * values[n, :, y, x]
    return out


# ----------------------------------------------------------------------------- parity with the original


def test_sobel_alpha_matches_original(ref):
    alpha = sobel_foreground_alpha(ref["input_real_rgbd"][:, 3:4], beta=4.0)
    assert max_abs_diff(alpha, ref["sobel_alpha_beta4"]) <= PARITY


@pytest.mark.parametrize("step", [1, 2, 3])
def test_sobel_alpha_of_refined_frames_matches_the_chain(ref, step):
    alpha = sobel_foreground_alpha(ref[f"vg_step{step}_next_rgbd_raw"][:, 3:4], beta=4.0)
    assert max_abs_diff(alpha, ref[f"vg_step{step}_next_alpha"]) <= PARITY


def _pose(ref, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if name == "identity":  # the README's identity splat: R = I, t = 0
        return torch.eye(3).unsqueeze(0), torch.zeros(1, 3)
    return ref["pose_fixed_R"], ref["pose_fixed_t"]


@pytest.mark.parametrize("name", ["identity", "fixed"])
def test_flow_and_importance_match_original(ref, name):
    rotation, translation = _pose(ref, name)
    k_ref = ref["input_k_ref"]
    flow, tgt_depth = splat_flow(1.0 / ref["input_real_rgbd"][:, 3], rotation, translation, k_ref, k_ref)
    assert max_abs_diff(flow, ref[f"splat_{name}_flow"]) <= PARITY
    assert max_abs_diff(depth_importance(tgt_depth), ref[f"splat_{name}_weights"]) <= PARITY


@pytest.mark.parametrize("name", ["identity", "fixed"])
def test_render_forward_splat_matches_original(ref, name):
    rgbd = ref["input_real_rgbd"]
    rotation, translation = _pose(ref, name)
    features = torch.cat([rgbd[:, :3], ref["sobel_alpha_beta4"]], dim=1)
    warped, disparity, mask = render_forward_splat(features, 1.0 / rgbd[:, 3], rotation, translation,
                                                   ref["input_k_ref"])
    assert max_abs_diff(warped, ref[f"splat_{name}_features"]) <= PARITY
    assert max_abs_diff(disparity, ref[f"splat_{name}_disp"]) <= PARITY
    assert max_abs_diff(mask, ref[f"splat_{name}_mask"]) <= PARITY


def test_identity_splat_is_not_the_identity_at_depth_edges(ref):
    """The README's warning, reproduced: round-off flows plus e^20 weights leak near pixels into far ones."""
    rgbd = ref["input_real_rgbd"]
    features = torch.cat([rgbd[:, :3], ref["sobel_alpha_beta4"]], dim=1)
    warped, _, mask = render_forward_splat(features, 1.0 / rgbd[:, 3], torch.eye(3), torch.zeros(3),
                                           ref["input_k_ref"])
    assert 1e-4 < max_abs_diff(warped, features) < 1e-2
    assert float(mask.min()) > 0.99


@pytest.mark.parametrize("step", [1, 2, 3])
def test_sky_dome_splat_matches_the_chain(ref, step):
    """view_generation's rotation-only splat of the full canvas (K_full, t = 0), centre-cropped."""
    full = ref["input_real_rgbd_full"]
    rotation = ref[f"vg_step{step}_pose_w2c"][:, :3, :3]
    depth = 1.0 / full[:, 3].clamp(1e-2, 10.0)  # the clamp view_generation applies to the initial disparity
    warped, disparity, mask = render_forward_splat(full[:, :3], depth, rotation, torch.zeros(1, 3),
                                                   ref["input_k_full"])
    size = ref[f"vg_step{step}_warp_init_rgb"].shape[-1]
    top = (full.shape[-1] - size) // 2
    window = (..., slice(top, top + size), slice(top, top + size))
    assert max_abs_diff(warped[window], ref[f"vg_step{step}_warp_init_rgb"]) <= PARITY
    assert max_abs_diff(disparity[window], ref[f"vg_step{step}_warp_init_disp"]) <= PARITY
    assert max_abs_diff(mask[window], ref[f"vg_step{step}_warp_init_mask"]) <= PARITY


def test_integer_pixel_matrix_round_trips_zero_camera(ref):
    k_ref = ref["input_k_ref"][0]
    size = ref["input_real_rgbd"].shape[-1]
    normalized = pixel_matrix_to_intrinsics(k_ref, size, size)
    normalized[2:] += 0.5 / size  # integer-pixel principal point -> corner-origin
    assert torch.equal(integer_pixel_matrix(normalized, size, size), k_ref)
    focal = focal_from_fov_deg(55.0)  # the README's 55 degree field of view
    from_fov = integer_pixel_matrix(torch.tensor([focal, focal, 0.5, 0.5], dtype=F64), size, size)
    assert max_abs_diff(from_fov, k_ref) < 1e-4


# ----------------------------------------------------------------------------- semantics


def test_integer_flow_moves_content_by_whole_pixels():
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(1, 3, 9, 11, generator=gen)
    flow = torch.zeros(1, 2, 9, 11)
    flow[:, 0], flow[:, 1] = 3.0, -2.0  # 3 px right, 2 px up
    out = softmax_splat(values, flow, torch.zeros(1, 1, 9, 11))
    torch.testing.assert_close(out[..., :-2, 3:], values[..., 2:, :-3], rtol=0, atol=1e-6)
    assert float(out[..., :, :3].abs().max()) == 0.0 and float(out[..., -2:, :].abs().max()) == 0.0


def test_camera_translation_shifts_a_plane_by_the_expected_pixels():
    """A fronto-parallel plane at depth 4 seen after moving the camera 0.16 left: 50 * 0.16 / 4 = 2 px right."""
    height, width, focal, depth = 10, 12, 50.0, 4.0
    k = torch.tensor([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    features = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    plane = torch.full((1, height, width), depth)
    translation = torch.tensor([[0.16, 0.0, 0.0]])
    flow, _ = splat_flow(plane, torch.eye(3).unsqueeze(0), translation, k.unsqueeze(0), k.unsqueeze(0))
    torch.testing.assert_close(flow, torch.stack([torch.full_like(plane, 2.0), torch.zeros_like(plane)], 1),
                               rtol=0, atol=1e-5)
    warped, disparity, mask = render_forward_splat(features, plane, torch.eye(3), translation, k)
    # One depth everywhere: every importance is -10, and the 1e-7 in the divisor scales the output by
    # e^-10 / (e^-10 + 1e-7) = 0.9978, as in the original (its far pixels come out 0.22% darker).
    coverage = math.exp(-10.0) / (math.exp(-10.0) + 1e-7)
    torch.testing.assert_close(warped[..., 2:], features[..., :-2] * coverage, rtol=0, atol=1e-5)
    torch.testing.assert_close(mask[..., 2:], torch.full_like(mask[..., 2:], coverage), rtol=0, atol=1e-5)
    torch.testing.assert_close(disparity[..., 2:], torch.full_like(disparity[..., 2:], coverage / depth), rtol=0,
                               atol=1e-6)
    assert float(mask[..., :2].max()) < 1e-5  # the hole at the left edge


def test_fractional_flow_splits_bilinearly():
    values = torch.zeros(1, 1, 4, 4, dtype=F64)
    values[0, 0, 1, 1] = 1.0
    flow = torch.zeros(1, 2, 4, 4, dtype=F64)
    flow[0, :, 1, 1] = torch.tensor([0.25, 0.5])
    out = summation_splat(values, flow)[0, 0]
    assert out[1:3, 1:3].tolist() == [[0.375, 0.125], [0.375, 0.125]]
    assert float(out.sum()) == 1.0


def test_the_most_important_source_wins_an_overlap():
    values = torch.tensor([[[[0.2, 0.9]]]])
    flow = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])  # the left pixel lands on the right one
    out = softmax_splat(values, flow, torch.tensor([[[[10.0, -10.0]]]]))
    assert abs(float(out[0, 0, 0, 1]) - 0.2) < 1e-7 and float(out[0, 0, 0, 0]) == 0.0
    out = softmax_splat(values, flow, torch.tensor([[[[0.0, 0.0]]]]))
    assert abs(float(out[0, 0, 0, 1]) - 0.55) < 1e-6  # equal importance: the plain average


def test_far_flows_leave_the_image_empty():
    values = torch.ones(1, 2, 3, 3)
    flow = torch.full((1, 2, 3, 3), -1e12)
    assert float(softmax_splat(values, flow, torch.zeros(1, 1, 3, 3)).abs().max()) == 0.0


def test_matches_a_loop_transcription_of_the_kernel(device, dtype):
    gen = torch.Generator().manual_seed(3)
    values = torch.rand(2, 3, 6, 7, generator=gen, dtype=dtype)
    flow = (torch.rand(2, 2, 6, 7, generator=gen, dtype=dtype) - 0.5) * 6  # some land outside
    expected = reference_splat(values.double(), flow.double())
    actual = summation_splat(values.to(device), flow.to(device)).cpu().double()
    assert max_abs_diff(actual, expected) <= (1e-12 if dtype == F64 else 1e-5)


def test_render_runs_on_every_device_and_dtype(device, dtype):
    features = torch.rand(1, 3, 6, 8, generator=torch.Generator().manual_seed(4), dtype=dtype)
    depth = torch.linspace(2.0, 9.0, 48, dtype=dtype).view(1, 6, 8)
    k = integer_pixel_matrix(torch.tensor([0.9, 0.9, 0.5, 0.5], dtype=dtype), 6, 8)
    outputs = render_forward_splat(features.to(device), depth.to(device), torch.eye(3), torch.tensor([0.05, 0, 0.1]),
                                   k.unsqueeze(0))
    for output, channels in zip(outputs, (3, 1, 1)):
        assert output.shape == (1, channels, 6, 8) and output.dtype == dtype and output.device.type == device.type
        assert bool(torch.isfinite(output).all())


# ----------------------------------------------------------------------------- gradients and determinism


def test_softmax_splat_gradcheck():
    gen = torch.Generator().manual_seed(5)
    values = torch.rand(1, 2, 3, 4, generator=gen, dtype=F64, requires_grad=True)
    # fractional parts in [0.2, 0.8]: gradcheck's steps never cross a pixel boundary
    whole = torch.randint(-1, 2, (1, 2, 3, 4), generator=gen).to(F64)
    flow = (whole + 0.2 + 0.6 * torch.rand(1, 2, 3, 4, generator=gen, dtype=F64)).requires_grad_(True)
    importance = torch.randn(1, 1, 3, 4, generator=gen, dtype=F64, requires_grad=True)
    assert gradcheck(softmax_splat, (values, flow, importance), eps=1e-6, atol=1e-7)


def test_render_forward_splat_gradcheck():
    """Through the features directly; through depth and pose with the importance held fixed (the render
    detaches it, as the original does, so finite differences that move it would disagree)."""
    gen = torch.Generator().manual_seed(6)
    features = torch.rand(1, 2, 4, 5, generator=gen, dtype=F64, requires_grad=True)
    depth = (2.0 + 3.0 * torch.rand(1, 4, 5, generator=gen, dtype=F64)).requires_grad_(True)
    translation = torch.tensor([[0.031, -0.017, 0.043]], dtype=F64, requires_grad=True)
    k = integer_pixel_matrix(torch.tensor([0.9, 1.1, 0.5, 0.5], dtype=F64), 4, 5).unsqueeze(0)
    angle = 0.02
    rotation = torch.tensor([[[math.cos(angle), 0, math.sin(angle)], [0, 1, 0],
                              [-math.sin(angle), 0, math.cos(angle)]]], dtype=F64)
    assert gradcheck(lambda f: render_forward_splat(f, depth.detach(), rotation, translation.detach(), k),
                     (features,), eps=1e-7, atol=1e-6)
    importance = depth_importance(splat_flow(depth, rotation, translation, k, k)[1])

    def splat_with_fixed_importance(depth, translation):
        flow, tgt_depth = splat_flow(depth, rotation, translation, k, k)
        return softmax_splat(torch.cat([features.detach(), 1.0 / tgt_depth], dim=1), flow, importance)

    assert gradcheck(splat_with_fixed_importance, (depth, translation), eps=1e-7, atol=1e-6)
    warped = render_forward_splat(features, depth, rotation, translation, k)
    grads = torch.autograd.grad(sum(output.sum() for output in warped), (depth, translation))
    assert all(bool(torch.isfinite(g).all()) and float(g.abs().max()) > 0 for g in grads)


def test_splat_is_deterministic_across_calls_and_threads(ref):
    rgbd = ref["input_real_rgbd"]
    features = torch.cat([rgbd[:, :3], ref["sobel_alpha_beta4"]], dim=1)
    args = (features, 1.0 / rgbd[:, 3], ref["pose_fixed_R"], ref["pose_fixed_t"], ref["input_k_ref"])
    first = render_forward_splat(*args)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        second = render_forward_splat(*args)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


# ----------------------------------------------------------------------------- bad inputs

V, FLOW, IMP = torch.zeros(1, 3, 4, 5), torch.zeros(1, 2, 4, 5), torch.zeros(1, 1, 4, 5)
NAN_FLOW = torch.full((1, 2, 4, 5), float("nan"))


@pytest.mark.parametrize("args, match", [
    ((V[0], FLOW, IMP), r"values must be a \[B, C, H, W\] tensor"),
    ((V, torch.zeros(1, 3, 4, 5), IMP), r"flow must be a \[B, 2, H, W\] tensor"),
    ((V, torch.zeros(1, 2, 4, 6), IMP), r"flow must be"),
    ((V, FLOW, torch.zeros(1, 2, 4, 5)), r"importance must be a \[B, 1, H, W\] tensor"),
    ((V, FLOW.double(), IMP), r"flow is torch.float64 .* one dtype"),
    ((V.int(), FLOW, IMP), r"values has dtype torch.int32"),
    ((V, NAN_FLOW, IMP), r"flow or importance contains NaN"),
    ((V, FLOW, torch.full((1, 1, 4, 5), float("inf"))), r"flow or importance contains NaN"),
])
def test_softmax_splat_refuses_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match) as error:
        softmax_splat(*args)
    assert "\n" not in str(error.value)


def test_splat_refuses_non_tensors():
    with pytest.raises(TypeError, match="values must be a torch.Tensor"):
        softmax_splat(np.zeros((1, 3, 4, 5), np.float32), FLOW, IMP)


K = torch.tensor([[[5.0, 0.0, 2.0], [0.0, 5.0, 1.5], [0.0, 0.0, 1.0]]])
DEPTH, R, T = torch.ones(1, 4, 5), torch.eye(3).unsqueeze(0), torch.zeros(1, 3)


@pytest.mark.parametrize("args, match", [
    ((V[0], DEPTH, R, T, K), r"features must be a \[B, C, H, W\] tensor"),
    ((V, torch.ones(1, 4, 6), R, T, K), r"depth must be"),
    ((V, DEPTH, torch.eye(4)[None], T, K), r"rotation must be a \[B, 3, 3\] or \[3, 3\] tensor with B = 1"),
    ((V, DEPTH, R, torch.zeros(1, 3, 1), K), r"translation must be a \[B, 3\] or \[3\] tensor"),
    ((V, DEPTH, R, T, torch.eye(3)[None, :2]), r"src_pixel_matrix must be a \[B, 3, 3\] or \[3, 3\] tensor"),
    ((V, DEPTH, 2 * R, T, K), r"\(rotation, translation\) has a rotation part R that is not orthonormal"),
    ((V, DEPTH, R, torch.full((1, 3), float("nan")), K), r"contains NaN"),
    ((V, DEPTH, R, T, K * torch.tensor([0.0, 1.0, 1.0]).view(1, 1, 3)), r"src_pixel_matrix must have positive"),
    ((V, torch.zeros(1, 4, 5), R, T, K), r"depth must be positive and finite"),
    ((V, DEPTH.double(), R, T, K), r"depth is torch.float64"),
])
def test_render_refuses_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match) as error:
        render_forward_splat(*args)
    assert "\n" not in str(error.value)
