"""Softmax forward splatting and InfiniteNature-Zero's forward-splat render, in plain PyTorch.

Softmax splatting (Niklaus & Liu, CVPR 2020) pushes every source pixel along its flow and adds it
bilinearly to the 4 target pixels around where it lands, weighted by ``exp(importance)``; the sums
are then divided by the summed weights, so where several sources meet the most important one
(the nearest, for a depth-derived importance) wins. The sums here run in the same order as the
CPU kernel of ``hperrot/splatting`` (the library InfiniteNature-Zero calls): source pixels in
row-major order, corners north-west, north-east, south-west, south-east, so on CPU float32 the
results are bit-identical to it. The divisor is ``sum(exp(importance)) + 1e-7``, as there.

:func:`render_forward_splat` is Zero's ``RenderModel.render_forward_splat`` with its operation
order (which decides round-off, and round-off decides the output at depth edges): the pixel grid
is integer pixel coordinates ``(x, y, 1)``; ``P = (depth * K_src^-1) @ (x, y, 1)``; ``P' = R P + t``;
``p = K_tgt P'``; ``flow = p_xy / clamp(p_z, 1e-8) - (x, y)``; the importance is ``1 / p_z``
min-max normalized per sample onto ``[-10, 10]`` and detached; the splatted values are the
features, ``1 / p_z`` (the target disparity) and ones (the coverage mask).

Cameras here are the original's: ``K`` is a ``[B, 3, 3]`` matrix in **integer pixel**
coordinates (the centre of pixel ``(row j, col i)`` is ``(i, j)``, OpenCV's convention), and
``(R, t)`` maps source-camera points to target-camera points, ``P_tgt = R P_src + t`` (the
rotation and translation of ``tgt_from_src``). :func:`~viewgen.geometry.integer_pixel_matrix` makes
such a ``K`` from viewgen's normalized ``[fx, fy, cx, cy]`` (``docs/conventions.md``): ``fx W``, ``fy H``,
``cx W - 0.5``, ``cy H - 0.5``. Zero's 128x128 camera (55 degree field of view, fx = fy = 122.94,
cx = cy = 63.5) is the normalized ``[0.9605, 0.9605, 0.5, 0.5]``.

All functions are differentiable (autograd through values, flow and importance, and through the
render's features, depth and pose; the render's importance is detached, as in the original) and
run on CPU and CUDA. On CPU the sums are deterministic; on CUDA ``index_add`` uses atomics, so
the last bits may vary between runs unless ``torch.use_deterministic_algorithms(True)`` is set.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.geometry.validation import read_cameras, require_float_dtype, require_tensor

__all__ = ["SPLAT_EPS", "depth_importance", "render_forward_splat", "sobel_foreground_alpha",
           "softmax_splat", "splat_flow", "summation_splat"]

SPLAT_EPS = 1e-7  # hperrot/splatting's default, added to the summed weights before dividing
IMPORTANCE_LIMIT = 10.0  # the render maps 1 / depth onto [-10, 10]
_IMPORTANCE_SPAN_EPS = 1e-6  # in the denominator of that min-max normalization
_MIN_PROJECTED_DEPTH = 1e-8  # the divisor of the projection is clamped to at least this
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))  # unnormalized; d/dy is its transpose


def sobel_foreground_alpha(disparity: Tensor, beta: float = 4.0) -> Tensor:
    """Zero's ``sobel_fg_alpha``: ``exp(-beta * |Sobel(disparity)|)``, ``[B, 1, H, W] -> [B, 1, H, W]``.

    1 on flat regions, small across depth edges; Zero carries it as a 4th channel through the splat
    and calls a target pixel known where the splatted alpha exceeds 0.3. This is kornia's
    ``spatial_gradient(mode='sobel', normalized=False)``: unnormalized 3x3 Sobel kernels, replicate
    padding, one ``conv2d`` with both kernels, and the magnitude ``sqrt(dx^2 + dy^2)`` with no epsilon.
    It is not :func:`viewgen.rendering.mesh.sobel_edge_alpha` (Infinite Nature's TF Sobel: reflect
    padding, ``sqrt(... + 1e-6)``), whose values differ at the border and on flat regions.
    """
    require_tensor(disparity, "disparity")
    check_shape(disparity, ("B", 1, "H", "W"), "disparity")
    require_float_dtype(disparity, "disparity")
    kernel_x = torch.tensor(_SOBEL_X, dtype=disparity.dtype, device=disparity.device)
    kernels = torch.stack([kernel_x, kernel_x.transpose(0, 1)]).unsqueeze(1)  # [2, 1, 3, 3]: d/dx, d/dy
    gradients = F.conv2d(F.pad(disparity, [1, 1, 1, 1], mode="replicate"), kernels)
    magnitude = torch.sqrt(gradients[:, 0:1] ** 2 + gradients[:, 1:2] ** 2)
    return torch.exp(-1.0 * beta * magnitude)


def _check_splat_inputs(values: Tensor, flow: Tensor, importance: Tensor | None) -> None:
    """Types, shapes, dtypes and devices of a splat's inputs, then finite flow and importance (one sync)."""
    named = {"values": values, "flow": flow} | ({} if importance is None else {"importance": importance})
    for name, tensor in named.items():
        require_float_dtype(require_tensor(tensor, name), name)
    sizes = check_shape(values, ("B", "C", "H", "W"), "values")
    check_shape(flow, ("B", 2, "H", "W"), "flow", sizes=sizes, hint=" (x then y displacement in pixels)")
    if importance is not None:
        check_shape(importance, ("B", 1, "H", "W"), "importance", sizes=sizes)
    for name, tensor in named.items():
        if tensor.dtype != values.dtype or tensor.device != values.device:
            raise ValueError(f"{name} is {tensor.dtype} on {tensor.device} but values are {values.dtype} on "
                             f"{values.device}; pass all splat inputs in one dtype on one device")
    finite = torch.isfinite(flow).all()
    if importance is not None:
        finite = finite & torch.isfinite(importance).all()
    if not bool(finite):
        raise ValueError("flow or importance contains NaN or infinite values; both must be finite")


