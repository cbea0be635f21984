"""A plain, obviously-correct rasterizer: one triangle at a time, in the original's order.

This is the specification the fast rasterizer (:mod:`viewgen.rendering.raster.rasterize`) is tested
against. It transcribes the semantics of ``tf_mesh_renderer`` at commit ``8f85195``:

* triangles are visited in index order; one whose three clip ``w`` are all negative is skipped;
* the pixels visited are the bounding box ``[floor(min p), ceil(max p))`` of the projected
  vertices clamped to the image when all ``w > 0``, else the whole screen;
* a pixel is inside when its three homogeneous edge functions are >= 0 and one is > 0
  (edges inclusive, no back-face culling);
* the depth test keeps the pixel when ``-1 <= z <= 1`` and ``z <= zbuffer``, so on a tie the
  later triangle wins; the z-buffer starts at 1. One deliberate difference: a NaN depth (only
  degenerate triangles can produce one, through rounding) is never kept here, whereas the
  kernel keeps it, with NaN barycentrics, until a later triangle covers the pixel.

It runs the per-pixel arithmetic in float32 with the same formulas as the fast path
(:mod:`viewgen.rendering.raster.fragments`), loops over triangles in Python and is meant for small
meshes in tests only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from viewgen.rendering.raster.fragments import (
    Fragments,
    barycentrics_from_edges,
    edge_functions,
    interpolated_ndc_z,
    pixel_center_ndc,
    triangle_hits,
)


def _pixel_range(ndc: list[float], size: int) -> range:
    """Pixels ``[floor(min p), ceil(max p))`` for NDC coordinates ``ndc`` on an axis of ``size``."""
    half = 0.5 * size
    screen = [float(torch.tensor((c + 1.0) * half, dtype=torch.float32)) for c in ndc]
    low = min(max(math.floor(min(screen)), 0), size)
    high = min(max(math.ceil(max(screen)), 0), size)
    return range(low, high)


def rasterize_reference(clip_vertices: Tensor, faces: Tensor, height: int, width: int) -> Fragments:
    """Rasterize ``[B, V, 4]`` clip-space vertices with ``[T, 3]`` faces; see the module doc.

    Returns float32 :class:`Fragments` (not differentiable).
    """
    clip = clip_vertices.detach().to(torch.float32).cpu()
    faces = faces.cpu()
    batch = clip.shape[0]
    face_ids = torch.full((batch, height, width), -1, dtype=torch.int64)
    barycentrics = torch.zeros(batch, height, width, 3)
    zbuffer = torch.ones(batch, height, width)
    ndc_x = pixel_center_ndc(width)
    ndc_y = pixel_center_ndc(height)
    for b in range(batch):
        for face_id, vertex_ids in enumerate(faces.tolist()):
            x, y, z, w = (tuple(coord) for coord in clip[b, vertex_ids].unbind(-1))
            if all(bool(w_i < 0) for w_i in w):
                continue
            rows, cols = range(height), range(width)
            if all(bool(w_i > 0) for w_i in w):
                cols = _pixel_range([float(x_i / w_i) for x_i, w_i in zip(x, w)], width)
                rows = _pixel_range([float(y_i / w_i) for y_i, w_i in zip(y, w)], height)
            if not rows or not cols:
                continue
            grid_y, grid_x = torch.meshgrid(torch.tensor(rows), torch.tensor(cols), indexing="ij")
            edges, determinant = edge_functions(ndc_x[grid_x], ndc_y[grid_y], x, y, w)
            bary = barycentrics_from_edges(edges)
            depth = interpolated_ndc_z(bary, z, w)
            hits = triangle_hits(edges, determinant, depth)
            for iy, ix, hit, d, weights in zip(
                grid_y.flatten().tolist(), grid_x.flatten().tolist(),
                hits.flatten().tolist(), depth.flatten(), torch.stack(bary, -1).reshape(-1, 3),
            ):
                if not hit or d > zbuffer[b, iy, ix]:
                    continue
                face_ids[b, iy, ix] = face_id
                zbuffer[b, iy, ix] = d
                barycentrics[b, iy, ix] = weights
    return Fragments(face_ids=face_ids, barycentrics=barycentrics, ndc_z=zbuffer)
