"""Fast triangle rasterizer in plain PyTorch (CPU and CUDA, same code, no compiled extension).

Why hand-written: the well-kept differentiable rasterizers (PyTorch3D, nvdiffrast) need a
compiler or CUDA toolchain at install time and neither reproduces the original Infinite
Nature kernel's tie and edge rules. This one is tested against the literal reference in
:mod:`viewgen.rendering.raster.reference`.

Two passes:

1. **Visibility** (no gradient, :mod:`viewgen.rendering.raster.visibility`): which triangle covers
   each pixel, by testing every (triangle, candidate pixel) pair of the triangles' bounding
   boxes (large boxes row by row, :mod:`viewgen.rendering.raster.spans`) with the kernel's edge
   functions and resolving depth with one packed-key z-buffer. Its memory is bounded by the
   image size and the triangle count whatever the vertex values are (see the module).
2. **Interpolation**. When gradients are needed, the barycentrics of the winning triangle are
   recomputed for the covered pixels from the clip coordinates with the same float arithmetic,
   so gradients reach the vertex positions (clip x, y, w) as in the original; z gets none.
   Otherwise (float32, no grad) the visibility pass hands out the values it already computed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.rendering.raster.fragments import Fragments, face_corner_rows, pixel_barycentrics
from viewgen.rendering.raster.visibility import MAX_CANDIDATES, visible_faces


def covered_corner_rows(face_ids: Tensor, faces: Tensor, num_vertices: int) -> tuple[Tensor, Tensor]:
    """Covered pixels ``[M]`` (flat, increasing) and their triangles' corner rows ``[3, M]``.

    Corner rows index the batch-flattened ``[B * V]`` vertex arrays.
    """
    flat_ids = face_ids.reshape(-1)
    pixels = torch.nonzero(flat_ids >= 0).squeeze(1)
    return pixels, _pixel_corner_rows(flat_ids.index_select(0, pixels), pixels, faces, face_ids, num_vertices).t()


def _pixel_corner_rows(pixel_faces: Tensor, pixels: Tensor | None, faces: Tensor, face_ids: Tensor,
                       num_vertices: int) -> Tensor:
    """``[M, 3]`` corner rows of ``pixel_faces`` seen at flat ``pixels`` (None: every pixel, in order)."""
    batch, height, width = face_ids.shape
    images = None
    if batch > 1:
        if pixels is None:
            pixels = torch.arange(batch * height * width, device=face_ids.device)
        images = torch.div(pixels, height * width, rounding_mode="floor")
    return face_corner_rows(faces, pixel_faces, images, num_vertices)


def rasterize(clip_vertices: Tensor, faces: Tensor, height: int, width: int,
              max_candidates: int = MAX_CANDIDATES, grid: tuple[int, int] | None = None) -> Fragments:
    """Rasterize clip-space triangles with the original ``tf_mesh_renderer`` semantics.

    Args:
        clip_vertices: ``[B, V, 4]`` homogeneous clip coordinates (x, y, z, w).
        faces: ``[T, 3]`` int64 vertex indices, shared by the batch.
        height, width: output size in pixels.
        max_candidates: bound on the (triangle, pixel) pairs tested at once beyond each
            triangle's first (a memory knob only; one candidate per triangle is always tested at once).
        grid: ``(Hv, Wv)`` when ``faces`` is ``grid_faces(Hv, Wv)`` over ``Hv * Wv`` vertices in
            row-major order (the warp's mesh); lets the rasterizer slice instead of gather.

    Returns:
        :class:`Fragments`. When ``clip_vertices`` requires grad, ``barycentrics`` carry gradients
        to it; otherwise (float32) they come from the visibility pass and may be a
        non-contiguous view.
    """
    check_shape(clip_vertices, ("B", "V", 4), "clip_vertices")
    check_shape(faces, ("T", 3), "faces")
    faces = faces.to(device=clip_vertices.device, dtype=torch.int64)
    if grid is not None and (grid[0] * grid[1] != clip_vertices.shape[1]
                             or faces.shape[0] != 2 * (grid[0] - 1) * (grid[1] - 1)):
        raise ValueError(f"grid {tuple(grid)} does not match {clip_vertices.shape[1]} vertices and "
                         f"{faces.shape[0]} faces")
    lookup = clip_vertices.dtype == torch.float32 and not (clip_vertices.requires_grad and torch.is_grad_enabled())
    face_ids, ndc_z, weights = visible_faces(clip_vertices, faces, height, width, max_candidates, grid,
                                             with_barycentrics=lookup)
    if weights is not None:
        barycentrics = weights.view(3, *face_ids.shape).permute(1, 2, 3, 0)
        return Fragments(face_ids=face_ids, barycentrics=barycentrics, ndc_z=ndc_z, weights=weights)
    pixels, corner_rows = covered_corner_rows(face_ids, faces, clip_vertices.shape[1])
    weights = pixel_barycentrics(clip_vertices, pixels, corner_rows, height, width)
    barycentrics = clip_vertices.new_zeros(face_ids.numel(), 3).index_copy(0, pixels, weights.t())
    return Fragments(face_ids=face_ids, barycentrics=barycentrics.view(*face_ids.shape, 3), ndc_z=ndc_z,
                     weights=weights, covered_pixels=pixels, corner_rows=corner_rows)


def interpolate_attributes(fragments: Fragments, faces: Tensor, attributes: Tensor,
                           background: Tensor) -> Tensor:
    """Shade: barycentric blend of per-vertex attributes, background where nothing is hit.

    Args:
        fragments: from :func:`rasterize`, ``[B, H, W]``.
        faces: ``[T, 3]``.
        attributes: ``[B, V, A]`` per-vertex values.
        background: ``[A]`` value of uncovered pixels.

    Returns:
        ``[B, A, H, W]``: ``sum_i b_i attr[v_i]`` computed as ``(b0 a0 + b1 a1) + b2 a2``.
    """
    batch, height, width = fragments.face_ids.shape
    num_vertices, channels = attributes.shape[1:]
    faces = faces.to(attributes.device)
    flat_ids = fragments.face_ids.reshape(-1)
    pixels, weights = fragments.covered_pixels, fragments.weights
    if weights is None:
        pixels = torch.nonzero(flat_ids >= 0).squeeze(1)
        weights = fragments.barycentrics.reshape(-1, 3).index_select(0, pixels).t()
    if fragments.corner_rows is not None and fragments.weights is not None:
        corner_rows = fragments.corner_rows.t()
    else:
        pixel_faces = flat_ids.clamp(min=0) if pixels is None else flat_ids.index_select(0, pixels)
        corner_rows = _pixel_corner_rows(pixel_faces, pixels, faces, fragments.face_ids, num_vertices)
    corners = attributes.reshape(-1, channels).index_select(0, corner_rows.reshape(-1)).view(-1, 3, channels)
    values = weights[0] * corners[:, 0].t() + weights[1] * corners[:, 1].t() + weights[2] * corners[:, 2].t()
    background = background.to(attributes).view(channels, 1)
    if pixels is None:
        out = torch.where(flat_ids >= 0, values, background)
    else:
        out = background.expand(channels, flat_ids.shape[0]).contiguous().index_copy(1, pixels, values)
    return out.view(channels, batch, height, width).transpose(0, 1)
