"""Per-triangle data of the fast rasterizer's visibility pass: clip corners and candidate boxes.

A triangle's candidate pixels are those whose centres lie within its projected bounding box,
padded by a hair against rounding, or the whole screen when a vertex is at or behind the eye
(as the original kernel does). Boxes are computed per *vertex* and reduced per triangle with
min/max, which commute with the monotonic ceil/floor/clamp of the box.

For the pixel-grid mesh of :func:`~viewgen.rendering.mesh.grid_faces` the triangles are laid
out as ``[2, B, Hv-1, Wv-1]`` (the first and second triangle of each cell), so that two of the
three corners are strided *views* of the vertex planes: on a 2-core CPU a copy into an
interleaved layout costs several times a float multiply. Other meshes are laid out ``[B, T]``.
Large meshes are processed in bands of cell rows (or faces) whose arrays stay in the CPU's
caches: elementwise work, gathers and ``nonzero`` all cost more per element on arrays that
outgrow them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.rendering.raster.fragments import Corners

# Candidate pixels whose centre lies this many pixels outside a triangle's projected bounding
# box are still tested, so float rounding of the projection can never drop a covered pixel.
BBOX_PAD_PX = 1e-2
# The low 31 bits of a z-buffer key rank the face: ``RANK_MASK - face id``, so that the later
# face wins an exact depth tie. ``KEY_BIAS`` keeps keys non-negative.
RANK_BITS = 31
RANK_MASK = (1 << RANK_BITS) - 1
KEY_BIAS = 1 << 62


@dataclass(frozen=True)
class MeshLayout:
    """Where each triangle of a batch of meshes sits in the visibility pass's arrays.

    ``shape`` is ``[2, B, Hv-1, Wv-1]`` for the grid mesh ``grid = (Hv, Wv)`` (triangle ``t`` of
    cell ``(y, x)``), else ``[B, T]``; bands split dimension ``band_dim`` (cell rows or faces).
    """

    batch: int
    num_faces: int
    grid: tuple[int, int] | None

    @property
    def shape(self) -> tuple[int, ...]:
        if self.grid is None:
            return (self.batch, self.num_faces)
        return (2, self.batch, self.grid[0] - 1, self.grid[1] - 1)

    @property
    def band_dim(self) -> int:
        return 1 if self.grid is None else 2

    def bands(self, max_triangles: int) -> list[slice]:
        """Consecutive ranges along ``band_dim`` of at most ``max_triangles`` triangles (at least one step)."""
        shape = self.shape
        per_step = max(1, torch.Size(shape).numel() // shape[self.band_dim])
        step = max(1, max_triangles // per_step)
        return [slice(start, min(start + step, shape[self.band_dim])) for start in range(0, shape[self.band_dim], step)]

    def rows_of(self, face_ids: Tensor, images: Tensor | None) -> Tensor:
        """Flat positions in ``shape`` of faces ``face_ids`` of images ``images`` (None: image 0); int32."""
        face_ids = face_ids.int()
        if self.grid is None:
            return face_ids if images is None else face_ids + images * self.num_faces
        cell, second = face_ids >> 1, face_ids & 1
        group = second * self.batch if images is None else second * self.batch + images
        return group * ((self.grid[0] - 1) * (self.grid[1] - 1)) + cell


@dataclass(frozen=True)
class TriangleTable:
    """Per-triangle data of one band; every tensor has the band's shape ``S`` (``N`` rows flattened).

    Attributes:
        x, y, z, w: corner triples of clip coordinates (possibly strided views).
        col0, row0: int32 first candidate column and row.
        ncols: int32 candidate columns of the box.
        counts: int32 candidates, 0 for triangles off screen or wholly behind the eye.
        rank_keys: int64 low part of the z-buffer key, ``KEY_BIAS + RANK_MASK - face id``.
        pixel_base: int32 ``1 + b * H * W``, the z-buffer slot of the image's first pixel.
        planes: ``[4, B, V]`` the clip coordinates x, y, z, w of all vertices.
    """

    x: Corners
    y: Corners
    z: Corners
    w: Corners
    col0: Tensor
    row0: Tensor
    ncols: Tensor
    counts: Tensor
    rank_keys: Tensor
    pixel_base: Tensor
    planes: Tensor


def vertex_pixel_bounds(planes: Tensor, height: int, width: int) -> Tensor:
    """Per-vertex candidate spans, ``[4, ...]`` clip planes (x, y, z, w) -> ``[5, ...]`` int32.

    Rows: first column, first row, end column, end row (exclusive) of the pixel centres within
    ``BBOX_PAD_PX`` of the projected vertex, and 1 unless the vertex is behind the eye (w < 0).
    A vertex at or behind the eye (w <= 0) spans the whole screen, as the kernel does for its
    triangles; a non-finite projection gives an empty span (its edge tests fail anyway).
    """
    x_y, w = planes[:2], planes[3]
    spans = planes.new_empty((4, *w.shape))  # first x, first y, end x, end y
    centre = x_y / w
    for axis, size in enumerate((width, height)):
        centre[axis].add_(1.0).mul_(0.5 * size).sub_(0.5)
    torch.sub(centre, BBOX_PAD_PX, out=spans[:2]).ceil_()
    torch.add(centre, BBOX_PAD_PX, out=spans[2:]).floor_().add_(1.0)
    front = w > 0
    if not bool(front.all()):  # rare: a vertex at or behind the eye opens the whole screen
        whole_screen = torch.tensor([0.0, 0.0, width, height], dtype=spans.dtype, device=spans.device)
        spans = torch.where(front, spans, whole_screen.view(4, *(1,) * w.dim()))
    spans.nan_to_num_(0.0)
    spans[0::2].clamp_(0, width)
    spans[1::2].clamp_(0, height)
    bounds = torch.empty((5, *w.shape), dtype=torch.int32, device=planes.device)
    bounds[:4] = spans
    bounds[4] = ~(w < 0)  # the kernel skips a triangle only when all its w < 0
    return bounds


def _cell_pairs(planes: Tensor, first_col: int, step: int) -> Tensor:
    """A view ``[C, 2, B, Hv-1, Wv-1]`` of ``[C, B, Hv, Wv]`` vertex planes (any strides): vertex
    ``(y, x + first_col)`` for the cell's first triangle, ``step`` elements further for its second."""
    channels, batch, height, width = planes.shape
    s_channel, s_batch, s_row, s_col = planes.stride()
    return planes.as_strided((channels, 2, batch, height - 1, width - 1), (s_channel, step, s_batch, s_row, s_col),
                             planes.storage_offset() + first_col * s_col)


