"""A world that persists: every frame's new surface kept as world-space mesh, all of it rendered every frame.

::

    reset(frame 0):  the whole frame becomes the first patches: its grid mesh in world space, in tiles
    render(cam):     every kept patch in one z-buffered pass (viewgen.rendering.world_mesh)
                     known = hit, and not enlarged more than enlargement_limit times
    add(refined):    shown = the render where known, the refined frame elsewhere
                     new   = not known, grown by `dilation` pixels (patches overlap: no cracks)
                     new patches: the shown frame's grid mesh over `new`, minus its stretched edges,
                     in 32 x 32 pixel tiles (each culled by its bounding sphere when rendering)
                     faces shown enlarged where the new patch now lies: forgotten (it holds them finer)
                     over budget: forget the patches seen least recently

So the refiner only ever paints what the world has never seen (or has seen only much coarser than
the view needs), and a place looks the same when the flight comes back to it: the loop closes.

**Resolution.** Each vertex keeps its footprint, the world size of the pixel it came from (``depth /
focal``). A render pixel counts as known only where the footprint it shows is at most
``enlargement_limit`` times the view's own pixel size, so as the flight approaches a surface its
pixels become new again every time they double in size, and the refined frame (with fresh detail)
is kept as a finer patch. Coincident patches are ordered finer-first by pushing every vertex back by
``push_back`` of its own footprints in the depth test (:func:`~viewgen.rendering.world_mesh.render_world_mesh`).

**Budget.** At most ``max_vertices`` are kept. When a new patch goes over, the patches that were
drawn least recently (by the last render in which they covered a pixel; never the newest) are
forgotten first. Each patch costs 4 floats of geometry and colour and one of footprint per vertex,
and two faces of 3 int32 per pixel.

Shapes as in :mod:`viewgen.memory.base`: ``rgbd [1, 4, H, W]``, ``mask [1, 1, H, W]``,
``cam_from_world [3, 4]``, ``intrinsics [4]`` normalized.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.disparity import MIN_DISPARITY
from viewgen.geometry.poses import invert_pose, transform_points
from viewgen.memory.base import Memory
from viewgen.memory.frames import Keyframes, LastFrame
from viewgen.rendering.mesh import grid_faces, grid_vertices, sobel_edge_mask
from viewgen.rendering.world_mesh import render_world_mesh

__all__ = ["MEMORY_NAMES", "Patch", "WorldMemory", "WorldMemoryConfig", "in_view", "make_patches", "memory_named",
           "pack"]

MEMORY_NAMES = ("default", "last-frame", "keyframes", "world")


@dataclass(frozen=True)
class WorldMemoryConfig:
    """Settings of :class:`WorldMemory` (module doc).

    enlargement_limit: a render pixel showing a surface magnified more than this is treated as unseen.
    dilation: pixels a new patch grows into the known area, so neighbouring patches overlap.
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


@dataclass(eq=False)
class Patch:
    """Surface first seen (or seen much finer) in one frame: ``points [V, 3]`` world, ``colors [V, 3]``,
    ``footprint [V]`` world units per pixel, ``faces [F, 3]`` int32 into its own points; ``frame`` the flight
    frame it came from and ``last_seen`` the last render that showed it."""

    points: Tensor
    colors: Tensor
    footprint: Tensor
    faces: Tensor
    frame: int
    last_seen: int

    def __post_init__(self) -> None:
        self.bound()

    def bound(self) -> None:
        """The bounding sphere of the points: ``center [3]`` and ``radius`` (a float), for culling."""
        low, high = self.points.amin(0), self.points.amax(0)
        self.center = (low + high) / 2
        self.radius = float((high - low).norm() / 2)

    def drop_faces(self, local_faces: Tensor) -> None:
        """Forget the faces ``local_faces [K]`` (indices into :attr:`faces`) and the vertices only they used."""
        keep = torch.ones(self.faces.shape[0], dtype=torch.bool, device=self.faces.device)
        keep[local_faces] = False
        faces = self.faces[keep].long()
        used, local = torch.unique(faces, return_inverse=True)
        self.points, self.colors, self.footprint = (values.index_select(0, used) for values in
                                                    (self.points, self.colors, self.footprint))
        self.faces = local.reshape(-1, 3).to(torch.int32)
        if self.points.shape[0]:
            self.bound()


def focal_pixels(intrinsics: Tensor, size: tuple[int, int]) -> Tensor:
    """The mean focal length in pixels of normalized ``intrinsics [4]`` at ``size = (H, W)``: a scalar tensor."""
    return 0.5 * (intrinsics[0] * size[1] + intrinsics[1] * size[0])


