"""Float64 gradchecks of the differentiable warp on a tiny 8x8 input: w.r.t. the RGBD image and both poses.

Poses are built from 6 parameters (axis-angle rotation, translation), so every perturbation
gradcheck makes is still the rigid pose ``warp_rgbd`` accepts. The moves are small enough that
no triangle changes visibility within gradcheck's step.
"""

import torch
from torch.autograd import gradcheck

from tests.helpers.scenes import scene_rgbd
from viewgen.rendering import warp_rgbd

F64 = torch.float64
INTRINSICS = torch.tensor([0.8, 0.8, 0.5, 0.5], dtype=F64)
SOURCE = torch.zeros(6, dtype=F64)
TARGET = torch.tensor([0.01, -0.02, 0.015, 0.02, -0.01, -0.15], dtype=F64)


def _pose(params: torch.Tensor) -> torch.Tensor:
    """``[6]`` -> rigid ``[3, 4]`` (the rotation by the matrix exponential of the skew matrix)."""
    wx, wy, wz = params[0], params[1], params[2]
    zero = torch.zeros_like(wx)
    skew = torch.stack([torch.stack([zero, -wz, wy]), torch.stack([wz, zero, -wx]), torch.stack([-wy, wx, zero])])
    return torch.cat([torch.linalg.matrix_exp(skew), params[3:].unsqueeze(-1)], dim=-1)


def _rgbd() -> torch.Tensor:
    return scene_rgbd(8, 8, seed=6, dtype=F64)


def test_warp_gradcheck_wrt_rgbd():
    rgbd = _rgbd().requires_grad_(True)
    # fast mode: checks a random projection of the Jacobian (256 inputs would take ~5 s one by one)
    assert gradcheck(lambda image: warp_rgbd(image, _pose(SOURCE), _pose(TARGET), INTRINSICS), (rgbd,),
                     eps=1e-7, atol=1e-5, fast_mode=True)


def test_warp_gradcheck_wrt_both_poses():
    rgbd = _rgbd()
    source, target = SOURCE.clone().requires_grad_(True), TARGET.clone().requires_grad_(True)
    assert gradcheck(lambda src, tgt: warp_rgbd(rgbd, _pose(src), _pose(tgt), INTRINSICS), (source, target),
                     eps=1e-7, atol=1e-5)
