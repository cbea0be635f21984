"""The visibility pass of the fast rasterizer: which triangle covers each pixel (no gradient).

Each (triangle, candidate pixel) pair of the :mod:`~viewgen.rendering.raster.triangle_table` boxes is
tested with the kernel's homogeneous edge functions; survivors carry a 64-bit key
``(ndc z, -face id)`` and ``scatter_reduce(amin)`` resolves the z-buffer: nearest surface
wins, the later triangle on an exact tie.

How it stays fast in plain PyTorch: on a 2-core CPU the elementwise operations here are bound
by memory traffic and per-operation overhead, while gathers, comparisons, ``nonzero`` and
``torch.where`` cost several times a float multiply, and arrays that outgrow the L2 cache cost
more per element. Every triangle's first candidate pixel is tested densely, on ``[N]`` arrays
and without gathers: 70% of a warp's triangles have exactly one candidate, 15% two, 86% at
most two. The other candidates (second pixels of two-pixel boxes, boxes of up to
``LARGE_BOX_PIXELS`` enumerated whole, and larger ones row by row, only the columns where the
triangle can lie: :mod:`~viewgen.rendering.raster.spans`) are listed and their corners gathered.
Rejected candidates go to a spare z-buffer slot 0 (index times hit) instead of being masked.
Meshes of more than ``BAND_TRIANGLES`` triangles are processed in bands
(:class:`~viewgen.rendering.raster.triangle_table.MeshLayout`) into one z-buffer.

What is bounded, whatever the vertex values (NaN, infinite, huge, behind the eye): the z-buffer
and barycentric buffers are ``B * H * W``; the per-triangle arrays ``O(T)`` (one band of at most
``BAND_TRIANGLES`` at a time); the candidate lists are made one at a time, as they are tested,
each of at most ``MAX_CANDIDATES`` (or one box of at most ``LARGE_BOX_PIXELS``, or one row of
``W``), so the memory in flight is ~150 MiB at most. Triangles that cannot be hit (non-finite
corners) list nothing. The work is ``O(T + large triangles x H / 16)`` plus the candidates,
which for large triangles are the pixels they can cover: a far pose with hundreds of
whole-screen boxes costs about an ordinary warp. Only true overdraw (many triangles really
covering the same pixels) costs more, in time, not memory.

Without gradients, the pass also hands out the winners' barycentrics, which it computed anyway:
a pixel won by a first candidate looks it up in the dense arrays; a listed candidate that holds
its pixel writes it (a later chunk that beats it overwrites it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.rendering.raster.fragments import (
    Corners,
    barycentrics_from_edges,
    edge_functions,
    face_corner_rows,
    interpolated_ndc_z,
    pixel_center_ndc,
    triangle_hits,
)
from viewgen.rendering.raster.spans import (
    LARGE_BOX_PIXELS,
    LargeTriangles,
    bounded_runs,
    large_triangles,
    span_candidates,
)
from viewgen.rendering.raster.triangle_table import (
    KEY_BIAS,
    RANK_BITS,
    RANK_MASK,
    MeshLayout,
    TriangleTable,
    triangle_table,
    vertex_pixel_bounds,
)

# An empty z-buffer slot holds the largest int64; real keys are smaller (|ndc z| <= 1).
NO_HIT = torch.iinfo(torch.int64).max
# Triangles per band. Measured on 2 cores: bands of 2**19 make a 640x1024 warp ~8% faster and
# smaller in memory; smaller bands cost more in per-operation overhead than they save.
BAND_TRIANGLES = 1 << 19
# Candidates tested at once beyond each triangle's first: ~300 bytes each in flight, so about
# 150 MiB at most, whatever the geometry (a single box or row larger than this goes alone).
MAX_CANDIDATES = 1 << 19


@dataclass(frozen=True)
class _FirstCandidates:
    """What the dense pass keeps for the barycentric look-up: each triangle's first candidate's
    z-buffer slot ``[*S]`` int64 and barycentric triple ``[*S]`` float32."""

    targets: Tensor
    barycentrics: Corners


def _depth_keys(ndc_z: Tensor, rank_keys: Tensor) -> Tensor:
    """z-buffer keys ``ordered(z) * 2**31 + rank`` of candidates with ``|ndc_z| <= 1``; ``rank_keys`` broadcasts."""
    bits = (ndc_z + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into +0.0
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # monotonic in z as a signed int
    return ordered.long() * (1 << RANK_BITS) + rank_keys


def decode_keys(zkeys: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`_depth_keys` on the z-buffer: (face ids with -1 for no hit, NDC z with 1)."""
    missed = (zkeys == NO_HIT).long()
    face_ids = RANK_MASK - (zkeys & RANK_MASK) - missed
    ordered = ((zkeys >> RANK_BITS) - (1 << 31)).to(torch.int32)
    ndc_z = (ordered ^ ((ordered >> 31) & 0x7FFFFFFF)).view(torch.float32)
    return face_ids, torch.nan_to_num(ndc_z, nan=1.0)  # only empty pixels decode to NaN