def make_patches(rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor, new: Tensor, frame: int,
                 tile: int = 32, edge_beta: float = 10.0) -> tuple[list[Patch], Tensor]:
    """The patches of ``rgbd [1, 4, H, W]`` over the pixels ``new [H, W]`` (bool): its grid faces whose corners are all
    new and not on a depth edge (the warp's Sobel mask: stretched triangles), one patch per ``tile x tile`` block of
    pixels (so each has a tight bounding sphere to cull by), each with only the vertices it uses; and the pixels
    ``[H, W]`` (bool) those faces touch."""
    height, width = rgbd.shape[-2:]
    disparity = rgbd[:, 3:].clamp(MIN_DISPARITY, 1.0)
    usable = (new & (sobel_edge_mask(disparity, edge_beta)[0, 0] > 0.5)).reshape(-1)
    faces = grid_faces(height, width, rgbd.device)
    faces = faces[usable[faces].all(dim=1)]
    covered = torch.zeros(height * width, dtype=torch.bool, device=rgbd.device)
    covered[faces.reshape(-1)] = True
    points_cam = grid_vertices(disparity, intrinsics[None])[0]
    points = transform_points(invert_pose(cam_from_world[None])[0][None, :3], points_cam[None])[0]
    colors = rgbd[0, :3].reshape(3, -1).t()
    footprint = points_cam[:, 2] / focal_pixels(intrinsics, (height, width))
    corner = faces[:, 0]
    tiles = (corner // width // tile) * ((width + tile - 1) // tile) + (corner % width) // tile
    patches = []
    for index in torch.unique(tiles).tolist():
        used, local = torch.unique(faces[tiles == index], return_inverse=True)
        patches.append(Patch(points.index_select(0, used), colors.index_select(0, used),
                             footprint.index_select(0, used), local.reshape(-1, 3).to(torch.int32), frame, frame))
    return patches, covered.view(height, width)


class WorldMemory(Memory):
    """The persistent world of the module doc; ``config``: :class:`WorldMemoryConfig`.

    ``fallback``: a memory asked for what the world has never seen (its render shown there, and told of every
    frame), e.g. the weight-free flight's :class:`~viewgen.memory.WorldPrior`; without one those pixels are
    holes for the refiner.
    """

    def __init__(self, config: WorldMemoryConfig | None = None, fallback: Memory | None = None) -> None:
        super().__init__()
        self.config, self.fallback = config or WorldMemoryConfig(), fallback
        self.patches: list[Patch] = []
        self._frame, self._view, self._superseded, self._drawn, self._face_starts = 0, None, None, [], None

    @property
    def gravity(self) -> Tensor | None:
        """The fallback's estimate of world down, if it has one."""
        return None if self.fallback is None else self.fallback.gravity

    @property
    def vertex_count(self) -> int:
        """Vertices kept now (the budget's unit)."""
        return sum(patch.points.shape[0] for patch in self.patches)

    def reset(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        """The world is frame 0, whole."""
        self.patches, self._frame, self._view = [], 0, None
        self._frame_size = tuple(rgbd.shape[-2:])
        if self.fallback is not None:
            self.fallback.reset(rgbd, cam_from_world, intrinsics)
        everything = torch.ones(self._frame_size, dtype=torch.bool, device=rgbd.device)
        self._keep(make_patches(rgbd, cam_from_world[:3], intrinsics, everything, 0,
                                edge_beta=self.config.edge_beta)[0])

    def render(self, cam_from_world: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
        """Every patch seen from ``cam_from_world``: ``(rgbd [1, 4, H, W], mask [1, 1, H, W])``, 0 where unknown."""
        if not self.patches:
            raise ViewgenRuntimeError("WorldMemory is empty: reset it with frame 0 first")
        self._drawn = in_view(self.patches, cam_from_world[:3], intrinsics)
        if not self._drawn:  # nothing kept is in view: draw the newest patch (it shows nothing: all holes)
            self._drawn = [len(self.patches) - 1]
        points, colors, footprint, faces, self._face_starts = pack([self.patches[i] for i in self._drawn])
        view = render_world_mesh(points, faces, torch.cat([colors, footprint[:, None]], 1), cam_from_world[:3],
                                 intrinsics, self._frame_size, push_back=self.config.push_back * footprint)
        view_footprint = view.depth / focal_pixels(intrinsics, self._frame_size)
        enlarged = view.values[:, 3:4] > self.config.enlargement_limit * view_footprint
        known = view.hit & ~enlarged
        self._frame += 1
        self._mark_seen(view.face_ids)
        self._superseded = torch.where(enlarged[0, 0], view.face_ids, torch.full_like(view.face_ids, -1))
        disparity = (1.0 / view.depth.clamp(min=1.0)).clamp(MIN_DISPARITY, 1.0)  # depth in [1, 100], as the warp
        rgbd = torch.cat([view.values[:, :3], disparity], 1) * known
        self._view = (rgbd, known)
        mask = known.to(rgbd.dtype)
        if self.fallback is not None:  # what the world never saw, from the fallback
            other, other_mask = self.fallback.render(cam_from_world, intrinsics)
            rgbd, mask = torch.where(known, rgbd, other), torch.where(known, mask, other_mask)
        return rgbd, mask

    def add(self, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> Tensor:
        """Show the world where it is known and ``rgbd`` (the refined frame) elsewhere; keep the new part as a patch.
        Returns the frame shown ``[1, 4, H, W]``."""
        if self._view is None:
            raise ViewgenRuntimeError("WorldMemory.add needs a render first (it keeps what that render lacked)")
        rendered, known = self._view
        self._view = None
        shown = torch.where(known, rendered, rgbd)
        if self.fallback is not None:
            shown = torch.where(known, shown, self.fallback.add(rgbd, cam_from_world, intrinsics))
        new = ~known
        if self.config.dilation:
            size = 2 * self.config.dilation + 1
            new = F.max_pool2d(new.float(), size, stride=1, padding=self.config.dilation) > 0.5
        patches, covered = make_patches(shown, cam_from_world[:3], intrinsics, new[0, 0], self._frame,
                                        edge_beta=self.config.edge_beta)
        self._forget_superseded(covered)
        self._keep(patches)
        return shown

    # ------------------------------------------------------------------ storage

    def _owners(self, face_ids: Tensor) -> Tensor:
        """The index into :attr:`patches` of the patch of each face of the last render's ``face_ids [K]`` (>= 0)."""
        drawn = torch.tensor(self._drawn, dtype=torch.long)
        return drawn[torch.bucketize(face_ids, self._face_starts, right=True) - 1]

    def _forget_superseded(self, covered: Tensor) -> None:
        """Drop the faces the last render showed enlarged at pixels the new patch covers (``covered [H, W]``):
        the new patch holds the same surface finer, so the coarse faces would only be drawn behind it."""
        ids = self._superseded[covered & (self._superseded >= 0)]
        if ids.numel() == 0:
            return
        ids = torch.unique(ids)
        owners = self._owners(ids)
        starts = dict(zip(self._drawn, self._face_starts.tolist()))
        for index in torch.unique(owners).tolist():
            self.patches[index].drop_faces(ids[owners == index] - starts[index])
        self.patches = [patch for patch in self.patches if patch.faces.shape[0] > 0]

    def _keep(self, patches: list[Patch]) -> None:
        self.patches.extend(patches)
        self._evict(len(patches))

    def _evict(self, newest: int) -> None:
        """Forget the patches drawn least recently (then the oldest) until the budget holds; never the ``newest``
        (the frame just kept)."""
        count = self.vertex_count
        if count <= self.config.max_vertices:
            return
        older = sorted(range(len(self.patches) - newest), key=lambda i: (self.patches[i].last_seen,
                                                                         self.patches[i].frame))
        forget = set()
        for index in older:
            if count <= self.config.max_vertices:
                break
            forget.add(index)
            count -= self.patches[index].points.shape[0]
        self.patches = [patch for index, patch in enumerate(self.patches) if index not in forget]

    def _mark_seen(self, face_ids: Tensor) -> None:
        """Note the render that just ran as the last sighting of every patch one of its ``face_ids [H, W]`` shows."""
        seen = face_ids[face_ids >= 0]
        for index in torch.unique(self._owners(seen)).tolist():
            self.patches[index].last_seen = self._frame


def in_view(patches: list[Patch], cam_from_world: Tensor, intrinsics: Tensor) -> list[int]:
    """Indices of the ``patches`` whose bounding spheres reach into the view of ``cam_from_world [3, 4]`` with
    normalized ``intrinsics [4]`` (in front of the camera and inside the four side planes, conservatively)."""
    centers = torch.stack([patch.center for patch in patches])
    radii = torch.tensor([patch.radius for patch in patches], dtype=centers.dtype)
    cam = transform_points(cam_from_world.to(centers)[None], centers[None])[0]
    fx, fy, cx, cy = intrinsics.to(centers).tolist()
    normals = torch.tensor([[fx, 0.0, cx], [-fx, 0.0, 1.0 - cx], [0.0, fy, cy], [0.0, -fy, 1.0 - cy]],
                           dtype=centers.dtype)  # the side planes through the eye, pointing into the view
    distances = cam @ (normals / normals.norm(dim=1, keepdim=True)).t()  # [P, 4]
    inside = (cam[:, 2] > -radii) & (distances > -radii[:, None]).all(dim=1)
    return torch.nonzero(inside).squeeze(1).tolist()


def pack(patches: list[Patch]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``patches`` in one mesh: ``(points [V, 3], colors [V, 3], footprint [V], faces [F, 3] int64, face_starts
    [P])``, ``face_starts`` the index of each patch's first face."""
    offsets = torch.tensor([0] + [patch.points.shape[0] for patch in patches[:-1]]).cumsum(0)
    faces = torch.cat([patch.faces.long() + int(offset) for patch, offset in zip(patches, offsets)])
    counts = torch.tensor([0] + [patch.faces.shape[0] for patch in patches[:-1]])
    return (torch.cat([patch.points for patch in patches]), torch.cat([patch.colors for patch in patches]),
            torch.cat([patch.footprint for patch in patches]), faces, counts.cumsum(0))


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
