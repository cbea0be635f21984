"""Candidate pixels of large triangles, row by row, and the bounded runs every enumeration uses.

A bounding box is a poor bound for a large triangle: one with a vertex at or behind the eye
gets the whole screen (as in the original kernel), and a long sliver across the screen gets a
box of its length squared. A close-up or far-off pose makes thousands of them: enumerating
their boxes cost 25 s and 6 GB for one 320x512 warp. So a triangle whose box holds more than
``LARGE_BOX_PIXELS`` candidates is enumerated per box row instead, and in each row only the
columns where it can pass the kernel's inside test are listed.

That test (:func:`~viewgen.rendering.raster.fragments.triangle_hits`) asks the three edge functions
``e_i = a_i px + b_i py + c_i``, signed by the determinant, to be ``>= 0``: three half-planes of
the screen, so on a row each is a half-line of ``px``. Working from the same float32
coefficients as the kernel, in float64, each half-line is widened by ``EDGE_MARGIN`` times
``|a_i| + |b_i| + |c_i|``, many times the float32 rounding of ``e_i`` at any pixel centre
(``|px|, |py| <= 1``), so every pixel the kernel can hit stays listed and results stay
bit-exact; pixel columns come from a binary search over the very float32 centres the test uses.
A triangle with a non-finite corner or coefficient is dropped: every one of its edge values or
depths is NaN or infinite, which fails the test at every pixel; so is a degenerate one whose
edges are all exactly 0 but for at most one, when its (then constant) depth fails the test.

Bounds: the rows of one run of triangles total at most ``max_rows`` (a triangle has at most
``H`` rows), the candidates of one run at most ``max_candidates`` (a row has at most ``W``), and
a row costs a few dozen float operations, so the work is ``O(T + large triangles x H + pixels
they can cover)`` and the memory ``O(max_candidates + H + W)`` whatever the vertex values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.rendering.raster.fragments import edge_coefficients

# Boxes with more candidates than this go through the row spans. Ordinary warps have none
# (at 160x256 the largest box of a one-frame step holds 64 pixels), so their cost is unchanged.
LARGE_BOX_PIXELS = 64
# Relative widening of each edge half-plane: the float32 evaluation ``(a px + b py) + c`` errs
# by at most ~3 ulp of ``|a| + |b| + |c|`` (2e-7), and the absolute term covers underflow.
EDGE_MARGIN = 1e-6
EDGE_MARGIN_ABS = 1e-40
# Rows screened together before the rows that may hold candidates are worked out one by one.
SCREEN_ROWS = 16


def bounded_runs(counts: Tensor, max_total: int) -> list[tuple[int, int]]:
    """Split ``counts [N]`` (non-negative) into consecutive runs whose sums are <= ``max_total``.

    An element larger than ``max_total`` forms a run of its own. Returns ``(start, stop)`` pairs.
    """
    ends = torch.cumsum(counts, 0)
    boundaries = [0]
    while boundaries[-1] < len(counts):
        start = boundaries[-1]
        budget = (int(ends[start - 1]) if start else 0) + max_total
        stop = int(torch.searchsorted(ends, budget, right=True))
        boundaries.append(max(stop, start + 1))
    return list(zip(boundaries[:-1], boundaries[1:]))


def expand_runs(counts: Tensor) -> tuple[Tensor, Tensor]:
    """Runs of ``counts [R]`` elements end to end: (run index, offset within its run), each ``[sum]`` int64."""
    runs = torch.arange(len(counts), device=counts.device)
    run = torch.repeat_interleave(runs, counts)
    starts = torch.cumsum(counts, 0) - counts
    return run, torch.arange(len(run), device=counts.device) - starts.index_select(0, run)


@dataclass(frozen=True)
class LargeTriangles:
    """Per large triangle ``[L]``: its table row, box and signed, widened edge coefficients.

    Attributes:
        owner: int64 rows of the triangle table.
        col0, col_end, row0, nrows: int64 box (first column, end column, first row, row count).
        slope, step, offset: ``[3, L]`` float64; edge ``i`` may pass where
            ``slope_i px + step_i py + offset_i >= 0`` (sign of the determinant and margin folded in).
    """

    owner: Tensor
    col0: Tensor
    col_end: Tensor
    row0: Tensor
    nrows: Tensor
    slope: Tensor
    step: Tensor
    offset: Tensor

    def select(self, start: int, stop: int) -> LargeTriangles:
        return LargeTriangles(*(getattr(self, name)[..., start:stop] for name in self.__dataclass_fields__))


def _never_inside(coefficients: Tensor, z: tuple, w: tuple) -> Tensor:
    """``[L]`` bool: triangles whose edges ``[3 (a, b, c), 3, L]`` are exactly 0 everywhere but for at most one.

    With all three zero no edge is ever positive. With one edge ``k`` left, the barycentrics are
    exactly ``b_k = 1`` and 0 wherever it is inside, so its NDC depth is the constant
    ``z_k / w_k`` (NaN for a corner at the eye): such a triangle is never hit unless that lies
    in [-1, 1].
    """
    zero_edges = (coefficients == 0).all(0)  # [3, L]
    lone_edge = (~zero_edges).int().argmax(0, keepdim=True)  # the first non-zero edge
    depth = torch.stack(z).gather(0, lone_edge)[0] / torch.stack(w).gather(0, lone_edge)[0]
    return zero_edges.all(0) | ((zero_edges.sum(0) == 2) & ~(depth.abs() <= 1.0))


def large_triangles(owner: Tensor, corners: tuple, box: tuple[Tensor, Tensor, Tensor, Tensor]) -> LargeTriangles:
    """Edge half-planes of triangles with corner triples ``corners = (x, y, z, w)`` (``[L]`` float32 each).

    ``box = (col0, ncols, row0, nrows)`` ``[L]`` int. Triangles that cannot be hit (a non-finite
    corner or coefficient, see :func:`_never_inside`) are dropped.
    """
    x, y, z, w = corners
    a, b, c, determinant = edge_coefficients(x, y, w)
    coefficients = torch.stack([torch.stack(a), torch.stack(b), torch.stack(c)]).double()  # [3 (a, b, c), 3 edges, L]
    finite = torch.isfinite(coefficients).all(0).all(0) & torch.isfinite(torch.stack([*x, *y, *z, *w])).all(0)
    keep = torch.nonzero(finite & ~_never_inside(coefficients, z, w)).squeeze(1)
    coefficients = coefficients.index_select(2, keep)
    sign = 1.0 - 2.0 * (determinant.index_select(0, keep) < 0).double()  # the kernel's flip when det < 0
    margin = coefficients.abs().sum(0) * EDGE_MARGIN + EDGE_MARGIN_ABS
    col0, ncols, row0, nrows = (t.index_select(0, keep).long() for t in box)
    return LargeTriangles(owner=owner.index_select(0, keep), col0=col0, col_end=col0 + ncols, row0=row0,
                          nrows=nrows, slope=coefficients[0] * sign, step=coefficients[1] * sign,
                          offset=coefficients[2] * sign + margin)


def _column_ranges(triangles: LargeTriangles, index: Tensor, top: Tensor, bottom: Tensor, ndc_x: Tensor,
                   ndc_y: Tensor) -> tuple[Tensor, Tensor]:
    """Columns ``[first, end)`` ``[R]`` int64 (``end <= first``: none) of triangles ``index [R]`` that
    may pass on some row of ``[top, bottom]`` (``[R]`` image rows), within their boxes.

    Each half-plane bound is linear in ``py``, so over several rows its loosest value is at the
    first or the last one: a superset of the rows' columns, exact for one row.
    """
    py_top, py_bottom = ndc_y.index_select(0, top), ndc_y.index_select(0, bottom)
    low = torch.full_like(py_top, -float("inf"))
    high = torch.full_like(py_top, float("inf"))
    empty = torch.zeros_like(py_top, dtype=torch.bool)
    for edge in range(3):
        slope, step, offset = (t[edge].index_select(0, index) for t in (triangles.slope, triangles.step,
                                                                         triangles.offset))
        value_top, value_bottom = step * py_top + offset, step * py_bottom + offset
        bound_top, bound_bottom = -value_top / slope, -value_bottom / slope  # slope px + value >= 0
        low = torch.where(slope > 0, torch.maximum(low, torch.minimum(bound_top, bound_bottom)), low)
        high = torch.where(slope < 0, torch.minimum(high, torch.maximum(bound_top, bound_bottom)), high)
        empty |= (slope == 0) & (torch.maximum(value_top, value_bottom) < 0)
    first = torch.maximum(torch.searchsorted(ndc_x, low), triangles.col0.index_select(0, index))  # centre >= low
    end = torch.minimum(torch.searchsorted(ndc_x, high, right=True), triangles.col_end.index_select(0, index))
    return first, end.masked_fill_(empty, 0)


def _row_spans(triangles: LargeTriangles, ndc_x: Tensor, ndc_y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Box rows of ``triangles`` that may hold candidates: (triangle index, image row, first column,
    column count), ``[R]`` int64.

    Rows are first screened in groups of ``SCREEN_ROWS`` (a superset test), then the rows of
    the groups that pass are worked out one by one. ``ndc_x [W]``, ``ndc_y [H]`` are the float64
    values of the float32 pixel centres. The box's first pixel ``(row0, col0)`` is left out: the
    dense pass tests it.
    """
    index, group = expand_runs(torch.div(triangles.nrows + (SCREEN_ROWS - 1), SCREEN_ROWS, rounding_mode="floor"))
    row0 = triangles.row0.index_select(0, index)
    top = row0 + group * SCREEN_ROWS
    bottom = torch.minimum(top + (SCREEN_ROWS - 1), row0 + triangles.nrows.index_select(0, index) - 1)
    first, end = _column_ranges(triangles, index, top, bottom, ndc_x, ndc_y)
    passed = torch.nonzero(end > first).squeeze(1)
    top = top.index_select(0, passed)
    in_group, offset = expand_runs(bottom.index_select(0, passed) - top + 1)
    index = index.index_select(0, passed).index_select(0, in_group)
    rows = top.index_select(0, in_group) + offset
    first, end = _column_ranges(triangles, index, rows, rows, ndc_x, ndc_y)
    box_start = triangles.col0.index_select(0, index) + (rows == triangles.row0.index_select(0, index))
    first = torch.maximum(first, box_start)
    return index, rows, first, (end - first).clamp_(min=0)


def span_candidates(triangles: LargeTriangles, ndc_x: Tensor, ndc_y: Tensor, max_rows: int,
                    max_candidates: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Candidates ``(owner rows, columns, image rows)`` of large triangles, in bounded runs.

    ``ndc_x [W]``, ``ndc_y [H]`` float64 pixel centres. Runs hold at most ``max_rows`` rows
    (or one triangle's) and ``max_candidates`` candidates (or one row's).
    """
    for start, stop in bounded_runs(triangles.nrows, max_rows):
        part = triangles.select(start, stop)
        index, rows, first, counts = _row_spans(part, ndc_x, ndc_y)
        if len(counts) == 0 or int(counts.sum()) == 0:
            continue
        for row_start, row_stop in bounded_runs(counts, max_candidates):
            row, column_offset = expand_runs(counts[row_start:row_stop])
            row = row + row_start
            yield (part.owner.index_select(0, index.index_select(0, row)), first.index_select(0, row) + column_offset,
                   rows.index_select(0, row))