def _corner_targets(flow: Tensor) -> tuple[Tensor, Tensor]:
    """Where each source pixel lands: flat target indices and bilinear weights, both ``[B, H, W, 4]``.

    Corners in the order north-west, north-east, south-west, south-east. Corners outside the image
    get the index ``H * W``, one slot past the image, which the caller drops.
    """
    height, width = flow.shape[-2:]
    cols = torch.arange(width, dtype=flow.dtype, device=flow.device).view(1, width)
    rows = torch.arange(height, dtype=flow.dtype, device=flow.device).view(height, 1)
    x, y = cols + flow[:, 0], rows + flow[:, 1]
    left, top = torch.floor(x), torch.floor(y)
    right, bottom = left + 1, top + 1
    weights = torch.stack([(right - x) * (bottom - y), (x - left) * (bottom - y),
                           (right - x) * (y - top), (x - left) * (y - top)], dim=-1)
    corner_x = torch.stack([left, right, left, right], dim=-1).detach()
    corner_y = torch.stack([top, top, bottom, bottom], dim=-1).detach()
    inside = (corner_x >= 0) & (corner_x < width) & (corner_y >= 0) & (corner_y < height)
    flat = corner_y.clamp(-1, height).long() * width + corner_x.clamp(-1, width).long()
    return torch.where(inside, flat, height * width), weights


def summation_splat(values: Tensor, flow: Tensor) -> Tensor:
    """Forward-splat ``values [B, C, H, W]`` along ``flow [B, 2, H, W]`` and sum: ``[B, C, H, W]``.

    Source pixel ``(row j, col i)`` lands at ``(i + flow_x, j + flow_y)`` (pixels) and adds its value,
    times the bilinear weight, to each of the 4 pixels around that point that lie inside the image.
    """
    _check_splat_inputs(values, flow, None)
    return _summation_splat(values, flow)


def _summation_splat(values: Tensor, flow: Tensor) -> Tensor:
    batch, channels, height, width = values.shape
    targets, weights = _corner_targets(flow)
    slots = height * width + 1  # one spill slot per (sample, channel) for the corners outside
    offsets = torch.arange(batch * channels, device=values.device).view(batch, channels, 1, 1, 1) * slots
    index = (targets.unsqueeze(1) + offsets).reshape(-1)
    contributions = (values.unsqueeze(-1) * weights.unsqueeze(1)).reshape(-1)  # source-major, corner-minor
    sums = values.new_zeros(batch * channels * slots).index_add(0, index, contributions)
    return sums.view(batch, channels, slots)[..., :-1].reshape(batch, channels, height, width)


def softmax_splat(values: Tensor, flow: Tensor, importance: Tensor, eps: float = SPLAT_EPS) -> Tensor:
    """Softmax forward splatting: ``[B, C, H, W]`` values, ``[B, 2, H, W]`` flow, ``[B, 1, H, W]`` importance.

    Returns ``[B, C, H, W]``: ``splat(values * exp(importance)) / (splat(exp(importance)) + eps)`` with
    :func:`summation_splat`; target pixels no source reaches are 0. ``importance`` is used as given
    (no max subtraction, as in the original), so keep it moderate (Zero's lies in [-10, 10]).

    Raises:
        TypeError: an input is not a tensor.
        ValueError: wrong shapes, mixed dtypes or devices, a dtype other than float32/float64, or
            non-finite flow or importance.
    """
    _check_splat_inputs(values, flow, importance)
    return _softmax_splat(values, flow, importance, eps)


