"""``warp_rgbd``: render an RGBD image from another camera, as the original Infinite Nature does.

The source image becomes a grid mesh (:mod:`viewgen.rendering.mesh`) whose vertices carry
``[r, g, b, edge mask, target depth]``; it is rasterized in the target camera
(:mod:`viewgen.rendering.raster.rasterize`) and the interpolated soft mask ``m`` multiplies the result:
the output is ``(rgbd * m, m * m)``. Holes (disocclusions, depth edges, outside the source
view) are 0 in every channel. Conventions: ``docs/conventions.md``.

Inputs that cannot hurt: ``warp_rgbd`` refuses non-tensors, unsupported dtypes, non-rigid or
non-finite poses, bad intrinsics and non-finite disparity with one-line errors, and the
rasterizer bounds its memory and work by the image size whatever the vertices are (see
:mod:`viewgen.rendering.raster.visibility`), so even a pose that passes the checks and puts the camera
inside the terrain costs about as much as an ordinary warp.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.geometry.disparity import MAX_DEPTH, MIN_DISPARITY
from viewgen.geometry.poses import relative_pose, to_homogeneous_pose, transform_points
from viewgen.geometry.validation import check_pose, read_cameras, require_float_dtype, require_tensor
from viewgen.rendering.mesh import grid_faces, grid_vertices, sobel_edge_mask
from viewgen.rendering.raster.rasterize import interpolate_attributes, rasterize

NEAR_CLIP = 1e-5
FAR_CLIP = 1e4
BACKGROUND_DEPTH = 1000.0


def perspective_from_intrinsics(intrinsics: Tensor, near: float = NEAR_CLIP, far: float = FAR_CLIP) -> Tensor:
    """OpenGL-style projection for normalized intrinsics, ``[B, 4] -> [B, 4, 4]``.

    Maps camera space (+z forward) to clip space with NDC ``x = 2u - 1`` and ``y = 2v - 1``
    (no y flip: NDC y = -1 is the top row).
    """
    fx, fy, cx, cy = intrinsics.unbind(-1)
    zeros, ones = torch.zeros_like(fx), torch.ones_like(fx)
    a = torch.full_like(fx, (near + far) / (far - near))
    b = torch.full_like(fx, -2.0 * near * far / (far - near))
    rows = [
        torch.stack([2 * fx, zeros, 2 * cx - 1, zeros], dim=-1),
        torch.stack([zeros, 2 * fy, 2 * cy - 1, zeros], dim=-1),
        torch.stack([zeros, zeros, a, b], dim=-1),
        torch.stack([zeros, zeros, ones, zeros], dim=-1),
    ]
    return torch.stack(rows, dim=-2)


def _batched(tensor: Tensor, batch: int, tail: tuple[int, ...], name: str) -> Tensor:
    """Accept ``tail`` or ``[B, *tail]`` (or ``[1, *tail]``) and return ``[B, *tail]``."""
    check_shape(tensor, [tail, (1, *tail), ("B", *tail)], name, sizes={"B": batch})
    if tensor.dim() == len(tail):
        tensor = tensor.unsqueeze(0)
    return tensor.expand(batch, *tail)


def _check_pose(pose: Tensor, name: str) -> None:
    require_tensor(pose, name)
    check_pose(pose, name, "optional batch")
    require_float_dtype(pose, name)


def _check_rgbd(rgbd: Tensor) -> None:
    require_tensor(rgbd, "rgbd")
    check_shape(rgbd, ("B", 4, "H", "W"), "rgbd")
    check_min_size(rgbd, 2, "rgbd")
    if not rgbd.is_floating_point():
        raise ValueError(f"rgbd must be a floating-point tensor, got {rgbd.dtype}")
    require_float_dtype(rgbd, "rgbd")


def _check_values(rgbd: Tensor, poses: dict[str, Tensor], intrinsics: dict[str, Tensor]) -> None:
    """Finite rigid poses, finite intrinsics with positive focal lengths, finite disparity.

    One pass over the disparity, a few small tensor operations and one host-device sync
    (:func:`~viewgen.geometry.validation.read_cameras`).
    """
    disparity_range = torch.stack(torch.aminmax(rgbd.detach()[:, 3]))  # NaN propagates
    if not all(math.isfinite(v) for v in read_cameras(poses, intrinsics, extra=disparity_range)):
        raise ValueError("rgbd disparity (channel 3) contains NaN or infinite values; disparity must be finite, "
                         "in [0, 1] (1 / depth)")


def warp_rgbd(rgbd: Tensor, src_cam_from_world: Tensor, tgt_cam_from_world: Tensor, intrinsics: Tensor,
              tgt_intrinsics: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Render the RGBD image seen from ``src`` in the camera ``tgt`` (the original mesh render).

    Args:
        rgbd: ``[B, 4, H, W]``; RGB in [0, 1], disparity in [0, 1] (clipped to [0.01, 1], so
            depth in [1, 100]).
        src_cam_from_world: ``[B, 3|4, 4]`` (or unbatched) world-to-camera pose of the source.
        tgt_cam_from_world: same for the target camera.
        intrinsics: ``[B, 4]`` or ``[4]`` normalized source intrinsics.
        tgt_intrinsics: target intrinsics, defaults to ``intrinsics``.

    Returns:
        ``(rgbd_out, mask)``: ``[B, 4, H, W]`` warped RGB and disparity multiplied by the soft
        mask ``m``, and ``[B, 1, H, W]`` ``m * m``. Differentiable with respect to ``rgbd``'s
        RGB and, through the barycentrics and target depths, to the poses and disparity.

    Raises:
        TypeError: an argument is not a ``torch.Tensor`` (e.g. a numpy array or a list).
        ValueError: a wrong shape; a dtype other than float32 or float64; a pose that is not a
            finite rigid transform (rotation orthonormal within 1e-3 with det +1, 4x4 last row
            ``[0, 0, 0, 1]``; so NaN, all-zero and singular poses are refused); intrinsics that
            are not finite or have ``fx, fy <= 0``; non-finite disparity. The check costs a few
            small tensor operations and one host-device sync (:mod:`viewgen.geometry.validation`).

    Like the original, the rasterizer works in float32: a pixel centre that falls exactly on a
    far vertex (identity or near-identity motion over distant sky) can round to just outside
    every triangle and come out as a hole. The original's kernel drops the same pixels.
    """
    _check_rgbd(rgbd)
    _check_pose(src_cam_from_world, "src_cam_from_world")
    _check_pose(tgt_cam_from_world, "tgt_cam_from_world")
    for name, values in (("intrinsics", intrinsics), ("tgt_intrinsics", tgt_intrinsics)):
        if values is not None:
            require_float_dtype(require_tensor(values, name), name)
    batch, _, height, width = rgbd.shape
    dtype = rgbd.dtype
    intrinsics = _batched(intrinsics.to(dtype), batch, (4,), "intrinsics")
    tgt_intrinsics = intrinsics if tgt_intrinsics is None else _batched(tgt_intrinsics.to(dtype), batch, (4,),
                                                                         "tgt_intrinsics")
    src_pose = _batched(src_cam_from_world.to(dtype), batch, tuple(src_cam_from_world.shape[-2:]), "src_cam_from_world")
    tgt_pose = _batched(tgt_cam_from_world.to(dtype), batch, tuple(tgt_cam_from_world.shape[-2:]), "tgt_cam_from_world")
    checked_intrinsics = {"intrinsics": intrinsics}
    if tgt_intrinsics is not intrinsics:
        checked_intrinsics["tgt_intrinsics"] = tgt_intrinsics
    _check_values(rgbd, {"src_cam_from_world": src_pose, "tgt_cam_from_world": tgt_pose}, checked_intrinsics)

    rgb = rgbd[:, :3]
    disparity = rgbd[:, 3:].clamp(1e-6, 1e5)
    edge_mask = sobel_edge_mask(disparity)
    vertices = grid_vertices(disparity, intrinsics)  # [B, HW, 3], source camera
    tgt_from_src = relative_pose(tgt_pose, src_pose)[:, :3]
    tgt_depth = transform_points(tgt_from_src, vertices)[..., 2:]
    projection = perspective_from_intrinsics(tgt_intrinsics) @ to_homogeneous_pose(tgt_from_src)
    clip = torch.cat([vertices, torch.ones_like(vertices[..., :1])], dim=-1) @ projection.transpose(-1, -2)

    attributes = torch.cat([torch.cat([rgb, edge_mask], 1).flatten(2).transpose(1, 2), tgt_depth], dim=-1)
    faces = grid_faces(height, width, rgbd.device)
    fragments = rasterize(clip, faces, height, width, grid=(height, width))
    background = torch.tensor([0.0, 0.0, 0.0, 0.0, BACKGROUND_DEPTH], dtype=dtype, device=rgbd.device)
    shaded = interpolate_attributes(fragments, faces, attributes, background)

    mask = shaded[:, 3:4]
    warped_disparity = 1.0 / shaded[:, 4:5].clamp(MIN_DISPARITY, MAX_DEPTH)  # as the original: depth in [0.01, 100]
    rgbd_out = torch.cat([shaded[:, :3], warped_disparity], dim=1) * mask
    return rgbd_out, mask * mask