def _grid_corners(planes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``[C, B, Hv, Wv]`` vertex planes -> corner triples ``[C, 2, B, Hv-1, Wv-1]`` of the grid mesh.

    :func:`~viewgen.rendering.mesh.grid_faces` gives cell ``(y, x)`` the triangles
    ``[tl, bl, tr]`` then ``[br, tr, bl]``: corner 0 is ``(tl, br)``, a view with step
    ``row + 1`` between the two triangles, corner 2 is ``(tr, bl)``, step ``row - 1``, and
    corner 1 ``(bl, tr)`` would need a negative step, so it is copied.
    """
    s_row, s_col = planes.stride()[2:]
    corner1 = torch.stack([planes[:, :, 1:, :-1], planes[:, :, :-1, 1:]], dim=1)
    return _cell_pairs(planes, 0, s_row + s_col), corner1, _cell_pairs(planes, 1, s_row - s_col)


def _grid_box(bounds: Tensor) -> tuple[Tensor, Tensor]:
    """``[5, B, Hv, Wv]`` vertex spans -> per-triangle (first ``[2, *S]``, end ``[3, *S]``) of the grid mesh.

    Both triangles of a cell share the corners ``bl`` and ``tr``; min/max of that pair is taken
    once, then with ``tl`` (first triangle) or ``br`` (second), a strided view.
    """
    shared_low = torch.minimum(bounds[:2, :, 1:, :-1], bounds[:2, :, :-1, 1:]).unsqueeze(1)
    shared_high = torch.maximum(bounds[2:, :, 1:, :-1], bounds[2:, :, :-1, 1:]).unsqueeze(1)
    own = _cell_pairs(bounds, 0, sum(bounds.stride()[2:]))
    return torch.minimum(shared_low, own[:2]), torch.maximum(shared_high, own[2:])


@functools.lru_cache(maxsize=64)
def _band_constants(layout: MeshLayout, band: tuple[int, int], pixels_per_image: int,
                    device: torch.device) -> tuple[Tensor, Tensor]:
    """Cached ``(rank_keys, pixel_base)`` of the triangles of ``layout`` in ``band`` (a range along ``band_dim``)."""
    start, stop = band
    if layout.grid is None:
        face_ids = torch.arange(start, stop, dtype=torch.int64, device=device).view(1, -1)
        image_dim = 0
    else:
        cells = torch.arange(start * (layout.grid[1] - 1), stop * (layout.grid[1] - 1), dtype=torch.int64,
                             device=device).view(1, 1, stop - start, -1)
        face_ids, image_dim = torch.cat([2 * cells, 2 * cells + 1]), 1
    shape = list(layout.shape)
    shape[layout.band_dim] = stop - start
    images = torch.arange(layout.batch, dtype=torch.int32, device=device)
    images = images.view([-1 if dim == image_dim else 1 for dim in range(len(shape))])
    rank_keys = (KEY_BIAS + RANK_MASK - face_ids).expand(shape).contiguous()
    return rank_keys, (1 + images * pixels_per_image).expand(shape).contiguous()


def triangle_table(planes: Tensor, bounds: Tensor, faces: Tensor, layout: MeshLayout, band: slice,
                   pixels_per_image: int) -> TriangleTable:
    """The :class:`TriangleTable` of the triangles of ``layout`` in ``band``.

    Args:
        planes: ``[4, B, V]`` float32 clip x, y, z, w of the vertices.
        bounds: ``[5, B, V]`` their :func:`vertex_pixel_bounds`.
        faces: ``[T, 3]`` (``grid_faces(Hv, Wv)`` for a grid layout).
    """
    batch = layout.batch
    if layout.grid is not None:
        rows = slice(band.start, band.stop + 1)  # the vertex rows of the band's cells
        corners = _grid_corners(planes.view(4, batch, *layout.grid)[:, :, rows])
        first, end = _grid_box(bounds.view(5, batch, *layout.grid)[:, :, rows])
    else:
        offsets = torch.arange(batch, device=planes.device).view(-1, 1) * planes.shape[2]
        vertex_ids = [(faces[band, k].unsqueeze(0) + offsets).reshape(-1) for k in range(3)]
        band_shape = (batch, band.stop - band.start)
        corners = tuple(planes.view(4, -1).index_select(1, ids).view(4, *band_shape) for ids in vertex_ids)
        box = tuple(bounds.view(5, -1).index_select(1, ids).view(5, *band_shape) for ids in vertex_ids)
        first = torch.minimum(torch.minimum(box[0][:2], box[1][:2]), box[2][:2])
        end = torch.maximum(torch.maximum(box[0][2:], box[1][2:]), box[2][2:])
    spans = (end[:2] - first).clamp_(min=0)
    rank_keys, pixel_base = _band_constants(layout, (band.start, band.stop), pixels_per_image, planes.device)
    x, y, z, w = (tuple(corner[k] for corner in corners) for k in range(4))
    return TriangleTable(x=x, y=y, z=z, w=w, col0=first[0], row0=first[1], ncols=spans[0],
                         counts=spans[0] * spans[1] * end[2], rank_keys=rank_keys, pixel_base=pixel_base,
                         planes=planes)
