"""Cameras, pose algebra, intrinsics and projection. No learning, no I/O.

Conventions (``docs/conventions.md``): poses are world-to-camera ``cam_from_world``
``[..., 3, 4]`` or ``[..., 4, 4]``; camera axes +x right, +y down, +z forward; intrinsics are
normalized ``[fx, fy, cx, cy]`` with the image spanning (0, 0)-(1, 1).
"""

from viewgen.geometry.intrinsics import (
    crop_image_and_intrinsics,
    crop_intrinsics,
    default_intrinsics,
    focal_from_fov_deg,
    fov_deg_from_focal,
    integer_pixel_matrix,
    intrinsics_to_pixel_matrix,
    pixel_matrix_to_intrinsics,
    resize_image_and_intrinsics,
)
from viewgen.geometry.poses import (
    camera_center,
    compose_poses,
    invert_pose,
    look_direction_pose,
    relative_pose,
    relative_to_first,
    to_homogeneous_pose,
    transform_points,
)
from viewgen.geometry.projection import pixel_centers_uv, project, unproject, uv_to_rays

__all__ = [
    "camera_center",
    "compose_poses",
    "crop_image_and_intrinsics",
    "crop_intrinsics",
    "default_intrinsics",
    "focal_from_fov_deg",
    "fov_deg_from_focal",
    "integer_pixel_matrix",
    "intrinsics_to_pixel_matrix",
    "invert_pose",
    "look_direction_pose",
    "pixel_centers_uv",
    "pixel_matrix_to_intrinsics",
    "project",
    "relative_pose",
    "relative_to_first",
    "resize_image_and_intrinsics",
    "to_homogeneous_pose",
    "transform_points",
    "unproject",
    "uv_to_rays",
]