def _fold(zkeys: Tensor, px: Tensor, py: Tensor, x: Corners, y: Corners, z: Corners, w: Corners,
          rank_keys: Tensor, targets: Tensor, usable: Tensor | None = None) -> tuple[Corners, Tensor, Tensor]:
    """Test candidates (pixel centre ``(px, py)`` in NDC, triangle corners), fold hits into the z-buffer.

    Every argument has one shape (or broadcasts to it). ``targets`` are int64 z-buffer slots;
    ``zkeys [1 + B * H * W]`` collects rejected candidates in slot 0; ``usable`` is an optional
    bool mask of the candidates to consider. Returns the candidates' barycentrics, z-buffer keys
    and slots (0 for the rejected ones).
    """
    edges, determinant = edge_functions(px, py, x, y, w)
    barycentrics = barycentrics_from_edges(edges)
    ndc_z = interpolated_ndc_z(barycentrics, z, w)
    hits = triangle_hits(edges, determinant, ndc_z)
    if usable is not None:
        hits &= usable
    keys = _depth_keys(ndc_z, rank_keys)
    slots = targets * hits
    zkeys.scatter_reduce_(0, slots.reshape(-1), keys.reshape(-1), reduce="amin")
    return barycentrics, keys, slots


def _fold_first_candidates(zkeys: Tensor, table: TriangleTable, ndc_x: Tensor, ndc_y: Tensor,
                           width: int) -> _FirstCandidates:
    """Test every triangle's first candidate pixel ``(row0, col0)``, densely (no gathers of corners)."""
    px = ndc_x.index_select(0, table.col0.reshape(-1)).view(table.col0.shape)
    py = ndc_y.index_select(0, table.row0.reshape(-1)).view(table.row0.shape)
    targets = (table.row0 * width + table.col0 + table.pixel_base).long()
    barycentrics, _, _ = _fold(zkeys, px, py, table.x, table.y, table.z, table.w, table.rank_keys, targets,
                               usable=table.counts > 0)
    return _FirstCandidates(targets=targets, barycentrics=barycentrics)


