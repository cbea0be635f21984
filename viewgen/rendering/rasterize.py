"""Fast triangle rasterizer in plain PyTorch (CPU and CUDA, same code, no compiled extension).

Why hand-written: the well-kept differentiable rasterizers (PyTorch3D, nvdiffrast) need a
compiler or CUDA toolchain at install time and neither reproduces the original Infinite
Nature kernel's tie and edge rules. This one is tested against the literal reference in
:mod:`viewgen.rendering.rasterize_reference`.

Two passes:

1. **Visibility** (no gradient). Every triangle lists the pixels whose centres may lie inside
   it: the tight bounding box of its projected vertices (padded by a hair against rounding),
   or the whole screen when a vertex is behind the camera. Each (triangle, pixel) candidate is
   tested with the homogeneous edge functions; survivors carry a 64-bit key
   ``(ndc z, -triangle id)`` and one ``scatter_reduce(amin)`` per chunk resolves the z-buffer:
   nearest surface wins, the later triangle on an exact tie. Nearly every triangle of a warp
   covers at most two candidate pixels; those are evaluated densely, without gathers. Candidates are processed in chunks
   of bounded size, so triangles of any size are rasterized completely in bounded memory.
2. **Interpolation** (differentiable). For covered pixels only, the barycentrics of the
   winning triangle are recomputed from the clip coordinates with the same float arithmetic,
   so gradients reach the vertex positions (clip x, y, w) as in the original; z gets none.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.rendering.fragments import (
    Corners,
    Fragments,
    barycentrics_from_edges,
    edge_functions,
    inside_triangle,
    interpolated_ndc_z,
    pixel_center_ndc,
)

# Candidate pixels whose centre lies this many pixels outside a triangle's projected bounding
# box are still tested, so float rounding of the projection can never drop a covered pixel.
_BBOX_PAD_PX = 1e-2
# z-buffer keys are ``(ordered z + 2**31) << 31 | (2**31 - 1 - face id)``: non-negative, ordered
# by depth first and by descending face id on ties. An empty pixel holds the largest int64.
_NO_HIT = torch.iinfo(torch.int64).max
_RANK_BITS = 31
_RANK_MASK = (1 << _RANK_BITS) - 1

# Note on speed: on CPU, torch.where / masked_fill with a data-dependent mask cost ~30 float
# multiplies per element, so the hot path below uses bit operations and boolean algebra.


def _axis_range(screen: Corners, size: int, all_front: Tensor) -> tuple[Tensor, Tensor]:
    """First pixel and pixel count per triangle along one axis from screen coordinates.

    The pixels are those whose centres ``i + 0.5`` lie within the projected extent padded by
    ``_BBOX_PAD_PX``: never wider than the kernel's ``[floor(min), ceil(max))`` box, and the
    pad absorbs any rounding difference in the screen coordinates (the edge test, not the box,
    decides coverage). Triangles with a vertex at or behind the eye get the whole axis.
    """
    low = (torch.minimum(torch.minimum(screen[0], screen[1]), screen[2]) - 0.5 - _BBOX_PAD_PX).ceil()
    high = (torch.maximum(torch.maximum(screen[0], screen[1]), screen[2]) - 0.5 + _BBOX_PAD_PX).floor() + 1
    low, high = low.clamp(0, size), high.clamp(0, size)
    behind = torch.nonzero(~all_front).squeeze(1)  # rare: a vertex at or behind the eye
    low.index_fill_(0, behind, 0.0)
    high.index_fill_(0, behind, float(size))
    return low.long(), (high - low).clamp(min=0).long()


class _Triangles:
    """Per-triangle data of the visibility pass, flattened over the batch (``N = B * T`` rows).

    Corner coordinates are laid out once per triangle as contiguous ``[N]`` tensors: by
    gathering through ``faces``, or, for the pixel-grid mesh of :func:`grid_faces` (``grid``
    given), by slicing the vertex grid, which builds the same rows without gathers.
    """

    def __init__(self, clip: Tensor, faces: Tensor, height: int, width: int,
                 grid: tuple[int, int] | None = None):
        batch, num_vertices, _ = clip.shape
        flat = clip.reshape(-1, 4)
        coords = [flat[:, k].contiguous() for k in range(4)]
        screen_x = (coords[0] / coords[3] + 1.0) * (0.5 * width)
        screen_y = (coords[1] / coords[3] + 1.0) * (0.5 * height)
        corners = _grid_corners(batch, grid) if grid is not None else _gathered_corners(faces, batch, num_vertices)
        self.x, self.y, self.z, self.w = (corners(values) for values in coords)
        w0, w1, w2 = self.w
        all_front = (w0 > 0) & (w1 > 0) & (w2 > 0)
        some_front = ~((w0 < 0) & (w1 < 0) & (w2 < 0))
        self.col0, self.ncols = _axis_range(corners(screen_x), width, all_front)
        self.row0, self.nrows = _axis_range(corners(screen_y), height, all_front)
        self.counts = self.ncols * self.nrows
        self.counts.index_fill_(0, torch.nonzero(~some_front).squeeze(1), 0)
        num_faces = faces.shape[0]
        self.face_rank = _RANK_MASK - torch.arange(num_faces, device=clip.device).repeat(batch)
        image_start = torch.arange(batch, device=clip.device).unsqueeze(1) * (height * width)
        self.pixel_base = image_start.expand(batch, num_faces).reshape(-1)

    def select(self, index: Tensor) -> dict[str, Corners]:
        """Corner coordinates of the triangles ``index`` (``[M]`` rows)."""
        return {name: tuple(c.index_select(0, index) for c in getattr(self, name)) for name in "xyzw"}


def _gathered_corners(faces: Tensor, batch: int, num_vertices: int):
    """``values [B * V] -> corners`` for any faces: three ``[B * T]`` gathers."""
    offsets = torch.arange(batch, device=faces.device).unsqueeze(1) * num_vertices
    corner_ids = [(faces[:, k].unsqueeze(0) + offsets).reshape(-1) for k in range(3)]
    return lambda values: tuple(values.index_select(0, ids) for ids in corner_ids)


def _grid_corners(batch: int, grid: tuple[int, int]):
    """``values [B * V] -> corners`` for the :func:`grid_faces` mesh of a ``grid = (H, W)`` vertex grid.

    Cell ``(y, x)`` holds ``[tl, bl, tr]`` then ``[br, tr, bl]``; stacking the two triangles
    on a last axis reproduces the face order ``2 * cell + t`` with slices instead of gathers.
    """
    def corners(values: Tensor) -> Corners:
        image = values.view(batch, *grid)
        tl, bl, tr, br = image[:, :-1, :-1], image[:, 1:, :-1], image[:, :-1, 1:], image[:, 1:, 1:]
        return tuple(torch.stack(pair, dim=-1).reshape(-1) for pair in ((tl, br), (bl, tr), (tr, bl)))
    return corners


def _depth_keys(ndc_z: Tensor, face_rank: Tensor, valid: Tensor) -> Tensor:
    """z-buffer keys (see ``_NO_HIT``); invalid candidates get ``_NO_HIT`` so ``amin`` ignores them."""
    bits = (ndc_z + 0.0).contiguous().view(torch.int32)  # + 0.0 turns -0.0 into +0.0
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # monotonic in z as a signed int
    keys = ((ordered.long() + (1 << 31)) << _RANK_BITS) | face_rank
    return keys | (-(~valid).long() & _NO_HIT)


def _decode_keys(zkeys: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`_depth_keys` on the z-buffer: (face ids with -1 for no hit, NDC z with 1)."""
    missed = (zkeys == _NO_HIT).long()
    face_ids = _RANK_MASK - (zkeys & _RANK_MASK) - missed
    ordered = ((zkeys >> _RANK_BITS) - (1 << 31)).to(torch.int32)
    ndc_z = (ordered ^ ((ordered >> 31) & 0x7FFFFFFF)).view(torch.float32)
    return face_ids, torch.nan_to_num(ndc_z, nan=1.0)  # only empty pixels decode to NaN


