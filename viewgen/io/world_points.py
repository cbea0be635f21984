"""A flight's frames fused into world space: the point cloud and the mesh of ``viewgen export-world``.

Every frame is unprojected as the renderer does (:func:`viewgen.io.ply.unproject_to_world`: one
sample per pixel centre at depth ``1 / clip(disparity, 0.01, 1)``, every ``stride``-th row and
column), and the renderer's Sobel edge mask, computed on the full-resolution disparity
(:func:`viewgen.io.ply.edge_keep_mask`), marks the samples on depth edges. Samples at the far clip
(disparity <= 0.01, depth 100: the sky, which the renderer draws as a shell around each camera) are
dropped too unless ``keep_sky``: around a moving camera they form one shell per frame, not a world.

Points (:func:`fuse_points`): the kept samples of all frames, deduplicated on a voxel grid
(cubes of side ``voxel`` aligned with the world axes, a corner at the origin). In each voxel the
sample **nearest to its own camera** (smallest depth, the finest footprint) is kept as it is (its
exact position and colour; no averaging); on a tie the earlier frame and pixel. The kept samples
stay in frame and pixel order. ``voxel=None`` picks the scene's own scale (:func:`default_voxel`):
the median over the samples of their (strided) pixel footprint ``depth * stride / f_px``, with
``f_px = min(fx * W, fy * H)``, so a surface seen at the median depth keeps about one sample per
pixel and frames that see it again add nothing. ``voxel=0`` keeps every sample.

Mesh (:func:`frame_mesh`): each frame's grid of strided samples with the renderer's triangles
(:func:`viewgen.rendering.mesh.grid_faces`). A triangle is dropped when it touches a sample on a
depth edge (the renderer's rule) or when it is stretched: its longest edge is longer than
``max_stretch`` (default 16) cell footprints at its nearest vertex, ``max_stretch * stride * z_min
/ f_px``, i.e. its edge / depth ratio is above ``max_stretch * stride / f_px``. A fronto-parallel
cell's longest edge is ``sqrt(2)`` footprints; a surface seen at a grazing angle or a depth step the
Sobel mask missed is far longer. Frames are not stitched: the file holds every frame's surviving
triangles (and the samples they use), so overlapping frames overlap.

Positions here are in viewgen's world axes (OpenCV); the writers turn them to the files' axes.
No library offers this fusion (Open3D's TSDF fusion needs metric depth and a volume; we keep the
renderer's own samples), so it is written here with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewgen.geometry.disparity import MIN_DISPARITY, depth_from_disparity
from viewgen.io.ply import edge_keep_mask, unproject_to_world
from viewgen.io.world_record import WorldRecord
from viewgen.rendering.mesh import grid_faces

__all__ = ["DEFAULT_MAX_STRETCH", "FrameGrid", "FusedPoints", "default_voxel", "focal_pixels", "frame_grid",
           "frame_mesh", "fuse_points", "strided_size"]

DEFAULT_MAX_STRETCH = 16.0


@dataclass(frozen=True, eq=False)
class FrameGrid:
    """One frame's strided samples in world space (``K = H' * W'``, row-major).

    positions: ``[K, 3]`` float64, world (OpenCV axes). rgb: ``[K, 3]`` float32 in [0, 1].
    depth: ``[K]`` float32 along the frame's optical axis, in [1, 100].
    keep: ``[K]`` bool, off depth edges (and off the sky unless it was kept).
    shape: ``(H', W')``. index: the frame's index.
    """

    positions: np.ndarray
    rgb: np.ndarray
    depth: np.ndarray
    keep: np.ndarray
    shape: tuple[int, int]
    index: int


    def kept(self) -> FrameGrid:
        """The kept samples alone, as one row (``shape = (1, K')``, ``keep`` all True): what fusing needs."""
        count = int(self.keep.sum())
        return FrameGrid(positions=self.positions[self.keep], rgb=self.rgb[self.keep], depth=self.depth[self.keep],
                         keep=np.ones(count, dtype=bool), shape=(1, count), index=self.index)


@dataclass(frozen=True, eq=False)
class FusedPoints:
    """The deduplicated samples of a flight (``M`` of them, in frame and pixel order).

    positions: ``[M, 3]`` float64, world (OpenCV axes). rgb: ``[M, 3]`` float32 in [0, 1].
    depth: ``[M]`` float32, each along its own frame's optical axis. frame: ``[M]`` int64 frame index.
    voxel: the voxel side used (world units; 0: no deduplication). num_samples: samples before it.
    """

    positions: np.ndarray
    rgb: np.ndarray
    depth: np.ndarray
    frame: np.ndarray
    voxel: float
    num_samples: int

    def __len__(self) -> int:
        return len(self.positions)


def strided_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """``(ceil(H / stride), ceil(W / stride))``: the samples a frame keeps per column and row."""
    return -(-height // stride), -(-width // stride)


def focal_pixels(record: WorldRecord) -> np.ndarray:
    """``[N]`` float64 ``min(fx * W, fy * H)``: each frame's focal length in pixels (the smaller axis)."""
    height, width = record.size
    return np.minimum(record.intrinsics[:, 0].numpy() * width, record.intrinsics[:, 1].numpy() * height)


def frame_grid(record: WorldRecord, index: int, stride: int = 1, keep_sky: bool = False) -> FrameGrid:
    """Frame ``index`` of ``record`` unprojected to world space, every ``stride``-th row and column.

    ``keep_sky``: keep the samples at the far clip (disparity <= 0.01) too.
    """
    disparity = record.rgbd[index:index + 1, 3:]  # [1, 1, H, W]
    positions = unproject_to_world(disparity, record.intrinsics[index].float(), record.cam_from_world[index].numpy(),
                                   stride)
    rgb = record.rgbd[index, :3, ::stride, ::stride].permute(1, 2, 0).reshape(-1, 3).numpy()
    depth = depth_from_disparity(disparity[0, 0, ::stride, ::stride]).reshape(-1).numpy()
    keep = edge_keep_mask(disparity)[::stride, ::stride].reshape(-1)
    if not keep_sky:
        keep &= disparity[0, 0, ::stride, ::stride].reshape(-1).numpy() > MIN_DISPARITY
    return FrameGrid(positions=positions, rgb=rgb, depth=depth, keep=keep,
                     shape=strided_size(*record.size, stride), index=index)


def default_voxel(depth: np.ndarray, frame: np.ndarray, focal_px: np.ndarray, stride: int) -> float:
    """The median strided pixel footprint ``depth * stride / focal_px[frame]`` of the samples (world units).

    depth, frame: ``[M]`` samples' depths and frame indices; focal_px: ``[N]`` (:func:`focal_pixels`).
    0 when there are no samples.
    """
    if len(depth) == 0:
        return 0.0
    return float(np.median(depth.astype(np.float64) * stride / focal_px[frame]))


def _first_per_voxel(positions: np.ndarray, depth: np.ndarray, voxel: float) -> np.ndarray:
    """Indices (ascending) of the nearest sample (smallest depth, then the first) in each voxel."""
    keys = np.floor(positions / voxel).astype(np.int64)
    order = np.lexsort((depth, keys[:, 2], keys[:, 1], keys[:, 0]))  # stable: ties keep sample order
    sorted_keys = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)
    return np.sort(order[first])


def fuse_points(grids: list[FrameGrid], focal_px: np.ndarray, stride: int, voxel: float | None = None) -> FusedPoints:
    """The kept samples of ``grids`` (off depth edges and sky), deduplicated on a voxel grid (see the module doc).

    Args:
        grids: every frame's :class:`FrameGrid` (any order; the result follows it).
        focal_px: ``[N]`` focal lengths in pixels (:func:`focal_pixels`), for the default voxel.
        stride: the grids' stride, for the default voxel.
        voxel: the voxel side in world units; ``None``: :func:`default_voxel`; 0: keep every sample.
    """
    positions = np.concatenate([grid.positions[grid.keep] for grid in grids])
    rgb = np.concatenate([grid.rgb[grid.keep] for grid in grids])
    depth = np.concatenate([grid.depth[grid.keep] for grid in grids])
    frame = np.concatenate([np.full(int(grid.keep.sum()), grid.index, dtype=np.int64) for grid in grids])
    size = default_voxel(depth, frame, focal_px, stride) if voxel is None else float(voxel)
    kept = _first_per_voxel(positions, depth, size) if size > 0 and len(depth) else np.arange(len(depth))
    return FusedPoints(positions=positions[kept], rgb=rgb[kept], depth=depth[kept], frame=frame[kept],
                       voxel=size, num_samples=len(depth))


def frame_mesh(grid: FrameGrid, focal_px: float, stride: int, max_stretch: float = DEFAULT_MAX_STRETCH
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's grid mesh without edge and stretched triangles (see the module doc).

    Args:
        grid: the frame's samples (:func:`frame_grid`). focal_px: its focal length in pixels.
        stride: the grid's stride. max_stretch: the longest edge allowed, in cell footprints.

    Returns ``(positions [K, 3] float64 world, rgb [K, 3] float32, faces [T, 3] int64)``: only the
    samples the kept triangles use, faces indexing them, in the renderer's (counter-clockwise) order.
    """
    rows, columns = grid.shape
    if rows < 2 or columns < 2:
        return np.zeros((0, 3)), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    faces = grid_faces(rows, columns).numpy()
    faces = faces[grid.keep[faces].all(axis=1)]
    corners = grid.positions[faces]  # [T, 3, 3]
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=-1).max(axis=1)
    nearest = grid.depth[faces].min(axis=1).astype(np.float64)
    faces = faces[longest <= max_stretch * stride * nearest / focal_px]
    used = np.unique(faces)
    new_index = np.full(len(grid.positions), -1, dtype=np.int64)
    new_index[used] = np.arange(len(used))
    return grid.positions[used], grid.rgb[used], new_index[faces]
