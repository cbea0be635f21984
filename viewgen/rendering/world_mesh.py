"""Render a world-space triangle mesh into a camera in one z-buffered pass (the persistent world's renderer).

Where :func:`~viewgen.rendering.warp.warp_rgbd` rasterizes one frame's grid mesh, this draws any set of
triangles given in world coordinates: the tiles a persistent world memory has kept from many frames.
The rasterizer is the warp's (:mod:`viewgen.rendering.raster`, the original's semantics), so a tile
renders exactly as a warp of its frame would. Before rasterizing, triangles that cannot show are dropped
(a corner behind the near plane, or all three corners beyond one side of the view), so the cost follows
what is in view, not what is stored.

**Depth order with a push-back.** Two tiles can hold the same surface, one seen from afar and one
seen later from near. ``push_back [V]`` moves each vertex away from the camera along its own viewing
ray by that many world units before the depth test: the projection is unchanged, only the order
changes. Pushing every sample back by a couple of its own pixel footprints lets the finer of two
coincident surfaces win, while anything nearer by more than that still occludes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.geometry.poses import transform_points
from viewgen.rendering.raster.rasterize import interpolate_attributes, rasterize
from viewgen.rendering.warp import NEAR_CLIP, perspective_from_intrinsics

__all__ = ["MeshView", "render_world_mesh", "visible_faces"]


class MeshView:
    """What :func:`render_world_mesh` returns: ``values [1, A, H, W]`` (the interpolated attributes, 0 where
    nothing is hit), ``depth [1, 1, H, W]`` (camera z, 0 where nothing is hit), ``hit [1, 1, H, W]`` (bool) and
    ``face_ids [H, W]`` (the index into the given ``faces`` of the triangle seen, -1 where none)."""

    def __init__(self, values: Tensor, depth: Tensor, hit: Tensor, face_ids: Tensor) -> None:
        self.values, self.depth, self.hit, self.face_ids = values, depth, hit, face_ids


def visible_faces(points_cam: Tensor, faces: Tensor, intrinsics: Tensor) -> Tensor:
    """Indices ``[F']`` of the ``faces [F, 3]`` worth rasterizing for camera-space ``points_cam [V, 3]`` and
    normalized ``intrinsics [4]``: every corner in front of the near plane, and not all corners beyond the same
    side of the view (a conservative test: a triangle that crosses the view whole is kept).

    Each vertex gets an outcode, one bit per way it is out (behind the near plane; left, right, above, below the
    view), so a face costs one gather of three bytes: it is drawn when no corner is behind and its corners share
    no side bit."""
    x, y, z = points_cam.unbind(-1)
    fx, fy, cx, cy = intrinsics.unbind(-1)
    u, v = fx * x / z.clamp(min=NEAR_CLIP) + cx, fy * y / z.clamp(min=NEAR_CLIP) + cy
    codes = ((z <= NEAR_CLIP).to(torch.uint8) | (u < 0).to(torch.uint8) << 1 | (u > 1).to(torch.uint8) << 2
             | (v < 0).to(torch.uint8) << 3 | (v > 1).to(torch.uint8) << 4)
    corners = codes[faces]  # [F, 3]
    first, second, third = corners.unbind(1)
    behind = (first | second | third) & 1
    shared_side = first & second & third & 0b11110
    return torch.nonzero((behind | shared_side) == 0).squeeze(1)


def _compact(faces: Tensor, num_vertices: int) -> tuple[Tensor, Tensor]:
    """``faces [F, 3]`` renumbered over only the vertices they use, and those vertices ``[V']`` (ascending), so the
    rasterizer and the interpolation see none of the vertices of culled faces."""
    used = torch.zeros(num_vertices, dtype=torch.bool, device=faces.device)
    used[faces.reshape(-1)] = True
    renumbered = torch.cumsum(used, 0) - 1
    return renumbered[faces], torch.nonzero(used).squeeze(1)


def render_world_mesh(points_world: Tensor, faces: Tensor, attributes: Tensor, cam_from_world: Tensor,
                      intrinsics: Tensor, size: tuple[int, int], push_back: Tensor | None = None) -> MeshView:
    """Draw the mesh ``points_world [V, 3]`` / ``faces [F, 3]`` (int, counter-clockwise as the warp's) with per-vertex
    ``attributes [V, A]`` into the camera ``cam_from_world [3, 4]`` with normalized ``intrinsics [4]`` at ``size =
    (H, W)``; ``push_back [V]`` (world units, >= 0) biases the depth order only (module doc). Returns a
    :class:`MeshView`; the camera depth is interpolated like any attribute."""
    check_shape(points_world, ("V", 3), "points_world")
    check_shape(faces, ("F", 3), "faces")
    check_shape(attributes, (points_world.shape[0], "A"), "attributes")
    height, width = size
    points_cam = transform_points(cam_from_world.to(points_world)[None], points_world[None])[0]
    kept = visible_faces(points_cam, faces, intrinsics.to(points_world))
    if kept.numel() == 0:  # nothing in view
        empty = points_world.new_zeros(1, attributes.shape[1], height, width)
        return MeshView(empty, empty[:, :1], torch.zeros(1, 1, height, width, dtype=torch.bool),
                        torch.full((height, width), -1, dtype=torch.long))
    shown, used = _compact(faces.index_select(0, kept).long(), points_cam.shape[0])
    points_cam, attributes = points_cam.index_select(0, used), attributes.index_select(0, used)
    ordered = points_cam
    if push_back is not None:
        ordered = points_cam * (1.0 + push_back.index_select(0, used) / points_cam.norm(dim=1).clamp(min=NEAR_CLIP)
                                ).unsqueeze(1)
    projection = perspective_from_intrinsics(intrinsics.to(points_world)[None])[0]
    clip = torch.cat([ordered, torch.ones_like(ordered[:, :1])], dim=1) @ projection.t()
    fragments = rasterize(clip[None], shown, height, width)
    channels = torch.cat([attributes, points_cam[:, 2:]], dim=1)
    shaded = interpolate_attributes(fragments, shown, channels[None], torch.zeros(channels.shape[1]))
    face_ids = fragments.face_ids[0]
    hit = (face_ids >= 0)[None, None]
    original_ids = torch.where(face_ids >= 0, kept[face_ids.clamp(min=0)], torch.full_like(face_ids, -1))
    return MeshView(shaded[:, :-1], shaded[:, -1:], hit, original_ids)