def _second_pixels(table: TriangleTable, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(owner rows, columns, image rows)`` of the second pixel of the two-pixel boxes of table ``rows``."""
    wide = table.ncols.reshape(-1).index_select(0, rows) >> 1  # 1 for a 1x2 box, 0 for 2x1
    cols = table.col0.reshape(-1).index_select(0, rows) + wide
    return rows, cols, table.row0.reshape(-1).index_select(0, rows) + (1 - wide)


def _later_pixels(table: TriangleTable, rows: Tensor, counts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(owner rows, columns, image rows)`` of every candidate after the first of the boxes of table ``rows``."""
    others = counts - 1
    owner = torch.repeat_interleave(rows, others)
    first = torch.cumsum(others, 0) - others
    local = torch.arange(1, len(owner) + 1, device=rows.device) - torch.repeat_interleave(first, others)
    col0, row0, ncols = (t.reshape(-1).index_select(0, owner) for t in (table.col0, table.row0, table.ncols))
    return owner, col0 + torch.remainder(local, ncols), row0 + torch.div(local, ncols, rounding_mode="floor")


def _listed_corners(table: TriangleTable, faces: Tensor, owner: Tensor, pixels_per_image: int) -> tuple:
    """``(rank_keys, pixel_base, (x, y, z, w))`` of table rows ``owner [K]``: int64 ``[K]`` and corner
    triples of ``[K]`` float32, gathered from the vertex planes."""
    rank_keys = table.rank_keys.reshape(-1).index_select(0, owner)
    pixel_base = table.pixel_base.reshape(-1).index_select(0, owner).long()
    batch, num_vertices = table.planes.shape[1:]
    images = torch.div(pixel_base - 1, pixels_per_image, rounding_mode="floor") if batch > 1 else None
    corner_ids = face_corner_rows(faces, (KEY_BIAS + RANK_MASK) - rank_keys, images, num_vertices)  # [K, 3]
    planes = table.planes.view(4, -1)
    corners = [planes.index_select(1, ids) for ids in corner_ids.t()]  # 3 x [4, K]
    return rank_keys, pixel_base, tuple(tuple(corner[axis] for corner in corners) for axis in range(4))


def _fold_listed(zkeys: Tensor, table: TriangleTable, faces: Tensor, candidates: tuple, ndc_x: Tensor,
                 ndc_y: Tensor, height: int, width: int, weights: Tensor | None) -> None:
    """Test listed candidates ``(owner rows, columns, image rows)``, corners gathered from the vertex planes.

    With ``weights [3, 1 + B * H * W]`` given, the candidates that now hold their pixel write
    their barycentrics there (a later run that beats them overwrites them).
    """
    owner, cols, rows = candidates
    rank_keys, pixel_base, (x, y, z, w) = _listed_corners(table, faces, owner, height * width)
    targets = pixel_base + (rows * width + cols).long()
    barycentrics, keys, slots = _fold(zkeys, ndc_x.index_select(0, cols), ndc_y.index_select(0, rows), x, y, z, w,
                                      rank_keys, targets)
    if weights is not None:
        held = slots * (zkeys.index_select(0, slots) == keys)
        for k in range(3):
            weights[k].scatter_(0, held, barycentrics[k])


def _large_triangles(table: TriangleTable, faces: Tensor, owner: Tensor, height: int, width: int) -> LargeTriangles:
    """The :class:`~viewgen.rendering.raster.spans.LargeTriangles` of table rows ``owner [L]``."""
    _, _, corners = _listed_corners(table, faces, owner, height * width)
    col0, ncols, row0, counts = (t.reshape(-1).index_select(0, owner) for t in
                                 (table.col0, table.ncols, table.row0, table.counts))
    return large_triangles(owner, corners, (col0, ncols, row0, torch.div(counts, ncols, rounding_mode="floor")))


def _candidate_lists(table: TriangleTable, faces: Tensor, ndc_x: Tensor, ndc_y: Tensor, height: int, width: int,
                     max_candidates: int, large_box_pixels: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """The candidates after the first of triangles with several, as ``(owner rows, columns, image
    rows)`` lists of at most ``max_candidates`` each (or one box of at most ``large_box_pixels``,
    or one row's span).

    The second pixels of two-pixel boxes (15% of a warp's triangles) are listed directly, one per
    triangle; boxes of up to ``large_box_pixels`` are enumerated whole, larger ones row by row
    (:mod:`~viewgen.rendering.raster.spans`). Lists are made one at a time, as they are folded.
    """
    counts = table.counts.reshape(-1)
    pairs = torch.nonzero(counts == 2).squeeze(1)
    boxes = torch.nonzero(counts > 2).squeeze(1)
    box_counts = counts.index_select(0, boxes).long()
    large = None
    if len(boxes) and int(box_counts.max()) > large_box_pixels:
        is_large = box_counts > large_box_pixels
        large = boxes[is_large]
        boxes, box_counts = boxes[~is_large], box_counts[~is_large]
    pending = None
    if len(pairs):
        last = len(pairs) - 1 - (len(pairs) - 1) % max_candidates  # start of the last run of pairs
        for start in range(0, last, max_candidates):
            yield _second_pixels(table, pairs[start:start + max_candidates])
        pending = _second_pixels(table, pairs[last:])
    if len(boxes):
        runs = bounded_runs(box_counts, max_candidates) if int(box_counts.sum()) > max_candidates else [(0, len(boxes))]
        for start, stop in runs:
            listed = _later_pixels(table, boxes[start:stop], box_counts[start:stop])
            if pending is not None and len(pending[0]) + len(listed[0]) <= max_candidates:
                listed = tuple(torch.cat(pieces) for pieces in zip(pending, listed))
            elif pending is not None:
                yield pending
            pending = None
            yield listed
    if pending is not None:
        yield pending
    if large is not None:
        triangles = _large_triangles(table, faces, large, height, width)
        yield from span_candidates(triangles, ndc_x[:width].double(), ndc_y[:height].double(), max_candidates,
                                   max_candidates)


def _winner_barycentrics(face_ids: Tensor, layout: MeshLayout, first: _FirstCandidates, listed: Tensor) -> Tensor:
    """Barycentrics of every pixel's winning triangle, ``[3, B * H * W]`` float32, 0 on background.

    A pixel won by its triangle's first candidate takes the value the dense pass computed
    (``first`` over the whole ``layout``); the others hold the value their listed candidate
    wrote into ``listed [3, 1 + B * H * W]``.
    """
    flat_ids = face_ids.reshape(-1)
    pixel = torch.arange(1, flat_ids.shape[0] + 1, dtype=torch.int32, device=flat_ids.device)
    images = None
    if layout.batch > 1:
        images = torch.div(pixel - 1, flat_ids.shape[0] // layout.batch, rounding_mode="floor")
    rows = layout.rows_of(flat_ids.clamp(min=0), images)
    by_first = (first.targets.reshape(-1).index_select(0, rows) == pixel) & (flat_ids >= 0)
    looked_up = torch.stack([b.reshape(-1).index_select(0, rows) for b in first.barycentrics])
    return torch.where(by_first, looked_up, listed[:, 1:])


def _gather_bands(bands: list[slice], parts: list[_FirstCandidates], layout: MeshLayout) -> _FirstCandidates:
    """Assemble the bands' first candidates into arrays over the whole layout."""
    if len(parts) == 1:
        return parts[0]

    def whole(pieces: list[Tensor]) -> Tensor:
        out = pieces[0].new_empty(layout.shape)
        for band, piece in zip(bands, pieces):
            out.narrow(layout.band_dim, band.start, band.stop - band.start).copy_(piece)
        return out

    barycentrics = tuple(whole([part.barycentrics[k] for part in parts]) for k in range(3))
    return _FirstCandidates(targets=whole([part.targets for part in parts]), barycentrics=barycentrics)


def visible_faces(clip_vertices: Tensor, faces: Tensor, height: int, width: int,
                  max_candidates: int = MAX_CANDIDATES, grid: tuple[int, int] | None = None,
                  with_barycentrics: bool = False, band_triangles: int = BAND_TRIANGLES,
                  large_box_pixels: int = LARGE_BOX_PIXELS) -> tuple[Tensor, Tensor, Tensor | None]:
    """The visibility pass: ``[B, V, 4]`` clip vertices -> (``face_ids [B, H, W]``, ``ndc_z [B, H, W]``, weights).

    ``face_ids`` is -1 where nothing is hit; ``ndc_z`` is 1 there. ``weights`` is None unless
    ``with_barycentrics``: then ``[3, B * H * W]`` float32 barycentrics of the winners, 0 on
    background. Not differentiable. ``grid = (Hv, Wv)`` says that ``faces`` is
    ``grid_faces(Hv, Wv)`` (a speed hint only). ``band_triangles`` sizes the bands and
    ``large_box_pixels`` picks the boxes enumerated row by row (speed only).
    """
    clip = clip_vertices.detach().to(torch.float32)
    batch, device = clip.shape[0], clip.device
    if batch * height * width >= RANK_MASK or faces.shape[0] > RANK_MASK:
        raise ValueError(f"too large to rasterize at once: {batch} x {height} x {width} pixels, "
                         f"{faces.shape[0]} faces (split the batch)")
    layout = MeshLayout(batch=batch, num_faces=faces.shape[0], grid=None if grid is None else tuple(grid))
    planes = torch.stack(clip.unbind(-1))  # [4, B, V]
    bounds = vertex_pixel_bounds(planes, height, width)
    # A spare entry keeps the first candidate of an empty box (col0 = W, row0 = H) in range.
    ndc_x = torch.cat([pixel_center_ndc(width, device), torch.zeros(1, device=device)])
    ndc_y = torch.cat([pixel_center_ndc(height, device), torch.zeros(1, device=device)])
    zkeys = torch.full((1 + batch * height * width,), NO_HIT, dtype=torch.int64, device=device)
    listed = torch.zeros(3, zkeys.shape[0], device=device) if with_barycentrics else None
    bands, firsts = layout.bands(band_triangles), []
    for band in bands:
        table = triangle_table(planes, bounds, faces, layout, band, height * width)
        firsts.append(_fold_first_candidates(zkeys, table, ndc_x, ndc_y, width))
        for candidates in _candidate_lists(table, faces, ndc_x, ndc_y, height, width, max_candidates,
                                           large_box_pixels):
            _fold_listed(zkeys, table, faces, candidates, ndc_x, ndc_y, height, width, listed)
        if listed is None:
            firsts.clear()
    face_ids, ndc_z = decode_keys(zkeys[1:])
    weights = None
    if listed is not None:
        weights = _winner_barycentrics(face_ids, layout, _gather_bands(bands, firsts, layout), listed)
    return face_ids.view(batch, height, width), ndc_z.view(batch, height, width), weights