def _softmax_splat(values: Tensor, flow: Tensor, importance: Tensor, eps: float) -> Tensor:
    weight = importance.exp()
    sums = _summation_splat(torch.cat([values * weight, weight], dim=1), flow)
    return sums[:, :-1] / (sums[:, -1:] + eps)


def splat_flow(depth: Tensor, rotation: Tensor, translation: Tensor, src_pixel_matrix: Tensor,
               tgt_pixel_matrix: Tensor) -> tuple[Tensor, Tensor]:
    """Flow of every source pixel into the target camera, in the original's operation order.

    Args:
        depth: ``[B, H, W]`` z-depth of the source pixels.
        rotation, translation: ``[B, 3, 3]`` and ``[B, 3]``, ``P_tgt = R P_src + t``.
        src_pixel_matrix, tgt_pixel_matrix: ``[B, 3, 3]`` integer-pixel ``K``
            (:func:`~viewgen.geometry.integer_pixel_matrix`).

    Returns:
        ``(flow [B, 2, H, W], tgt_depth [B, 1, H, W])``: the displacement in pixels (x then y) and the
        target z ``p_z`` of every source pixel. Unchecked; :func:`render_forward_splat` checks its inputs.
    """
    batch, height, width = depth.shape
    cols = torch.arange(width, dtype=depth.dtype, device=depth.device).expand(height, width)
    rows = torch.arange(height, dtype=depth.dtype, device=depth.device).unsqueeze(1).expand(height, width)
    pixels = torch.stack([cols, rows, torch.ones_like(cols)], dim=-1)  # [H, W, 3]: (x, y, 1)
    pixels = pixels.view(1, height, width, 3, 1).repeat(batch, 1, 1, 1, 1)
    src_points = depth.view(batch, height, width, 1, 1) * torch.linalg.inv(src_pixel_matrix)[:, None, None] @ pixels
    tgt_points = rotation[:, None, None] @ src_points + translation.view(batch, 1, 1, 3, 1)
    projected = (tgt_pixel_matrix[:, None, None] @ tgt_points).squeeze(-1)  # [B, H, W, 3]
    tgt_depth = projected[..., 2:3]
    image_xy = projected[..., :2] / torch.clamp(tgt_depth, min=_MIN_PROJECTED_DEPTH)
    flow = image_xy - pixels[..., :2, 0]
    return flow.permute(0, 3, 1, 2), tgt_depth.permute(0, 3, 1, 2)


def depth_importance(tgt_depth: Tensor) -> Tensor:
    """Zero's splat importance, ``[B, 1, H, W] -> [B, 1, H, W]``, detached.

    ``1 / tgt_depth`` min-max normalized per sample onto ``[-10, 10]`` (``(v - min) / (max - min +
    1e-6) * 20 - 10``): the nearest pixel gets 10, the farthest -10, so near content outweighs far
    content by up to ``e^20`` where both land on one target pixel. It is a rescaling, not a clamp. With
    the splat's ``+ 1e-7`` divisor it also dims: a pixel reached only by importance ``-10`` sources (the
    farthest, or every pixel of a constant-depth image) comes out scaled by ``e^-10 / (e^-10 + 1e-7)``
    = 0.9978, features and coverage alike, as in the original.
    """
    inverse = 1.0 / tgt_depth
    low = inverse.amin((1, 2, 3), keepdim=True)
    high = inverse.amax((1, 2, 3), keepdim=True)
    scaled = (inverse - low) / (high - low + _IMPORTANCE_SPAN_EPS) * (2 * IMPORTANCE_LIMIT) - IMPORTANCE_LIMIT
    return scaled.detach()


def _batched(tensor: Tensor, tail: tuple[int, ...], batch: int, name: str, hint: str = "") -> Tensor:
    """``[B, *tail]``, ``[1, *tail]`` or ``tail`` -> ``[B, *tail]``."""
    require_float_dtype(require_tensor(tensor, name), name)
    check_shape(tensor, [("B", *tail), tail], name, sizes={"B": tuple(sorted({1, batch}))}, hint=hint)
    return tensor.reshape(-1, *tail).expand(batch, *tail)


