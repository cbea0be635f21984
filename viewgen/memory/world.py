"""A world that persists: every frame's new surface kept as world-space mesh, all of it rendered every frame.

::

    reset(frame 0):  the whole frame becomes the first tiles: its grid mesh in world space, 32 x 32 pixel blocks
    render(cam):     the tiles whose boxes reach into the view, in one z-buffered pass
                     (viewgen.rendering.world_mesh); known = hit, and not enlarged more than enlargement_limit times
    add(refined):    shown = the render where known, the refined frame elsewhere
                     new tiles: the shown frame's grid faces with a corner not known and every corner within
                     `dilation` pixels of one (tiles overlap: no cracks), minus its stretched edges
                     faces shown enlarged where the new tiles now lie: forgotten (they hold them finer)
                     over budget: forget the tiles seen least recently

So the refiner only ever paints what the world has never seen (or has seen only much coarser than
the view needs), and a place looks the same when the flight comes back to it: the loop closes. The
tiles live in one arena of tensors (:mod:`viewgen.memory.world_tiles`), so culling and gathering
thousands of them is a few tensor operations.

**Resolution.** Each vertex keeps its footprint, the world size of the pixel it came from (``depth /
focal``). A render pixel counts as known only where the footprint it shows is at most
``enlargement_limit`` times the view's own pixel size, so as the flight approaches a surface its
pixels become new again every time they double in size, and the refined frame (with fresh detail)
is kept as finer tiles. Coincident surfaces are ordered finer-first by pushing every vertex back by
``push_back`` of its own footprints in the depth test (:func:`~viewgen.rendering.world_mesh.render_world_mesh`).

**Budget.** At most ``max_vertices`` are kept (vertices a live face uses). When new tiles go over,
the tiles that were drawn least recently (by the last render in which they covered a pixel; never
the newest) are forgotten first. A vertex costs 7 floats (position, colour, footprint) and a pixel
two faces of 4 int32; the tables are compacted when a third of them is dead, so the storage stays
within 4/3 of the budget plus one frame.

Shapes as in :mod:`viewgen.memory.base`: ``rgbd [1, 4, H, W]``, ``mask [1, 1, H, W]``,
``cam_from_world [3, 4]``, ``intrinsics [4]`` normalized.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.disparity import MIN_DISPARITY
from viewgen.memory.base import Memory
from viewgen.memory.frames import Keyframes, LastFrame
from viewgen.memory.world_tiles import TileStore, focal_pixels, new_tiles
from viewgen.rendering.warp import NEAR_CLIP
from viewgen.rendering.world_mesh import render_world_mesh

__all__ = ["MEMORY_NAMES", "WorldMemory", "WorldMemoryConfig", "in_view", "memory_named"]

MEMORY_NAMES = ("default", "last-frame", "keyframes", "world")


@dataclass(frozen=True)
class WorldMemoryConfig:
    """Settings of :class:`WorldMemory` (module doc).

    enlargement_limit: a render pixel showing a surface magnified more than this is treated as unseen.
    dilation: pixels new tiles reach into the known area (from a pixel not known), so neighbouring tiles overlap.
    push_back: depth-order bias, in each vertex's own footprints (finer coincident surfaces win).
    max_vertices: the geometry budget (2 M vertices: about 80 MB with faces).
    edge_beta: sharpness of the Sobel rule that drops stretched triangles on depth edges (the mesh warp's 10;
        smaller keeps more of a low-resolution frame, whose per-pixel disparity steps are larger).
    """

    enlargement_limit: float = 2.0
    dilation: int = 1
    push_back: float = 2.0
    max_vertices: int = 2_000_000
    edge_beta: float = 10.0

    def __post_init__(self) -> None:
        if not self.enlargement_limit >= 1 or self.dilation < 0 or self.push_back < 0 or self.max_vertices < 1:
            raise ValueError("WorldMemoryConfig needs enlargement_limit >= 1, dilation >= 0, push_back >= 0 and "
                             "max_vertices >= 1")
        if not self.edge_beta > 0:
            raise ValueError(f"WorldMemoryConfig.edge_beta must be > 0, got {self.edge_beta}")


class WorldMemory(Memory):
    """The persistent world of the module doc; ``config``: :class:`WorldMemoryConfig`.

    ``fallback``: a memory asked for what the world has never seen (its render shown there, and told of every
    frame), e.g. the weight-free flight's :class:`~viewgen.memory.WorldPrior`; without one those pixels are
    holes for the refiner.
    """

    def __init__(self, config: WorldMemoryConfig | None = None, fallback: Memory | None = None) -> None:
        super().__init__()
        self.config, self.fallback = config or WorldMemoryConfig(), fallback
        self.tiles: TileStore | None = None
        self._frame, self._view, self._superseded = 0, None, None

    @property
    def gravity(self) -> Tensor | None:
        """The fallback's estimate of world down, if it has one."""
        return None if self.fallback is None else self.fallback.gravity

    @property
    def vertex_count(self) -> int:
        """Vertices kept now (the budget's unit)."""
        return 0 if self.tiles is None else self.tiles.vertex_count

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        """The world is frame 0, whole."""
        self.tiles, self._frame, self._view = TileStore(rgbd.device), 0, None
        self._frame_size = tuple(rgbd.shape[-2:])
        if self.fallback is not None:
            self.fallback.reset(rgbd, cam_from_world, intrinsics)
        everything = torch.ones(self._frame_size, dtype=torch.bool, device=rgbd.device)
        self.tiles.add(new_tiles(rgbd, cam_from_world[:3], intrinsics, everything, self.config.edge_beta), 0)

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """Every tile in view of ``cam_from_world``: ``(rgbd [1, 4, H, W], mask [1, 1, H, W])``, 0 where unknown."""
        if self.tiles is None:
            raise ViewgenRuntimeError("WorldMemory is empty: reset it with frame 0 first")
        mesh = self.tiles.gather(in_view(self.tiles, cam_from_world[:3], intrinsics))
        vertices = mesh.vertices
        view = render_world_mesh(vertices[:, :3], mesh.faces, vertices[:, 3:], cam_from_world[:3], intrinsics,
                                 self._frame_size, push_back=self.config.push_back * vertices[:, 6])
        view_footprint = view.depth / focal_pixels(intrinsics, self._frame_size)
        enlarged = view.values[:, 3:4] > self.config.enlargement_limit * view_footprint
        known = view.hit & ~enlarged
        self._frame += 1
        face_rows = torch.full_like(view.face_ids, -1)
        if mesh.face_rows.numel():
            face_rows = torch.where(view.face_ids >= 0, mesh.face_rows[view.face_ids.clamp(min=0)], face_rows)
        self.tiles.mark_seen(face_rows[face_rows >= 0], self._frame)
        self._superseded = torch.where(enlarged[0, 0], face_rows, torch.full_like(face_rows, -1))
        disparity = (1.0 / view.depth.clamp(min=1.0)).clamp(MIN_DISPARITY, 1.0)  # depth in [1, 100], as the warp
        rgbd = torch.cat([view.values[:, :3], disparity], 1) * known
        self._view = (rgbd, known)
        mask = known.to(rgbd.dtype)
        if self.fallback is not None:  # what the world never saw, from the fallback
            other, other_mask = self.fallback.render(cam_from_world, intrinsics)
            rgbd, mask = torch.where(known, rgbd, other), torch.where(known, mask, other_mask)
        return rgbd, mask

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """Show the world where it is known and ``rgbd`` (the refined frame) elsewhere; keep the new part as tiles.
        Returns the frame shown ``[1, 4, H, W]``."""
        if self._view is None:
            raise ViewgenRuntimeError("WorldMemory.add needs a render first (it keeps what that render lacked)")
        rendered, known = self._view
        self._view = None
        shown = torch.where(known, rendered, rgbd)
        if self.fallback is not None:
            shown = torch.where(known, shown, self.fallback.add(rgbd, cam_from_world, intrinsics))
        tiles = new_tiles(shown, cam_from_world[:3], intrinsics, ~known[0, 0], self.config.edge_beta,
                          self.config.dilation)
        # Faces shown enlarged where the new tiles lie: the new tiles hold the same surface finer, so the coarse
        # faces would only be drawn behind them.
        superseded = self._superseded[tiles.covered & (self._superseded >= 0)]
        if superseded.numel():
            self.tiles.forget_faces(torch.unique(superseded))
        self.tiles.add(tiles, self._frame)
        self._evict(newest=tiles.count)
        return shown

    def _evict(self, newest: int) -> None:
        """Forget the tiles drawn least recently (then the oldest) until the budget holds; never the ``newest``
        (the frame just kept)."""
        store = self.tiles
        excess = store.vertex_count - self.config.max_vertices
        if excess <= 0:
            return
        info = store.info
        order = torch.nonzero(store.live()[:info.shape[0] - newest]).squeeze(1)
        for column in (store.FRAME, store.LAST_SEEN):  # by last sighting, then frame, then storage order
            order = order[torch.sort(info[order, column], stable=True).indices]
        forgotten = torch.cumsum(info[order, store.LIVE_VERTICES], 0)
        store.evict(order[:int(torch.searchsorted(forgotten, excess)) + 1])