def _test_candidates(zkeys: Tensor, px: Tensor, py: Tensor, corners: dict[str, Corners], face_rank: Tensor,
                     pixels: Tensor, valid: Tensor) -> None:
    """Edge test, depth range test and z-buffer fold for broadcastable candidate arrays.

    Invalid candidates keep a clamped (harmless) pixel index and the key ``_NO_HIT``.
    """
    edges, determinant = edge_functions(px, py, corners["x"], corners["y"], corners["w"])
    ndc_z = interpolated_ndc_z(barycentrics_from_edges(edges), corners["z"], corners["w"])
    valid = valid & inside_triangle(edges, determinant) & (ndc_z >= -1.0) & (ndc_z <= 1.0)
    keys = _depth_keys(ndc_z, face_rank, valid)
    targets, keys = torch.broadcast_tensors(pixels.clamp(0, len(zkeys) - 1), keys)
    zkeys.scatter_reduce_(0, targets.reshape(-1), keys.reshape(-1), reduce="amin")


def _small_triangles(zkeys: Tensor, tris: _Triangles, ndc_x: Tensor, ndc_y: Tensor, width: int) -> Tensor:
    """Test every triangle whose candidate box holds at most two pixels, densely (no gathers).

    Such a box is 1x1, 1x2 or 2x1 pixels: slot 0 is its first pixel, slot 1 the next one along
    the box's long side. This covers nearly every triangle of a warp. Returns the ``[N]`` bool
    mask of the triangles left for :func:`_large_triangles`.
    """
    second_col = tris.col0 + (tris.ncols == 2).long()
    second_row = tris.row0 + (tris.nrows == 2).long()
    px = torch.stack([ndc_x.index_select(0, tris.col0), ndc_x.index_select(0, second_col)])  # [2, N]
    py = torch.stack([ndc_y.index_select(0, tris.row0), ndc_y.index_select(0, second_row)])
    first_pixel = tris.pixel_base + tris.row0 * width + tris.col0
    pixels = torch.stack([first_pixel, tris.pixel_base + second_row * width + second_col])
    small = tris.counts <= 2
    valid = torch.stack([small & (tris.counts > 0), small & (tris.counts == 2)])
    corners = {"x": tris.x, "y": tris.y, "z": tris.z, "w": tris.w}
    _test_candidates(zkeys, px, py, corners, tris.face_rank, pixels, valid)
    return tris.counts > 2


