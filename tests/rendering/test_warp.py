"""warp_rgbd: parity with the original renderer, invariants, batches, gradients, bad input."""

import numpy as np
import pytest
import torch

from tests.helpers.devices import DEVICES
from tests.helpers.scenes import grid_clip_vertices, pose_from_euler, scene_rgbd
from tests.helpers.shared import load_reference
from viewgen.rendering import grid_faces, rasterize, sobel_edge_mask, warp_rgbd

INTRINSICS = torch.tensor([0.8, 1.28, 0.5, 0.5])
IDENTITY = torch.eye(4)[:3]


def nchw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(0, 3, 1, 2)


@pytest.mark.parametrize("suffix, pose_key", [("fixed", "pose_next_fixed"), ("fly_1", "fly_pose_1")])
def test_matches_original_renderer(suffix, pose_key):
    ref = load_reference()
    rgbd = torch.from_numpy(ref["input_rgbd"]).permute(2, 0, 1)[None]
    warped, mask = warp_rgbd(rgbd, torch.from_numpy(ref["pose_identity"]), torch.from_numpy(ref[pose_key]),
                             torch.from_numpy(ref["intrinsics"]))
    for ours, theirs in [(warped, nchw(ref[f"render_rgbd_{suffix}"])), (mask, nchw(ref[f"render_mask_{suffix}"]))]:
        difference = (ours - theirs).abs()
        assert difference.mean() <= 2e-5
        assert (difference > 1e-2).float().mean() <= 1e-3
    # In practice the match is far closer: bit-exact for the straight move.
    if suffix == "fixed":
        assert torch.equal(warped, nchw(ref["render_rgbd_fixed"]))


def test_identity_pose_returns_masked_source():
    """Each pixel centre lands on its own vertex. As in the original kernel, float32 cancellation
    in the edge functions can leave a centre that sits exactly on a *far* vertex just outside all
    of its triangles (a hole); everywhere else the source comes back, masked."""
    rgbd = scene_rgbd(40, 60, seed=1)
    warped, mask = warp_rgbd(rgbd, IDENTITY, IDENTITY, INTRINSICS)
    source_mask = sobel_edge_mask(rgbd[:, 3:])
    expected = torch.cat([rgbd[:, :3], rgbd[:, 3:].clamp(0.01, 1)], 1) * source_mask
    clip = grid_clip_vertices(rgbd, INTRINSICS, IDENTITY)
    covered = (rasterize(clip, grid_faces(40, 60), 40, 60).face_ids >= 0).unsqueeze(1)
    near = rgbd[:, 3:] > 0.05
    assert covered[near].float().mean() > 0.9 and covered.float().mean() > 0.8
    assert torch.allclose(mask[covered], (source_mask ** 2)[covered], atol=1e-4)
    assert torch.allclose(warped[covered.expand_as(warped)], expected[covered.expand_as(expected)], atol=1e-4)


def test_holes_are_zero_in_every_channel():
    rgbd = scene_rgbd(24, 32, seed=2)
    warped, mask = warp_rgbd(rgbd, IDENTITY, pose_from_euler(20, 0, 0, (0.3, 0, -0.5)), INTRINSICS)
    holes = mask[:, 0] == 0
    assert holes.any() and (warped.permute(0, 2, 3, 1)[holes] == 0).all()
    assert ((mask >= 0) & (mask <= 1)).all()
    assert torch.isfinite(warped).all()


def test_batch_equals_separate_warps_with_per_image_poses_and_intrinsics():
    images = [scene_rgbd(16, 24, seed=s) for s in range(3)]
    poses = [pose_from_euler(6 * s, -2 * s, 0, (0.05 * s, 0, -0.2)) for s in range(3)]
    intrinsics = torch.stack([INTRINSICS, torch.tensor([0.7, 1.1, 0.5, 0.48]), torch.tensor([0.9, 1.4, 0.52, 0.5])])
    warped, mask = warp_rgbd(torch.cat(images), IDENTITY, torch.stack(poses), intrinsics)
    for index in range(3):
        one, one_mask = warp_rgbd(images[index], IDENTITY, poses[index], intrinsics[index])
        assert torch.equal(warped[index], one[0]) and torch.equal(mask[index], one_mask[0])


