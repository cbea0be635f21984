"""A flight's record: its RGBD frames and their cameras, in memory (:class:`WorldRecord`) and as a folder.

Flight record folder (what ``viewgen fly --out DIR --save-disparity`` writes, plus ``cameras.json``)::

    DIR/frame_00000.png       8-bit RGB frames (:class:`viewgen.io.frame_writer.PngFolderWriter`)
    DIR/disparity_00000.png   16-bit disparity, value round(d * 65535) (:func:`viewgen.io.images.write_disparity_png16`)
    DIR/cameras.json          every frame's camera (below)

Frame ``i`` is ``frame_{i:05d}.png`` / ``disparity_{i:05d}.png`` (more digits past 99999), numbered
from 0 without gaps.

``cameras.json`` (:func:`cameras_json_payload` builds it, :func:`read_flight_record` reads it)::

    {
      "format": "viewgen-cameras",
      "version": 1,
      "axes": "...",                       # a reminder of the conventions below, for people
      "fps": 24.0,                         # optional: the flight's frame rate (24, fly's default, when absent)
      "frames": [
        {"index": 0,
         "cam_from_world": [[r00, r01, r02, t0], [r10, r11, r12, t1], [r20, r21, r22, t2]],
         "intrinsics": [fx, fy, cx, cy]},
        ...                                # one entry per frame, index 0, 1, 2, ... in order
      ]
    }

``cam_from_world`` is viewgen's world-to-camera pose ``[R | t]`` (``p_cam = R p_world + t``) in OpenCV
camera axes (+x right, +y down, +z forward); ``intrinsics`` are normalized (the image spans (0, 0)-(1, 1),
``fx_pixels = fx * W``). Numbers are JSON floats written with ``repr``, so float64 values read back
exactly. Other keys are ignored, so the format can grow.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.errors import InputError
from viewgen.geometry.validation import read_cameras
from viewgen.io.images import load_image, read_disparity_png16, to_uint8_hwc, write_disparity_png16
from viewgen.io.rgbd_files import validate_rgbd
from viewgen.staging import build_and_publish, check_replaceable, is_read_only

__all__ = ["CAMERAS_JSON", "DEFAULT_FPS", "WorldRecord", "cameras_json_payload", "check_output_folder",
           "json_text", "read_flight_record", "save_png", "write_flight_record"]

CAMERAS_JSON = "cameras.json"
CAMERAS_FORMAT, CAMERAS_VERSION = "viewgen-cameras", 1
DEFAULT_FPS = 24.0  # `viewgen fly --fps`'s default, used when a record does not say
_AXES = ("cam_from_world: world-to-camera [R | t] (3x4, row-major), OpenCV camera axes (+x right, +y down, "
         "+z forward); intrinsics: normalized [fx, fy, cx, cy], the image spanning (0, 0)-(1, 1)")
_NUMBERED = re.compile(r"(frame|disparity)_(\d+)\.png")
_FLY_HINT = "write the flight with `viewgen fly --out DIR --save-disparity`"
Progress = Callable[[int], object] | None


@dataclass(frozen=True, eq=False)
class WorldRecord:
    """A flight: ``N`` RGBD frames and their cameras.

    rgbd: ``[N, 4, H, W]`` float, RGB in [0, 1] and disparity (1 / depth along the optical axis) in [0, 1]
        (0 is sky: the renderer clips disparity to [0.01, 1], depth to [1, 100]); ``H, W >= 2``.
    cam_from_world: ``[N, 3, 4]`` (or ``[N, 4, 4]``) world-to-camera poses, OpenCV axes.
    intrinsics: ``[N, 4]`` (or ``[4]``, shared) normalized ``[fx, fy, cx, cy]``.
    fps: the flight's frame rate (timestamps of ``cameras.txt``).

    Stored on the CPU as float32 ``rgbd`` and float64 ``[N, 3, 4]`` poses and ``[N, 4]`` intrinsics.
    Bad shapes or values raise :class:`~viewgen.errors.InputError` (a ``ValueError``) in one line.
    """

    rgbd: Tensor
    cam_from_world: Tensor
    intrinsics: Tensor
    fps: float = DEFAULT_FPS

    def __post_init__(self) -> None:
        rgbd = _checked_rgbd(self.rgbd)
        count = rgbd.shape[0]
        poses = torch.as_tensor(self.cam_from_world).detach().to("cpu", torch.float64)
        check_shape(poses, [("N", 3, 4), ("N", 4, 4)], "cam_from_world", sizes={"N": count}, what="pose",
                    hint=" (one world-to-camera pose per frame)", error=InputError)
        intrinsics = torch.as_tensor(self.intrinsics).detach().to("cpu", torch.float64)
        intrinsics = intrinsics.expand(count, 4) if intrinsics.shape == (4,) else intrinsics
        check_shape(intrinsics, ("N", 4), "intrinsics", sizes={"N": count},
                    hint=" (normalized [fx, fy, cx, cy] per frame, or one [4])", error=InputError)
        try:
            read_cameras({"cam_from_world": poses}, {"intrinsics": intrinsics})
        except ValueError as error:
            raise InputError(str(error)) from None
        if not (isinstance(self.fps, (int, float)) and 0 < self.fps <= 1e6):
            raise InputError(f"fps must be a number in (0, 1e6], got {self.fps!r}")
        object.__setattr__(self, "rgbd", rgbd)
        object.__setattr__(self, "cam_from_world", poses[:, :3].clone())
        object.__setattr__(self, "intrinsics", intrinsics.clone())
        object.__setattr__(self, "fps", float(self.fps))

    def __len__(self) -> int:
        return int(self.rgbd.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames in pixels."""
        return int(self.rgbd.shape[2]), int(self.rgbd.shape[3])