def _chunks(counts: Tensor, max_candidates: int) -> list[tuple[int, int]]:
    """Split consecutive triangles into runs whose candidate counts sum to <= max_candidates.

    A single triangle with more candidates than the limit forms a run of its own.
    """
    ends = torch.cumsum(counts, 0)
    boundaries = [0]
    while boundaries[-1] < len(counts):
        start = boundaries[-1]
        budget = (int(ends[start - 1]) if start else 0) + max_candidates
        stop = int(torch.searchsorted(ends, budget, right=True))
        boundaries.append(max(stop, start + 1))
    return list(zip(boundaries[:-1], boundaries[1:]))


def _large_triangles(zkeys: Tensor, tris: _Triangles, selected: Tensor, ndc_x: Tensor, ndc_y: Tensor,
                     width: int, max_candidates: int) -> None:
    """Enumerate every candidate pixel of the selected triangles, in bounded chunks."""
    indices = torch.nonzero(selected).squeeze(1)
    if len(indices) == 0:
        return
    counts = tris.counts.index_select(0, indices)
    total = int(counts.sum())
    runs = [(0, len(indices))] if total <= max_candidates else _chunks(counts, max_candidates)
    for start, stop in runs:
        chunk_counts = counts[start:stop]
        face_of = torch.repeat_interleave(indices[start:stop], chunk_counts)
        first = torch.cumsum(chunk_counts, 0) - chunk_counts
        local = torch.arange(len(face_of), device=zkeys.device) - torch.repeat_interleave(first, chunk_counts)
        ncols = tris.ncols[face_of]
        cols = tris.col0[face_of] + torch.remainder(local, ncols)
        rows = tris.row0[face_of] + torch.div(local, ncols, rounding_mode="floor")
        pixels = tris.pixel_base[face_of] + rows * width + cols
        valid = torch.ones_like(pixels, dtype=torch.bool)
        _test_candidates(zkeys, ndc_x.index_select(0, cols), ndc_y.index_select(0, rows), tris.select(face_of), tris.face_rank[face_of], pixels,
                         valid)


def visible_faces(clip_vertices: Tensor, faces: Tensor, height: int, width: int,
                  max_candidates: int = 1 << 22, grid: tuple[int, int] | None = None) -> tuple[Tensor, Tensor]:
    """The visibility pass: ``[B, V, 4]`` clip vertices -> (``face_ids [B, H, W]``, ``ndc_z [B, H, W]``).

    ``face_ids`` is -1 where nothing is hit; ``ndc_z`` is 1 there. Not differentiable.
    ``grid = (Hv, Wv)`` says that ``faces`` is ``grid_faces(Hv, Wv)`` (a speed hint only).
    """
    clip = clip_vertices.detach().to(torch.float32)
    batch = clip.shape[0]
    device = clip.device
    tris = _Triangles(clip, faces, height, width, grid)
    # Two spare entries so that ``col0 + 1`` / ``row0 + 1`` never index out of range.
    ndc_x = torch.cat([pixel_center_ndc(width, device), torch.zeros(2, device=device)])
    ndc_y = torch.cat([pixel_center_ndc(height, device), torch.zeros(2, device=device)])
    zkeys = torch.full((batch * height * width,), _NO_HIT, dtype=torch.int64, device=device)
    large = _small_triangles(zkeys, tris, ndc_x, ndc_y, width)
    _large_triangles(zkeys, tris, large, ndc_x, ndc_y, width, max_candidates)
    face_ids, ndc_z = _decode_keys(zkeys)
    return face_ids.view(batch, height, width), ndc_z.view(batch, height, width)


