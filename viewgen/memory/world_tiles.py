"""The persistent world's storage: every kept tile of mesh in one growing arena of tensors.

A tile is a ``32 x 32`` pixel block of one frame's grid mesh, in world space. Each tile is a range of rows
in shared vertex and face tables, so what the memory does every frame is a handful of tensor operations
over all tiles at once, whatever their number:

* **gather** the tiles in view into one mesh (their vertex and face ranges, faces renumbered);
* **mark seen** the tiles a render showed; **forget faces** (coarse faces replaced by finer ones);
* **evict** whole tiles, least recently seen first, down to the vertex budget.

Why not one tensor per tile: a long forward flight keeps ~10,000 tiles with ~2,000 in view, and packing
them one by one cost more than rasterizing them. Forgotten faces and evicted tiles are only marked; the
tables are compacted (dead rows dropped, every range renumbered) once the dead rows outgrow a third of
the live ones, so the storage stays within 4/3 of what is kept plus one frame.

Rows: ``vertices [V, 7]`` float (world x, y, z; r, g, b; footprint: the world size of the pixel the vertex
came from), ``faces [F, 4]`` int32 (three vertex rows, counter-clockwise as the warp's, and the tile row).
A vertex belongs to one tile (tiles that share a pixel edge each keep a copy) and counts against the
budget while a live face uses it. The tables are bookkeeping, never differentiated: they change in inference
mode, so a flight run in inference mode and calls made after it share them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.geometry.disparity import MIN_DISPARITY
from viewgen.geometry.poses import invert_pose, transform_points
from viewgen.rendering.mesh import grid_faces, grid_vertices, sobel_edge_mask

__all__ = ["NewTiles", "TileGather", "TileStore", "focal_pixels", "new_tiles", "ranges"]

TILE_PIXELS = 32


def focal_pixels(intrinsics: Tensor, size: tuple[int, int]) -> Tensor:
    """The mean focal length in pixels of normalized ``intrinsics [4]`` at ``size = (H, W)``: a scalar tensor."""
    return 0.5 * (intrinsics[0] * size[1] + intrinsics[1] * size[0])


def ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """``cat([arange(s, s + c) for s, c in zip(starts, counts)])`` as one vectorized op: ``[sum(counts)]`` long."""
    total = int(counts.sum())
    exclusive = torch.cumsum(counts, 0) - counts
    return torch.repeat_interleave(starts - exclusive, counts, output_size=total) + torch.arange(total,
                                                                                              device=starts.device)


@dataclass(frozen=True)
class NewTiles:
    """Tiles cut from one frame (:func:`new_tiles`): ``vertices [V, 7]``, ``faces [F, 3]`` long (rows of
    ``vertices``), ``face_tile [F]`` and ``vertex_tile [V]`` (0-based tile of each row, tiles in raster order),
    ``count`` tiles, and ``covered [H, W]`` (bool): the pixels the faces touch."""

    vertices: Tensor
    faces: Tensor
    face_tile: Tensor
    vertex_tile: Tensor
    count: int
    covered: Tensor


def new_tiles(rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor, new: Tensor, edge_beta: float = 10.0,
              dilation: int = 0, tile: int = TILE_PIXELS) -> NewTiles:
    """The tiles of ``rgbd [1, 4, H, W]`` seen from ``cam_from_world [3, 4]`` over the pixels ``new [H, W]`` (bool):
    its grid faces not on a depth edge (the warp's Sobel mask: stretched triangles) with a corner in ``new`` and every
    corner within ``dilation`` pixels of it (so they overlap what is kept already by that much: no cracks), grouped by
    the ``tile x tile`` pixel block of their first corner (so each tile has a tight box to cull by), each
    tile with only the vertices it uses, in pixel order.

    A face needs a corner in ``new`` itself: faces of the ring alone would add a copy of kept surface every frame
    around holes that cannot be filled (a depth edge's stretched faces are dropped every time)."""
    height, width = rgbd.shape[-2:]
    disparity = rgbd[:, 3:].clamp(MIN_DISPARITY, 1.0)
    near_new = new
    if dilation:
        near_new = F.max_pool2d(new[None, None].float(), 2 * dilation + 1, stride=1, padding=dilation)[0, 0] > 0.5
    usable = (near_new & (sobel_edge_mask(disparity, edge_beta)[0, 0] > 0.5)).reshape(-1)
    faces = grid_faces(height, width, rgbd.device)
    faces = faces[usable[faces].all(dim=1) & new.reshape(-1)[faces].any(dim=1)]
    covered = torch.zeros(height * width, dtype=torch.bool, device=rgbd.device)
    covered[faces.reshape(-1)] = True
    corner = faces[:, 0]
    block = (corner // width // tile) * ((width + tile - 1) // tile) + (corner % width) // tile
    blocks, face_tile = torch.unique(block, return_inverse=True)
    order = torch.sort(face_tile, stable=True).indices
    faces, face_tile = faces[order], face_tile[order]
    pixels = height * width  # one vertex row per (tile, pixel) used, sorted by tile then pixel
    keys, local = torch.unique(face_tile[:, None] * pixels + faces, return_inverse=True)
    used, vertex_tile = keys % pixels, keys // pixels
    points_cam = grid_vertices(disparity, intrinsics[None])[0].index_select(0, used)
    points = transform_points(invert_pose(cam_from_world[None])[0][None, :3], points_cam[None])[0]
    colors = rgbd[0, :3].reshape(3, -1).t().index_select(0, used)
    footprint = points_cam[:, 2:] / focal_pixels(intrinsics, (height, width))
    return NewTiles(torch.cat([points, colors, footprint], 1), local.reshape(-1, 3), face_tile, vertex_tile,
                    blocks.numel(), covered.view(height, width))


class _Rows:
    """A table that grows by rows (by half its size when full, so appends cost amortized O(1) and the spare room stays
    under a third); :attr:`values` is the filled part ``[N, C]``."""

    def __init__(self, columns: int, dtype: torch.dtype, device: torch.device) -> None:
        self._buffer, self.count = torch.empty(0, columns, dtype=dtype, device=device), 0

    @property
    def values(self) -> Tensor:
        return self._buffer[:self.count]

    def append(self, rows: Tensor) -> None:
        needed = self.count + rows.shape[0]
        if needed > self._buffer.shape[0]:
            self._resize(max(needed, self._buffer.shape[0] * 3 // 2, 1024))
        self._buffer[self.count:needed] = rows
        self.count = needed

    def replace(self, rows: Tensor) -> None:
        """Hold ``rows`` (a new table) with a quarter of spare room."""
        self.count = 0
        self._resize(rows.shape[0] * 5 // 4 + 1024)
        self.append(rows)

    def _resize(self, capacity: int) -> None:
        bigger = self._buffer.new_empty(capacity, self._buffer.shape[1])
        bigger[:self.count] = self.values
        self._buffer = bigger


@dataclass(frozen=True)
class TileGather:
    """Tiles in one mesh (:meth:`TileStore.gather`): ``vertices [V, 7]`` (rows as the store's), ``faces [F, 3]``
    long into them, ``face_rows [F]`` the store's row of each face."""

    vertices: Tensor
    faces: Tensor
    face_rows: Tensor


class TileStore:
    """Every kept tile (module doc). Per tile (``[T]`` tensors): ``low [T, 3]`` and ``high [T, 3]`` (the world box
    around its vertices when kept), ``frame`` (the flight frame it came from), ``last_seen`` (the last render that
    showed it), its vertex and face row ranges, and how many faces and vertices are still live. ``compact_min_rows``:
    the fewest dead vertex rows worth a compaction."""

    def __init__(self, device: torch.device | str = "cpu", compact_min_rows: int = 65536) -> None:
        self.device, self.compact_min_rows = torch.device(device), compact_min_rows
        self.vertices, self.faces = _Rows(7, torch.float32, self.device), _Rows(4, torch.int32, self.device)
        self.vertex_uses, self.face_alive = _Rows(1, torch.int32, self.device), _Rows(1, torch.bool, self.device)
        self.low, self.high = torch.empty(0, 3, device=self.device), torch.empty(0, 3, device=self.device)
        # per tile: frame, last_seen, vertex start, vertex stop, face start, face stop, live faces, live vertices
        self.info = torch.empty(0, 8, dtype=torch.long, device=self.device)

    # info columns; each range's stop right after its start (rows() relies on it)
    FRAME, LAST_SEEN, V_START, V_STOP, F_START, F_STOP, LIVE_FACES, LIVE_VERTICES = range(8)

    @property
    def tile_count(self) -> int:
        """Tiles kept now (with a live face)."""
        return int(self.live().sum())

    @property
    def vertex_count(self) -> int:
        """Vertices kept now: those a live face uses (the budget's unit)."""
        return int(self.info[:, self.LIVE_VERTICES].sum())

    def live(self) -> Tensor:
        """``[T]`` bool: the tiles with a live face."""
        return self.info[:, self.LIVE_FACES] > 0

    def rows(self, info: Tensor, start: int) -> Tensor:
        """The vertex (``start = V_START``) or face (``F_START``) rows of the tiles whose ``info [K, 8]`` is given."""
        return ranges(info[:, start], info[:, start + 1] - info[:, start])

    @torch.inference_mode()
    def add(self, tiles: NewTiles, frame: int) -> None:
        """Keep ``tiles`` (from :func:`new_tiles`, cut from the flight's ``frame``) after every tile kept so far."""
        first_tile, first_vertex, first_face = self.info.shape[0], self.vertices.count, self.faces.count
        count = tiles.count
        vertex_counts = torch.bincount(tiles.vertex_tile, minlength=count)
        face_counts = torch.bincount(tiles.face_tile, minlength=count)
        vertex_stops, face_stops = first_vertex + vertex_counts.cumsum(0), first_face + face_counts.cumsum(0)
        frames = torch.full((count,), frame, dtype=torch.long, device=self.device)
        self.info = torch.cat([self.info, torch.stack([frames, frames, vertex_stops - vertex_counts, vertex_stops,
                                                       face_stops - face_counts, face_stops, face_counts,
                                                       vertex_counts], 1)])
        points = tiles.vertices[:, :3]
        low = points.new_full((count, 3), float("inf")).scatter_reduce(0, tiles.vertex_tile[:, None].expand(-1, 3),
                                                                  points, "amin")
        high = points.new_full((count, 3), -float("inf")).scatter_reduce(0, tiles.vertex_tile[:, None].expand(-1, 3),
                                                                    points, "amax")
        self.low, self.high = torch.cat([self.low, low]), torch.cat([self.high, high])
        self.vertices.append(tiles.vertices)
        self.faces.append(torch.cat([tiles.faces + first_vertex, tiles.face_tile[:, None] + first_tile], 1)
                          .to(torch.int32))
        self.vertex_uses.append(torch.bincount(tiles.faces.reshape(-1), minlength=tiles.vertices.shape[0])
                                .to(torch.int32)[:, None])
        self.face_alive.append(torch.ones(tiles.faces.shape[0], 1, dtype=torch.bool, device=self.device))

    def gather(self, tiles: Tensor) -> TileGather:
        """The tiles ``tiles [K]`` (long, ascending) in one mesh, their live faces in storage order."""
        info = self.info.index_select(0, tiles)
        vertex_counts = info[:, self.V_STOP] - info[:, self.V_START]
        rows = self.rows(info, self.V_START)
        face_rows = self.rows(info, self.F_START)
        face_rows = face_rows[self.face_alive.values[:, 0].index_select(0, face_rows)]
        shift = torch.zeros(self.info.shape[0], dtype=torch.int32, device=self.device)
        shift[tiles] = (torch.cumsum(vertex_counts, 0) - vertex_counts - info[:, self.V_START]).to(torch.int32)
        faces = self.faces.values.index_select(0, face_rows)
        local = faces[:, :3] + shift.index_select(0, faces[:, 3])[:, None]
        return TileGather(self.vertices.values.index_select(0, rows), local.long(), face_rows)

    @torch.inference_mode()
    def mark_seen(self, face_rows: Tensor, frame: int) -> None:
        """The tiles of the faces ``face_rows [K]`` were shown by the render of ``frame``."""
        tiles = self.faces.values[face_rows, 3].long()
        self.info[tiles, self.LAST_SEEN] = frame

    @torch.inference_mode()
    def forget_faces(self, face_rows: Tensor) -> None:
        """Forget the live faces ``face_rows [K]`` (unique), and the vertices only they used."""
        faces = self.faces.values[face_rows].long()
        self.face_alive.values[face_rows] = False
        tiles = self.info.shape[0]
        self.info[:, self.LIVE_FACES] -= torch.bincount(faces[:, 3], minlength=tiles)
        corners = faces[:, :3].reshape(-1)
        uses = self.vertex_uses.values[:, 0]
        uses.index_add_(0, corners, torch.full_like(corners, -1, dtype=torch.int32))
        unused = uses[corners] == 0  # a vertex belongs to the tile of every face using it
        keys = torch.unique(faces[:, 3].repeat_interleave(3)[unused] * self.vertices.count + corners[unused])
        self.info[:, self.LIVE_VERTICES] -= torch.bincount(keys // self.vertices.count, minlength=tiles)
        self._compact_if_sparse()

    @torch.inference_mode()
    def evict(self, tiles: Tensor) -> None:
        """Forget the tiles ``tiles [K]`` whole."""
        if tiles.numel() == 0:
            return
        info = self.info[tiles]
        self.face_alive.values[self.rows(info, self.F_START)] = False
        self.vertex_uses.values[self.rows(info, self.V_START)] = 0
        self.info[tiles, self.LIVE_FACES] = 0
        self.info[tiles, self.LIVE_VERTICES] = 0
        self._compact_if_sparse()

    def _compact_if_sparse(self) -> None:
        """Drop dead faces, unused vertices and tiles without faces once they are a third of the live rows (and
        at least ``compact_min_rows``)."""
        if self.vertices.count - self.vertex_count <= max(self.vertex_count // 3, self.compact_min_rows):
            return
        live_tiles = self.live()
        faces = self.faces.values[self.face_alive.values[:, 0]]  # int32 [F', 4]
        used = self.vertex_uses.values[:, 0] > 0  # vertices a live face uses: all in live tiles
        new_vertex_row = (torch.cumsum(used, 0, dtype=torch.int32) - 1)
        new_tile_row = (torch.cumsum(live_tiles, 0, dtype=torch.int32) - 1)
        info = self.info[live_tiles]
        tile_rows = torch.arange(self.info.shape[0], device=self.device)
        vertex_tile = torch.repeat_interleave(tile_rows, self.info[:, self.V_STOP] - self.info[:, self.V_START])
        vertex_counts = torch.bincount(new_tile_row.index_select(0, vertex_tile[used]).long(), minlength=info.shape[0])
        face_tile = new_tile_row.index_select(0, faces[:, 3])
        face_counts = torch.bincount(face_tile.long(), minlength=info.shape[0])
        info[:, self.V_STOP], info[:, self.F_STOP] = vertex_counts.cumsum(0), face_counts.cumsum(0)
        info[:, self.V_START] = info[:, self.V_STOP] - vertex_counts
        info[:, self.F_START] = info[:, self.F_STOP] - face_counts
        self.info, self.low, self.high = info, self.low[live_tiles], self.high[live_tiles]
        self.vertices.replace(self.vertices.values[used])
        self.vertex_uses.replace(self.vertex_uses.values[used])
        corners = new_vertex_row.index_select(0, faces[:, :3].reshape(-1)).view(-1, 3)
        self.faces.replace(torch.cat([corners, face_tile[:, None]], 1))
        self.face_alive.replace(torch.ones(faces.shape[0], 1, dtype=torch.bool, device=self.device))
