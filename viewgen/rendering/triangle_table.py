"""Per-triangle data of the fast rasterizer's visibility pass: clip corners and candidate boxes.

A triangle's candidate pixels are those whose centres lie within its projected bounding box,
padded by a hair against rounding, or the whole screen when a vertex is at or behind the eye
(as the original kernel does). Boxes are computed per *vertex* and reduced per triangle with
min/max, which commute with the monotonic ceil/floor/clamp of the box.

For the pixel-grid mesh of :func:`~viewgen.rendering.mesh.grid_faces` the table holds the
triangles as ``[2, B, H-1, W-1]`` (the first and second triangle of each cell), so that two of
the three corners are strided *views* of the vertex planes: on a 2-core CPU a copy into an
interleaved layout costs several times a float multiply.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.rendering.fragments import Corners

# Candidate pixels whose centre lies this many pixels outside a triangle's projected bounding
# box are still tested, so float rounding of the projection can never drop a covered pixel.
BBOX_PAD_PX = 1e-2
# The low 31 bits of a z-buffer key rank the face: ``RANK_MASK - face id``, so that the later
# face wins an exact depth tie. ``KEY_BIAS`` keeps keys non-negative.
RANK_BITS = 31
RANK_MASK = (1 << RANK_BITS) - 1
KEY_BIAS = 1 << 62


@dataclass(frozen=True)
class TriangleTable:
    """Per-triangle data; every tensor has the table's shape ``S`` (``N`` rows when flattened).

    ``S`` is ``[2, B, Hv-1, Wv-1]`` for the grid mesh (triangle ``t`` of cell ``(y, x)``), else
    ``[B * T]`` (image-major face order).

    Attributes:
        x, y, z, w: corner triples of clip coordinates (possibly strided views).
        col0, row0: int32 first candidate column and row.
        ncols, nrows: int32 candidate columns and rows of the box.
        counts: int32 candidates, 0 for triangles off screen or wholly behind the eye.
        rank_keys: int64 low part of the z-buffer key, ``KEY_BIAS + RANK_MASK - face id``.
        pixel_base: int32 ``1 + b * H * W``, the z-buffer slot of the image's first pixel.
        planes: ``[4, B, V]`` the clip coordinates x, y, z, w of the vertices.
        num_faces: faces per image ``T``; grid_cells: ``(Hv-1) * (Wv-1)`` for the grid mesh, else None.
    """

    x: Corners
    y: Corners
    z: Corners
    w: Corners
    col0: Tensor
    row0: Tensor
    ncols: Tensor
    nrows: Tensor
    counts: Tensor
    rank_keys: Tensor
    pixel_base: Tensor
    planes: Tensor
    num_faces: int
    grid_cells: int | None

    def rows_of(self, face_ids: Tensor, images: Tensor | None) -> Tensor:
        """Table rows (flat) of faces ``face_ids`` of images ``images`` (None: image 0); int32."""
        face_ids = face_ids.int()
        if self.grid_cells is None:
            return face_ids if images is None else face_ids + images * self.num_faces
        cell, second = face_ids >> 1, face_ids & 1
        batch = self.planes.shape[1]
        group = second * batch if images is None else second * batch + images
        return group * self.grid_cells + cell


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


def _grid_corners(planes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``[C, B, Hv, Wv]`` vertex planes -> corner triples ``[C, 2, B, Hv-1, Wv-1]`` of the grid mesh.

    :func:`~viewgen.rendering.mesh.grid_faces` gives cell ``(y, x)`` the triangles
    ``[tl, bl, tr]`` then ``[br, tr, bl]``: corner 0 is ``(tl, br)``, a view with step
    ``Wv + 1`` between the two triangles, corner 2 is ``(tr, bl)``, step ``Wv - 1``, and corner 1
    ``(bl, tr)`` would need a negative step, so it is copied.
    """
    planes = planes.contiguous()
    channels, batch, height, width = planes.shape
    size = (channels, 2, batch, height - 1, width - 1)
    stride = planes.stride()

    def view(offset: int, step: int) -> Tensor:
        return planes.as_strided(size, (stride[0], step, *stride[1:]), planes.storage_offset() + offset)

    corner1 = torch.stack([planes[:, :, 1:, :-1], planes[:, :, :-1, 1:]], dim=1)
    return view(0, width + 1), corner1, view(1, width - 1)