def covered_corner_rows(face_ids: Tensor, faces: Tensor, num_vertices: int) -> tuple[Tensor, Tensor]:
    """Covered pixels ``[M]`` (flat, increasing) and their triangles' corner rows ``[3, M]``.

    Corner rows index the batch-flattened ``[B * V]`` vertex arrays.
    """
    batch, height, width = face_ids.shape
    flat_ids = face_ids.reshape(-1)
    pixels = torch.nonzero(flat_ids >= 0).squeeze(1)
    pixel_faces = flat_ids.index_select(0, pixels)
    vertex_offset = torch.div(pixels, height * width, rounding_mode="floor") * num_vertices
    corner_rows = torch.stack([faces[:, k].index_select(0, pixel_faces) + vertex_offset for k in range(3)])
    return pixels, corner_rows


def pixel_barycentrics(clip_vertices: Tensor, pixels: Tensor, corner_rows: Tensor, height: int,
                       width: int) -> Tensor:
    """Differentiable barycentrics at the centres of the covered pixels, ``[B, H, W, 3]`` (0 elsewhere).

    ``pixels [M]`` and ``corner_rows [3, M]`` come from :func:`covered_corner_rows`. Uses the
    arithmetic of the visibility pass, so for float32 input the values equal the kernel's.
    """
    flat = clip_vertices.reshape(-1, 4)
    x, y, w = (tuple(flat[:, k].index_select(0, rows) for rows in corner_rows) for k in (0, 1, 3))
    device, dtype = clip_vertices.device, clip_vertices.dtype
    columns = torch.remainder(pixels, width)
    image_rows = torch.remainder(torch.div(pixels, width, rounding_mode="floor"), height)
    px = pixel_center_ndc(width, device).to(dtype).index_select(0, columns)
    py = pixel_center_ndc(height, device).to(dtype).index_select(0, image_rows)
    edges, _ = edge_functions(px, py, x, y, w)
    weights = torch.stack(barycentrics_from_edges(edges), dim=-1)
    out = torch.zeros(clip_vertices.shape[0] * height * width, 3, dtype=dtype, device=device)
    return out.index_copy(0, pixels, weights).view(-1, height, width, 3)


def rasterize(clip_vertices: Tensor, faces: Tensor, height: int, width: int,
              max_candidates: int = 1 << 22, grid: tuple[int, int] | None = None) -> Fragments:
    """Rasterize clip-space triangles with the original ``tf_mesh_renderer`` semantics.

    Args:
        clip_vertices: ``[B, V, 4]`` homogeneous clip coordinates (x, y, z, w).
        faces: ``[T, 3]`` int64 vertex indices, shared by the batch.
        height, width: output size in pixels.
        max_candidates: bound on the (triangle, pixel) pairs tested at once (memory knob only).
        grid: ``(Hv, Wv)`` when ``faces`` is ``grid_faces(Hv, Wv)`` over ``Hv * Wv`` vertices in
            row-major order (the warp's mesh); lets the rasterizer slice instead of gather.

    Returns:
        :class:`Fragments`; ``barycentrics`` carry gradients to ``clip_vertices``.
    """
    if clip_vertices.dim() != 3 or clip_vertices.shape[-1] != 4:
        raise ValueError(f"clip_vertices must be [B, V, 4], got {tuple(clip_vertices.shape)}")
    if faces.dim() != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must be [T, 3], got {tuple(faces.shape)}")
    faces = faces.to(device=clip_vertices.device, dtype=torch.int64)
    if grid is not None and (grid[0] * grid[1] != clip_vertices.shape[1]
                             or faces.shape[0] != 2 * (grid[0] - 1) * (grid[1] - 1)):
        raise ValueError(f"grid {tuple(grid)} does not match {clip_vertices.shape[1]} vertices and "
                         f"{faces.shape[0]} faces")
    face_ids, ndc_z = visible_faces(clip_vertices, faces, height, width, max_candidates, grid)
    pixels, corner_rows = covered_corner_rows(face_ids, faces, clip_vertices.shape[1])
    barycentrics = pixel_barycentrics(clip_vertices, pixels, corner_rows, height, width)
    return Fragments(face_ids=face_ids, barycentrics=barycentrics, ndc_z=ndc_z, covered_pixels=pixels,
                     corner_rows=corner_rows)


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
    if fragments.covered_pixels is not None and fragments.corner_rows is not None:
        pixels, corner_rows = fragments.covered_pixels, fragments.corner_rows
    else:
        pixels, corner_rows = covered_corner_rows(fragments.face_ids, faces.to(attributes.device), num_vertices)
    flat = attributes.reshape(-1, channels)
    weights = fragments.barycentrics.reshape(-1, 3).index_select(0, pixels)
    values = (weights[:, 0:1] * flat.index_select(0, corner_rows[0])
              + weights[:, 1:2] * flat.index_select(0, corner_rows[1])
              + weights[:, 2:3] * flat.index_select(0, corner_rows[2]))
    out = background.to(attributes).expand(batch * height * width, channels).contiguous()
    out = out.index_copy(0, pixels, values)
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)