def _checked_rgbd(rgbd) -> Tensor:
    """``[N, 4, H, W]`` float32 CPU copy of ``rgbd`` clamped to [0, 1]; one-line ``InputError`` when unusable."""
    if not isinstance(rgbd, Tensor):
        raise InputError(f"rgbd must be a torch.Tensor [N, 4, H, W], got {type(rgbd).__name__}")
    check_shape(rgbd, ("N", 4, "H", "W"), "rgbd", hint=" (RGB + disparity per frame)", error=InputError)
    check_min_size(rgbd, 2, "rgbd", error=InputError)
    if rgbd.shape[0] < 1:
        raise InputError("rgbd has no frames: a flight record needs N >= 1")
    for index in range(rgbd.shape[0]):  # finite, float, within [0, 1]
        validate_rgbd(rgbd[index:index + 1], f"rgbd frame {index}")
    return rgbd.detach().to("cpu", torch.float32).clamp(0.0, 1.0)


def cameras_json_payload(cam_from_world, intrinsics, fps: float | None = None) -> dict:
    """The content of ``cameras.json`` (see the module doc) for ``N`` frames.

    Args:
        cam_from_world: ``[N, 3, 4]`` or ``[N, 4, 4]`` world-to-camera poses (OpenCV axes).
        intrinsics: ``[N, 4]`` or ``[4]`` (every frame's) normalized ``[fx, fy, cx, cy]``.
        fps: the flight's frame rate, stored when given.

    Returns a dict for ``json.dump`` (:func:`json_text` writes it with one line per frame); values are
    float64 as given (shapes checked, not values).
    """
    poses = torch.as_tensor(cam_from_world, dtype=torch.float64)
    count = check_shape(poses, [("N", 3, 4), ("N", 4, 4)], "cam_from_world", what="pose")["N"]
    cameras = torch.as_tensor(intrinsics, dtype=torch.float64)
    cameras = cameras.expand(count, 4) if cameras.shape == (4,) else cameras
    check_shape(cameras, ("N", 4), "intrinsics", sizes={"N": count}, hint=" (or one [4] for every frame)")
    payload = {"format": CAMERAS_FORMAT, "version": CAMERAS_VERSION, "axes": _AXES}
    if fps is not None:
        payload["fps"] = float(fps)
    payload["frames"] = [{"index": index, "cam_from_world": pose.tolist(), "intrinsics": camera.tolist()}
                         for index, (pose, camera) in enumerate(zip(poses[:, :3], cameras))]
    return payload


