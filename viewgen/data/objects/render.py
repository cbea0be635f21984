"""Rendering objects of the synthetic object world from cameras on a sphere, in ENR's convention.

The camera of view ``(azimuth, elevation)`` (degrees) sits ``distance`` from the centre at
``C (d, 0, 0)`` with ``C = R_y(-azimuth) R_z(-elevation)`` (:mod:`viewgen.geometry.rotations`) and
looks at the centre; at ``(0, 0)`` it looks along ``-x`` with the image's right along ``+z`` and
its rows along ``+y`` (ENR's object frame, docs/conventions.md). So a positive azimuth shift
moves it right, a positive elevation shift up, and the view of ``(az, el)`` is the object turned
by ENR's ``scene_rotation(az, el)`` seen from ``(0, 0)``: what an ENR model learns to invert.

Shading: each face's colour times ``ambient + (1 - ambient) |n . l|`` for a light from the
camera's upper left (two-sided), on a white background (as ShapeNet renders); rasterized by
:func:`viewgen.rendering.rasterize`, one vertex per face corner, so faces stay flat.
"""

from __future__ import annotations

import torch
from torch import Tensor

from viewgen.data.objects.shapes import Mesh
from viewgen.geometry.rotations import scene_rotation
from viewgen.rendering import interpolate_attributes, perspective_from_intrinsics, rasterize

__all__ = ["AMBIENT", "CAMERA_DISTANCE", "FOCAL", "camera_from_object", "render_object"]

CAMERA_DISTANCE = 3.5  # the unit ball fits the frame at FOCAL (it needs >= sqrt(1 + (2 FOCAL)^2) = 3.36)
FOCAL = 1.6  # normalized focal length (horizontal field of view 2 atan(0.5 / 1.6) = 34.7 degrees)
AMBIENT = 0.35
_BASE = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # rows: image right, down, forward
_LIGHT = torch.tensor([-0.5, -0.6, -1.0])  # in the camera: from the upper left, in front


def camera_from_object(azimuth_deg: float, elevation_deg: float, distance: float = CAMERA_DISTANCE) -> Tensor:
    """``[3, 4]`` object-to-camera pose of view ``(azimuth, elevation)`` (OpenCV camera axes; see the module doc)."""
    camera_rotation = scene_rotation(float(azimuth_deg), float(elevation_deg))[0].T  # C
    rotation = _BASE @ camera_rotation.T
    translation = torch.tensor([0.0, 0.0, float(distance)])
    return torch.cat([rotation, translation[:, None]], dim=1)


def render_object(mesh: Mesh, azimuth_deg: float, elevation_deg: float, size: int) -> Tensor:
    """``mesh`` seen from view ``(azimuth, elevation)``: RGB ``[3, size, size]`` in [0, 1], white background."""
    pose = camera_from_object(azimuth_deg, elevation_deg)
    corners = mesh.corners.reshape(-1, 3) @ pose[:, :3].T + pose[:, 3]  # camera space
    normals = mesh.normals @ pose[:, :3].T
    light = _LIGHT / _LIGHT.norm()
    shade = AMBIENT + (1 - AMBIENT) * (normals @ light).abs()  # [F]
    colors = (mesh.colors * shade[:, None]).repeat_interleave(3, dim=0)  # one per corner
    intrinsics = torch.tensor([[FOCAL, FOCAL, 0.5, 0.5]])
    clip = torch.cat([corners, torch.ones(len(corners), 1)], 1) @ perspective_from_intrinsics(intrinsics)[0].T
    faces = torch.arange(len(corners)).view(-1, 3)
    fragments = rasterize(clip[None], faces, size, size)
    rgb = interpolate_attributes(fragments, faces, colors[None], torch.ones(3))
    return rgb[0].clamp(0.0, 1.0)