def _check_render_inputs(features: Tensor, depth: Tensor, rotation: Tensor, translation: Tensor,
                         src_pixel_matrix: Tensor, tgt_pixel_matrix: Tensor) -> tuple[Tensor, ...]:
    """Checked ``(depth [B, H, W], rotation, translation, K_src, K_tgt)`` in ``features``' dtype (one sync)."""
    require_float_dtype(require_tensor(features, "features"), "features")
    require_float_dtype(require_tensor(depth, "depth"), "depth")
    sizes = check_shape(features, ("B", "C", "H", "W"), "features")
    check_min_size(features, 1, "features")
    check_shape(depth, [("B", "H", "W"), ("B", 1, "H", "W")], "depth", sizes=sizes)
    if depth.dtype != features.dtype or depth.device != features.device:
        raise ValueError(f"depth is {depth.dtype} on {depth.device} but features are {features.dtype} on "
                         f"{features.device}; pass both in one dtype on one device")
    batch = sizes["B"]
    cameras = [_batched(rotation, (3, 3), batch, "rotation"), _batched(translation, (3,), batch, "translation"),
               _batched(src_pixel_matrix, (3, 3), batch, "src_pixel_matrix", " (K in pixels)"),
               _batched(tgt_pixel_matrix, (3, 3), batch, "tgt_pixel_matrix", " (K in pixels)")]
    rotation, translation, src_k, tgt_k = (c.to(dtype=features.dtype, device=features.device) for c in cameras)
    pose = torch.cat([rotation, translation.unsqueeze(-1)], dim=-1)
    focal_and_centre = {name: k[:, [0, 1, 0, 1], [0, 1, 2, 2]] for name, k in (("src_pixel_matrix", src_k),
                                                                                ("tgt_pixel_matrix", tgt_k))}
    depth_range = torch.stack(torch.aminmax(depth.detach()))
    low, high = read_cameras({"(rotation, translation)": pose}, focal_and_centre, extra=depth_range)
    if not (low > 0 and math.isfinite(high)):
        raise ValueError(f"depth must be positive and finite (z-depth, e.g. 1 / disparity), got range [{low}, {high}]")
    return depth.reshape(sizes["B"], sizes["H"], sizes["W"]), rotation, translation, src_k, tgt_k


def render_forward_splat(features: Tensor, depth: Tensor, rotation: Tensor, translation: Tensor,
                         src_pixel_matrix: Tensor, tgt_pixel_matrix: Tensor | None = None,
                         ) -> tuple[Tensor, Tensor, Tensor]:
    """Zero's forward-splat render: the source image seen from the target camera.

    Args:
        features: ``[B, C, H, W]`` source features (Zero: RGB plus the Sobel alpha of
            :func:`sobel_foreground_alpha`). The original takes them channels-last; here they are NCHW.
        depth: ``[B, H, W]`` or ``[B, 1, H, W]`` positive z-depth of the source (Zero: ``1 / disparity``).
        rotation, translation: ``[B|1, 3, 3]`` and ``[B|1, 3]`` (or unbatched), source to target camera
            (``P_tgt = R P_src + t``); ``R`` must be a rotation.
        src_pixel_matrix: ``[B|1, 3, 3]`` (or ``[3, 3]``) integer-pixel ``K`` of the source (module doc).
        tgt_pixel_matrix: the target's, defaults to ``src_pixel_matrix``.

    Returns:
        ``(features [B, C, H, W], disparity [B, 1, H, W], mask [B, 1, H, W])``: the softmax-splatted
        features, target disparity ``1 / p_z`` and coverage (splatted ones: near 1 where the source
        covers the target, 0 in holes). Nothing is clamped or thresholded (Zero clamps the disparity
        to [0.01, 1] and keeps ``alpha > 0.3 and mask > 0.9`` afterwards).

    Raises:
        TypeError: an input is not a tensor.
        ValueError: wrong shapes, a dtype other than float32/float64, mixed dtypes or devices, a
            rotation that is not one, a non-finite camera or ``fx, fy <= 0``, or depth that is not
            positive and finite (one host-device sync).
    """
    tgt_pixel_matrix = src_pixel_matrix if tgt_pixel_matrix is None else tgt_pixel_matrix
    depth, rotation, translation, src_k, tgt_k = _check_render_inputs(
        features, depth, rotation, translation, src_pixel_matrix, tgt_pixel_matrix)
    flow, tgt_depth = splat_flow(depth, rotation, translation, src_k, tgt_k)
    importance = depth_importance(tgt_depth)
    tgt_disparity = 1.0 / tgt_depth
    splatted = _softmax_splat(torch.cat([features, tgt_disparity, torch.ones_like(tgt_depth)], dim=1), flow,
                              importance, SPLAT_EPS)
    channels = features.shape[1]
    return splatted[:, :channels], splatted[:, channels:channels + 1], splatted[:, channels + 1:]
