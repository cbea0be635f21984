"""A flight's cameras for other tools: a RealEstate10K camera file and a nerfstudio ``transforms.json``.

``cameras.txt`` is the RealEstate10K / ACID format, written by
:func:`viewgen.data.posed_clips.write_camera_file` (the inverse of the reader viewgen trains on): a
first line naming the flight, then one line per frame::

    timestamp_us fx fy cx cy 0 0 r00 r01 r02 t0 r10 r11 r12 t1 r20 r21 r22 t2

with ``timestamp_us = round(i * 1e6 / fps)``, the normalized intrinsics and viewgen's world-to-camera
``[R | t]`` row-major, exactly (OpenCV axes, as RealEstate10K stores them; float64 to the last digit).

``transforms.json`` follows nerfstudio's (and instant-ngp's) layout, with the RGB frames written as
``images/frame_00000.png`` ... beside it so every ``file_path`` resolves::

    {"camera_model": "OPENCV", "fl_x": .., "fl_y": .., "cx": .., "cy": .., "w": W, "h": H,
     "k1": 0, "k2": 0, "p1": 0, "p2": 0,
     "frames": [{"file_path": "images/frame_00000.png", "transform_matrix": [[4 x 4]]}, ...],
     "ply_file_path": "points.ply"}

Intrinsics are in pixels with the origin at the image's top-left corner (``fl_x = fx * W``,
``cx = cx * W``: nerfstudio's pixel centres are at ``i + 0.5``, as ours); they are frame 0's, and a
frame whose intrinsics differ carries its own ``fl_x, fl_y, cx, cy`` (nerfstudio reads per-frame values).
``transform_matrix`` is camera-to-world in nerfstudio's camera axes (OpenGL: +x right, +y up, looking
down -z) and in the world axes of the PLY files (``F = diag(1, -1, -1)`` of viewgen's world, +y up):
``F4 @ inverse(cam_from_world) @ F4`` with ``F4 = diag(1, -1, -1, 1)``; the identity camera is the
identity matrix. ``ply_file_path`` (nerfstudio's splatfacto starts from it) is there when
``points.ply`` is written: the points are in the same world frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewgen.data.posed_clips import write_camera_file
from viewgen.io.ply import OPENGL_FROM_OPENCV
from viewgen.io.world_record import WorldRecord, json_text, save_png

__all__ = ["IMAGES_FOLDER", "nerfstudio_transforms", "timestamps_us", "write_camera_txt", "write_transforms"]

IMAGES_FOLDER = "images"
_FLIP4 = np.diag([*np.diag(OPENGL_FROM_OPENCV), 1.0])  # the PLYs' axes change, on 4x4 poses


def timestamps_us(count: int, fps: float) -> list[int]:
    """``round(i * 1e6 / fps)`` microseconds for frames ``0 .. count - 1`` (strictly increasing)."""
    return [round(index * 1e6 / fps) for index in range(count)]


def write_camera_txt(path: Path, record: WorldRecord, name: str) -> Path:
    """Write ``record``'s cameras as a RealEstate10K camera file (see the module doc); ``name`` is line 1."""
    return write_camera_file(path, " ".join(name.split()) or "viewgen flight", timestamps_us(len(record), record.fps),
                             record.intrinsics, record.cam_from_world)


def _pixel_intrinsics(camera: np.ndarray, height: int, width: int) -> dict:
    fx, fy, cx, cy = camera.tolist()
    return {"fl_x": fx * width, "fl_y": fy * height, "cx": cx * width, "cy": cy * height}


def _camera_to_world_file(cam_from_world: np.ndarray) -> np.ndarray:
    """``[3, 4]`` world-to-camera (OpenCV) -> ``[4, 4]`` camera-to-world in nerfstudio / file axes."""
    rotation, translation = cam_from_world[:, :3], cam_from_world[:, 3]
    world_from_cam = np.eye(4)
    world_from_cam[:3, :3] = rotation.T
    world_from_cam[:3, 3] = -rotation.T @ translation
    return _FLIP4 @ world_from_cam @ _FLIP4


def nerfstudio_transforms(record: WorldRecord, image_paths: list[str], points_file: str | None = None) -> dict:
    """The ``transforms.json`` content for ``record`` (see the module doc).

    image_paths: each frame's ``file_path`` relative to the JSON file. points_file: ``ply_file_path``, if any.
    """
    height, width = record.size
    cameras = record.intrinsics.numpy()
    payload = {"camera_model": "OPENCV", **_pixel_intrinsics(cameras[0], height, width), "w": width, "h": height,
               "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "frames": []}
    for index, file_path in enumerate(image_paths):
        frame = {"file_path": file_path,
                 "transform_matrix": _camera_to_world_file(record.cam_from_world[index].numpy()).tolist()}
        if not np.array_equal(cameras[index], cameras[0]):
            frame.update(_pixel_intrinsics(cameras[index], height, width))
        payload["frames"].append(frame)
    if points_file is not None:
        payload["ply_file_path"] = points_file
    return payload


def write_transforms(folder: Path, record: WorldRecord, points_file: str | None = None) -> list[str]:
    """Write ``folder/images/frame_00000.png ...`` and ``folder/transforms.json``; returns the names written.

    ``folder`` is a staging folder (files are written in place, not one by one atomically).
    """
    (folder / IMAGES_FOLDER).mkdir(exist_ok=True)
    image_paths = []
    for index in range(len(record)):
        image_paths.append(f"{IMAGES_FOLDER}/frame_{index:05d}.png")
        save_png(folder / image_paths[-1], record.rgbd[index, :3])
    payload = nerfstudio_transforms(record, image_paths, points_file)
    (folder / "transforms.json").write_text(json_text(payload) + "\n", encoding="utf-8")
    return ["transforms.json", f"{IMAGES_FOLDER}/"]