def in_view(tiles: TileStore, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
    """The live tiles ``[K]`` (long, ascending) whose boxes reach into the view of ``cam_from_world [3, 4]`` with
    normalized ``intrinsics [4]``: a tile is out when its whole box lies beyond one plane of the view (the near plane
    or a side plane through the eye), a conservative test as the face culling's. Per plane, only the box corner
    farthest inside it needs testing."""
    low, high = tiles.low, tiles.high
    fx, fy, cx, cy = intrinsics.to(low).tolist()
    planes_cam = low.new_tensor([[0.0, 0.0, 1.0], [fx, 0.0, cx], [-fx, 0.0, 1.0 - cx], [0.0, fy, cy],
                                 [0.0, -fy, 1.0 - cy]])  # inside: normal . x_cam + offset >= 0
    offsets_cam = low.new_tensor([-NEAR_CLIP, 0.0, 0.0, 0.0, 0.0])
    rotation, translation = cam_from_world[:3, :3].to(low), cam_from_world[:3, 3].to(low)
    normals = planes_cam @ rotation  # the planes in world space: normal . x_world + offset >= 0
    offsets = planes_cam @ translation + offsets_cam
    farthest = torch.where(normals[None] > 0, high[:, None], low[:, None])  # [T, 5, 3]
    outside = ((farthest * normals).sum(-1) + offsets < 0).any(dim=1)
    return torch.nonzero(tiles.live() & ~outside).squeeze(1)


def memory_named(name: str, current: Memory, weight_free: bool) -> Memory:
    """The flight memory called ``name`` (one of :data:`MEMORY_NAMES`: ``viewgen fly --memory``, the web demo's
    "Remember the world").

    ``current`` is the pipeline's own memory: kept for ``default``, and the fallback of ``world`` when
    ``weight_free`` (the weight-free flight's procedural prior invents what the world never saw). ``last-frame``,
    ``keyframes`` and ``world`` are new memories (``world`` with learned weights: no fallback, the refiner fills).
    """
    choices = {"default": lambda: current, "last-frame": LastFrame, "keyframes": Keyframes,
               "world": lambda: WorldMemory(fallback=current if weight_free else None)}
    if name not in choices:
        raise ValueError(f"unknown memory {name!r}; choose one of {', '.join(MEMORY_NAMES)}")
    return choices[name]()