def json_text(value, indent: str = "") -> str:
    """``value`` as JSON text, one key per line, but a list of numbers (or of lists of numbers) on one line.

    So a 3x4 pose reads as one line, ``[[1.0, 0.0, 0.0, 0.0], [...], [...]]``; floats are ``repr``s as in
    :func:`json.dumps`, so they read back exactly.
    """
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(key))}: {json_text(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and any(isinstance(item, (dict, list)) for item in value):
        if all(isinstance(item, list) and not any(isinstance(x, (dict, list)) for x in item) for item in value):
            return json.dumps(value)  # a matrix
        return "[\n" + ",\n".join(inner + json_text(item, inner) for item in value) + f"\n{indent}]"
    return json.dumps(value)


def check_output_folder(path: str | Path, is_ours: Callable[[Path], bool], what: str) -> Path:
    """The folder that writing ``path`` replaces (a link's target); one-line ``OSError`` when it must not be.

    Refused: the current folder or one holding it, a file, a folder with entries ``is_ours`` rejects,
    a read-only folder. No side effects, so callers check before any work.
    """
    path = Path(path).expanduser()
    target = Path(os.path.realpath(path))
    here = Path(os.path.realpath("."))
    if target == here or target in here.parents:  # it is replaced as a whole, not written into
        raise OSError(f"cannot write {what} to {path}: it is the current folder (or holds it), which the "
                      f"result would replace; give a subfolder")
    check_replaceable(target, is_ours, what, "choose a new or empty folder, or move those files away")
    if target.is_dir() and is_read_only(target):
        raise OSError(f"will not replace {path}: the folder is read-only; make it writable or choose another folder")
    return target


def _is_record_entry(entry: Path) -> bool:
    plain = entry.is_file() and not entry.is_symlink()
    return plain and (_NUMBERED.fullmatch(entry.name) is not None or entry.name == CAMERAS_JSON)


def save_png(path: Path, rgb: Tensor) -> None:
    """``[3, H, W]`` RGB in [0, 1] -> an 8-bit PNG at ``path`` (in a staging folder: not atomic itself)."""
    from PIL import Image

    Image.fromarray(to_uint8_hwc(rgb)).save(path, format="PNG")


def write_flight_record(folder: str | Path, record: WorldRecord, progress: Progress = None) -> Path:
    """Write ``record`` as a flight record folder (see the module doc), replacing ``folder`` as a whole.

    An existing ``folder`` may hold only an earlier record's files (``frame_*.png``,
    ``disparity_*.png``, ``cameras.json``); anything else is refused before any work. The files are
    written into a hidden folder beside it that is swapped in when complete, so an error or an
    interrupt leaves ``folder`` as it was. ``progress(1)`` is called after each frame. Returns ``folder``.
    """
    folder = Path(folder).expanduser()
    target = check_output_folder(folder, _is_record_entry, "a flight record")

    def fill(staging: Path) -> None:
        for index in range(len(record)):
            save_png(staging / f"frame_{index:05d}.png", record.rgbd[index, :3])
            write_disparity_png16(staging / f"disparity_{index:05d}.png", record.rgbd[index, 3])
            if progress is not None:
                progress(1)
        payload = cameras_json_payload(record.cam_from_world, record.intrinsics, record.fps)
        (staging / CAMERAS_JSON).write_text(json_text(payload) + "\n", encoding="utf-8")

    build_and_publish(target, fill, "a flight record", folder)
    return folder


def _numbered_files(folder: Path, kind: str) -> list[Path]:
    """``kind_00000.png``, ``kind_00001.png``, ... of ``folder`` in order; ``InputError`` for a gap."""
    found = {}
    for entry in folder.iterdir():
        match = _NUMBERED.fullmatch(entry.name)
        if match and match.group(1) == kind:
            found[int(match.group(2))] = entry
    missing = next((index for index in range(len(found)) if index not in found), None)
    if missing is not None:
        raise InputError(f"{folder} has {len(found)} {kind} PNGs but no {kind}_{missing:05d}.png: "
                         f"frames must be numbered from 0 without gaps")
    return [found[index] for index in range(len(found))]


def _read_cameras_json(path: Path) -> tuple[Tensor, Tensor, float]:
    """``(cam_from_world, intrinsics, fps)`` from ``cameras.json`` (shapes: :class:`WorldRecord` checks them).

    One-line ``InputError`` for a file that is not valid JSON or not a viewgen cameras file.
    """
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read {path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != CAMERAS_FORMAT:
        raise InputError(f"cannot read {path}: not a viewgen cameras file (no \"format\": \"{CAMERAS_FORMAT}\")")
    if payload.get("version") != CAMERAS_VERSION:
        raise InputError(f"cannot read {path}: version {payload.get('version')!r}, this viewgen reads version "
                         f"{CAMERAS_VERSION}; upgrade viewgen")
    frames = payload.get("frames")
    try:
        if not isinstance(frames, list) or [frame["index"] for frame in frames] != list(range(len(frames))):
            raise ValueError("\"frames\" must list frames 0, 1, 2, ... in order")
        poses = torch.tensor([frame["cam_from_world"] for frame in frames], dtype=torch.float64)
        intrinsics = torch.tensor([frame["intrinsics"] for frame in frames], dtype=torch.float64)
        fps = float(payload.get("fps", DEFAULT_FPS))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"cannot read {path}: malformed frames ({type(error).__name__}: {error})") from None
    return poses, intrinsics, fps


def _record_files(folder: Path) -> tuple[list[Path], list[Path], Path]:
    """The frame PNGs, disparity PNGs and ``cameras.json`` of a flight record folder, checked to agree."""
    if not folder.exists():
        raise FileNotFoundError(f"cannot read the flight {folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"cannot read the flight {folder}: it is a file, not a folder of frames")
    frames = _numbered_files(folder, "frame")
    if not frames:
        raise InputError(f"{folder} holds no frame_00000.png ...: not a flight folder; {_FLY_HINT}")
    disparities = _numbered_files(folder, "disparity")
    if not disparities:
        raise InputError(f"{folder} has frames but no disparity_00000.png ...: the export needs every frame's "
                         f"depth; {_FLY_HINT}")
    if len(disparities) != len(frames):
        raise InputError(f"{folder} has {len(frames)} frame PNGs but {len(disparities)} disparity PNGs; "
                         f"they must pair up")
    cameras = folder / CAMERAS_JSON
    if not cameras.is_file():
        raise InputError(f"{folder} has no {CAMERAS_JSON} (every frame's camera); {_FLY_HINT}")
    return frames, disparities, cameras


def read_flight_record(folder: str | Path, progress: Progress = None) -> WorldRecord:
    """Read a flight record folder (see the module doc) into a :class:`WorldRecord`.

    Every frame must have its disparity PNG and its camera, at one size. Raises one-line
    ``FileNotFoundError`` (no such folder) or :class:`~viewgen.errors.InputError` (not a flight record,
    no disparity PNGs, counts or sizes that disagree, a malformed ``cameras.json``).
    ``progress(1)`` is called after each frame read.
    """
    folder = Path(folder).expanduser()
    frames, disparities, cameras = _record_files(folder)
    poses, intrinsics, fps = _read_cameras_json(cameras)
    if len(poses) != len(frames):
        raise InputError(f"{cameras} has {len(poses)} cameras but {folder} has {len(frames)} frames; "
                         f"they must pair up")
    rgbd = None
    for index, (frame, disparity_file) in enumerate(zip(frames, disparities)):
        rgb, disparity = load_image(frame), read_disparity_png16(disparity_file)
        if rgbd is None:
            rgbd = torch.empty(len(frames), 4, *rgb.shape[-2:])
        for name, image in ((frame.name, rgb), (disparity_file.name, disparity)):
            if image.shape[-2:] != rgbd.shape[-2:]:
                raise InputError(f"{name} is {image.shape[-1]}x{image.shape[-2]}, but {frames[0].name} is "
                                 f"{rgbd.shape[-1]}x{rgbd.shape[-2]}: every frame must have one size")
        rgbd[index, :3], rgbd[index, 3] = rgb[0], disparity[0, 0]
        if progress is not None:
            progress(1)
    try:
        return WorldRecord(rgbd, poses, intrinsics, fps)
    except InputError as error:
        raise InputError(f"{folder}: {error}") from None