def test_target_intrinsics_and_4x4_poses():
    rgbd = scene_rgbd(16, 24, seed=4)
    pose = pose_from_euler(0, 0, 0, (0, 0, -0.2))
    pose4 = torch.cat([pose, torch.tensor([[0.0, 0, 0, 1]])])
    a, _ = warp_rgbd(rgbd, IDENTITY, pose, INTRINSICS)
    b, _ = warp_rgbd(rgbd, torch.eye(4), pose4, INTRINSICS, tgt_intrinsics=INTRINSICS)
    assert torch.equal(a, b)
    zoomed, _ = warp_rgbd(rgbd, IDENTITY, IDENTITY, INTRINSICS, tgt_intrinsics=INTRINSICS * torch.tensor([2, 2, 1, 1]))
    assert not torch.equal(zoomed, a)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(7, 5), (40, 64), (33, 47)])
def test_any_resolution_and_device(device, size):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    rgbd = scene_rgbd(*size, seed=5).to(device)
    pose = pose_from_euler(4, 0, 0, (0, 0, -0.1)).to(device)
    warped, mask = warp_rgbd(rgbd, IDENTITY.to(device), pose, INTRINSICS.to(device))
    assert warped.shape == (1, 4, *size) and mask.shape == (1, 1, *size)
    assert warped.device.type == device
    if device == "cuda":
        cpu_warped, _ = warp_rgbd(rgbd.cpu(), IDENTITY, pose.cpu(), INTRINSICS)
        assert (warped.cpu() - cpu_warped).abs().mean() < 1e-5


def test_gradients_reach_color_disparity_and_pose():
    rgbd = scene_rgbd(10, 14, seed=6, dtype=torch.float64)
    translation = torch.tensor([0.02, -0.01, -0.15], dtype=torch.float64, requires_grad=True)
    rgb = rgbd[:, :3].clone().requires_grad_(True)

    def render(color, shift):
        pose = torch.cat([torch.eye(3, dtype=torch.float64), shift.view(3, 1)], dim=1)
        warped, mask = warp_rgbd(torch.cat([color, rgbd[:, 3:]], 1), torch.eye(4, dtype=torch.float64)[:3], pose,
                                 INTRINSICS.double())
        return warped, mask

    assert torch.autograd.gradcheck(render, (rgb, translation), eps=1e-7, atol=1e-5)
    disparity = rgbd[:, 3:].clone().requires_grad_(True)
    warped, _ = warp_rgbd(torch.cat([rgbd[:, :3], disparity], 1), IDENTITY.double(),
                          torch.cat([torch.eye(3), torch.tensor([[0.0], [0.0], [-0.2]])], 1).double(),
                          INTRINSICS.double())
    warped.sum().backward()
    assert disparity.grad is not None and disparity.grad.abs().sum() > 0


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(4, 8, 8), "B, 4, H, W"),
    (torch.zeros(1, 3, 8, 8), "B, 4, H, W"),
    (torch.zeros(1, 4, 1, 8), "at least 2x2"),
    (torch.zeros(1, 4, 8, 8, dtype=torch.int64), "floating-point"),
])
def test_bad_rgbd_is_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        warp_rgbd(bad, IDENTITY, IDENTITY, INTRINSICS)


def test_bad_pose_and_intrinsics_are_rejected():
    rgbd = scene_rgbd(8, 8)
    with pytest.raises(ValueError, match="intrinsics"):
        warp_rgbd(rgbd, IDENTITY, IDENTITY, torch.zeros(3))
    with pytest.raises(ValueError, match="tgt_cam_from_world"):
        warp_rgbd(rgbd, IDENTITY, torch.eye(3), INTRINSICS)
    with pytest.raises(ValueError, match="B = 2"):
        warp_rgbd(torch.cat([rgbd, rgbd]), IDENTITY, torch.stack([IDENTITY] * 3), INTRINSICS)