def _grid_box(bounds: Tensor) -> tuple[Tensor, Tensor]:
    """``[5, B, Hv, Wv]`` vertex spans -> per-triangle (first ``[2, *S]``, end ``[3, *S]``) of the grid mesh.

    Both triangles of a cell share the corners ``bl`` and ``tr``; min/max of that pair is taken
    once, then with ``tl`` (first triangle) or ``br`` (second), a strided view.
    """
    _, batch, height, width = bounds.shape
    shared_low = torch.minimum(bounds[:2, :, 1:, :-1], bounds[:2, :, :-1, 1:]).unsqueeze(1)
    shared_high = torch.maximum(bounds[2:, :, 1:, :-1], bounds[2:, :, :-1, 1:]).unsqueeze(1)
    stride = bounds.stride()
    own = bounds.as_strided((5, 2, batch, height - 1, width - 1), (stride[0], width + 1, *stride[1:]))
    return torch.minimum(shared_low, own[:2]), torch.maximum(shared_high, own[2:])


@functools.lru_cache(maxsize=8)
def _grid_constants(batch: int, grid: tuple[int, int], pixels_per_image: int,
                    device: torch.device) -> tuple[Tensor, Tensor]:
    """Cached ``(rank_keys, pixel_base)`` of the grid table ``[2, B, Hv-1, Wv-1]``."""
    cells = torch.arange((grid[0] - 1) * (grid[1] - 1), dtype=torch.int64, device=device).view(grid[0] - 1, -1)
    shape = (2, batch, *cells.shape)
    rank_keys = (KEY_BIAS + RANK_MASK - torch.stack([2 * cells, 2 * cells + 1]).unsqueeze(1)).expand(shape)
    base = 1 + torch.arange(batch, dtype=torch.int32, device=device).view(1, batch, 1, 1) * pixels_per_image
    return rank_keys.contiguous(), base.expand(shape).contiguous()


@functools.lru_cache(maxsize=8)
def _face_constants(batch: int, num_faces: int, pixels_per_image: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Cached ``(rank_keys, pixel_base)`` of the table ``[B * T]`` of any faces."""
    rank_keys = KEY_BIAS + RANK_MASK - torch.arange(num_faces, dtype=torch.int64, device=device)
    base = 1 + torch.arange(batch, dtype=torch.int32, device=device) * pixels_per_image
    return rank_keys.repeat(batch), base.repeat_interleave(num_faces)


def triangle_table(clip: Tensor, faces: Tensor, height: int, width: int,
                   grid: tuple[int, int] | None = None) -> TriangleTable:
    """Build the :class:`TriangleTable` of ``[B, V, 4]`` float32 clip vertices and ``[T, 3]`` faces.

    ``grid = (Hv, Wv)`` says that ``faces`` is ``grid_faces(Hv, Wv)``.
    """
    batch = clip.shape[0]
    planes = torch.stack(clip.unbind(-1))  # [4, B, V]
    bounds = vertex_pixel_bounds(planes, height, width)  # [5, B, V]
    if grid is not None:
        corners = _grid_corners(planes.view(4, batch, *grid))
        first, end = _grid_box(bounds.view(5, batch, *grid))
        rank_keys, pixel_base = _grid_constants(batch, tuple(grid), height * width, clip.device)
        grid_cells = (grid[0] - 1) * (grid[1] - 1)
    else:
        offsets = torch.arange(batch, device=clip.device).view(-1, 1) * clip.shape[1]
        rows = [(faces[:, k].unsqueeze(0) + offsets).reshape(-1) for k in range(3)]
        corners = tuple(planes.view(4, -1).index_select(1, r) for r in rows)
        box = tuple(bounds.view(5, -1).index_select(1, r) for r in rows)
        first = torch.minimum(torch.minimum(box[0][:2], box[1][:2]), box[2][:2])
        end = torch.maximum(torch.maximum(box[0][2:], box[1][2:]), box[2][2:])
        rank_keys, pixel_base = _face_constants(batch, faces.shape[0], height * width, clip.device)
        grid_cells = None
    spans = (end[:2] - first).clamp_(min=0)
    x, y, z, w = (tuple(corner[k] for corner in corners) for k in range(4))
    return TriangleTable(x=x, y=y, z=z, w=w, col0=first[0], row0=first[1], ncols=spans[0], nrows=spans[1],
                         counts=spans[0] * spans[1] * end[2], rank_keys=rank_keys, pixel_base=pixel_base, planes=planes,
                         num_faces=faces.shape[0], grid_cells=grid_cells)