def test_differentiable_warp_after_inference_mode_warp():
    """Constants cached during an inference-mode warp must not poison a later warp with gradients
    (a size no other test uses, so that the inference-mode warp fills the caches)."""
    rgbd = scene_rgbd(23, 29, seed=1)
    pose = pose_from_euler(3, 0, 0, (0, 0, -0.2))
    with torch.inference_mode():
        expected, _ = warp_rgbd(rgbd, IDENTITY, pose, INTRINSICS)
    leaf = rgbd.clone().requires_grad_(True)
    warped, mask = warp_rgbd(leaf, IDENTITY, pose, INTRINSICS)
    (warped.sum() + mask.sum()).backward()
    assert torch.equal(warped.detach(), expected)
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0


def _rotation_about_z(scale: float = 1.0, mirror: bool = False) -> torch.Tensor:
    pose = IDENTITY.clone()
    pose[:3, :3] = pose_from_euler(0, 0, 30, (0, 0, 0))[:, :3] * scale
    if mirror:
        pose[2, :3] *= -1
    return pose


@pytest.mark.parametrize("pose, message", [
    (IDENTITY * float("nan"), "NaN or infinite"),
    (torch.cat([torch.eye(3), torch.tensor([[float("inf")], [0.0], [0.0]])], 1), "NaN or infinite"),
    (torch.zeros(3, 4), "not orthonormal"),
    (torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0], [0, 0, 1.0, 0]]), "not orthonormal"),  # singular
    (_rotation_about_z(scale=2.0), "not orthonormal"),
    (_rotation_about_z(mirror=True), "reflection"),
    (torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 1.0, 1.0]]), "last row"),
])
def test_bad_target_pose_is_refused_in_one_line(pose, message):
    with pytest.raises(ValueError, match=message) as error:
        warp_rgbd(scene_rgbd(8, 8), IDENTITY, pose, INTRINSICS)
    assert str(error.value).startswith("tgt_cam_from_world ") and "\n" not in str(error.value)


def test_bad_intrinsics_disparity_and_dtype_are_refused():
    rgbd = scene_rgbd(8, 8)
    for intrinsics, message in [(torch.tensor([0.0, 1.0, 0.5, 0.5]), "positive focal"),
                                (torch.tensor([0.8, -1.0, 0.5, 0.5]), "positive focal"),
                                (torch.tensor([0.8, 1.0, float("nan"), 0.5]), "NaN or infinite")]:
        with pytest.raises(ValueError, match=message):
            warp_rgbd(rgbd, IDENTITY, IDENTITY, INTRINSICS, tgt_intrinsics=intrinsics)
    broken = rgbd.clone()
    broken[0, 3, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="disparity"):
        warp_rgbd(broken, IDENTITY, IDENTITY, INTRINSICS)
    with pytest.raises(ValueError, match="float32 and float64"):
        warp_rgbd(rgbd.half(), IDENTITY, IDENTITY, INTRINSICS)
    with pytest.raises(ValueError, match="float32 and float64"):
        warp_rgbd(rgbd, IDENTITY.to(torch.bfloat16), IDENTITY, INTRINSICS)


@pytest.mark.parametrize("argument", range(4))
def test_numpy_or_list_arguments_raise_type_error_naming_them(argument):
    args = [scene_rgbd(8, 8), IDENTITY, IDENTITY, INTRINSICS]
    names = ["rgbd", "src_cam_from_world", "tgt_cam_from_world", "intrinsics"]
    args[argument] = args[argument].numpy() if argument < 3 else args[argument].tolist()
    with pytest.raises(TypeError, match=f"^{names[argument]} must be a torch.Tensor"):
        warp_rgbd(*args)


def test_valid_inputs_of_both_dtypes_pass():
    rgbd = scene_rgbd(8, 8, dtype=torch.float64)
    pose4 = torch.eye(4, dtype=torch.float64)
    pose4[:3] = _rotation_about_z().double()
    warped, mask = warp_rgbd(rgbd, torch.eye(4), pose4, INTRINSICS.double(), tgt_intrinsics=INTRINSICS)
    assert warped.dtype == torch.float64 and mask.shape == (1, 1, 8, 8)
