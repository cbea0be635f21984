"""Posed video clips in the RealEstate10K / ACID layout: records, camera files, dataset listing.

Camera file (``<clip>.txt``), as distributed with RealEstate10K and ACID::

    https://www.youtube.com/watch?v=...          <- line 1: the video URL (any string)
    45678900 0.48 0.85 0.5 0.5 0 0 r00 r01 r02 t0 r10 r11 r12 t1 r20 r21 r22 t2
    ...                                          <- one line per frame, 19 numbers

Each frame line holds the timestamp in microseconds (an integer), the normalized intrinsics
``fx fy cx cy`` (image spanning (0, 0)-(1, 1), our convention), two zeros (unused distortion
slots) and the 3 x 4 world-to-camera matrix ``[R | t]`` row-major (OpenCV axes, our
``cam_from_world``). Blank lines and trailing whitespace are ignored; a file whose first line
already is a frame line has no URL. Malformed lines raise ``ValueError`` naming file and line.

Dataset layout (what :func:`list_clips` / :func:`read_clips` read)::

    root/<split>/<clip>.txt                       camera file (real downloads have only these)
    root/<split>/<clip>/<timestamp>.png           frames, when extracted (ours always has them; .jpg also read)
    root/<split>/<clip>/<timestamp>_disparity.png 16-bit disparity in [0, 1] (synthetic clips)
    root/<split>/<clip>/metadata.json             synthetic clips: per-frame disparity scales etc.

Frame and disparity paths are derived from the timestamps; whether the files exist is up to the
caller (``PosedClip.has_frames``). Values are float64 tensors exactly as written in the file.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from viewgen.checks import check_shape

__all__ = [
    "FRAME_EXTENSIONS",
    "PosedClip",
    "disparity_path",
    "frame_path",
    "list_clips",
    "read_camera_file",
    "read_clips",
    "write_camera_file",
]

_FIELDS = 19


@dataclass(frozen=True, eq=False)
class PosedClip:
    """One posed clip.

    name: clip id (camera file stem). url: the video URL line ("" if absent).
    timestamps: ``[T]`` int64 microseconds. intrinsics: ``[T, 4]`` float64 normalized
    ``[fx, fy, cx, cy]``. cam_from_world: ``[T, 3, 4]`` float64 world-to-camera.
    frame_paths / disparity_paths: ``T`` paths ``<dir>/<timestamp>.png`` and
    ``<dir>/<timestamp>_disparity.png`` (empty when no frame folder is known).
    disparity_scales: ``[T]`` float64 ``s`` with ``depth = s / disparity`` (synthetic clips), or None.
    """

    name: str
    url: str
    timestamps: Tensor
    intrinsics: Tensor
    cam_from_world: Tensor
    frame_paths: tuple[Path, ...] = ()
    disparity_paths: tuple[Path, ...] = ()
    disparity_scales: Tensor | None = None

    def __len__(self) -> int:
        return int(self.timestamps.numel())

    @property
    def has_frames(self) -> bool:
        """True when every frame file exists."""
        return bool(self.frame_paths) and all(path.is_file() for path in self.frame_paths)


FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")  # the first that exists names a frame; .png when none does


def frame_path(folder: str | Path, timestamp: int) -> Path:
    """``folder / "<timestamp>.png"``, or ``.jpg`` / ``.jpeg`` when only such a file exists."""
    stem = Path(folder) / str(int(timestamp))
    for extension in FRAME_EXTENSIONS:
        if stem.with_suffix(extension).is_file():
            return stem.with_suffix(extension)
    return stem.with_suffix(FRAME_EXTENSIONS[0])


def disparity_path(folder: str | Path, timestamp: int) -> Path:
    """``folder / "<timestamp>_disparity.png"``."""
    return Path(folder) / f"{int(timestamp)}_disparity.png"


def _parse_timestamp(token: str) -> int:
    try:
        return int(token)
    except ValueError:
        value = float(token)
        if not value.is_integer():
            raise ValueError(f"timestamp {token!r} is not an integer") from None
        return int(value)


def _parse_row(tokens: list[str], where: str) -> tuple[int, list[float]]:
    """``(timestamp, 18 floats)`` from one frame line; one-line ``ValueError`` naming ``where``."""
    if len(tokens) != _FIELDS:
        raise ValueError(f"{where}: expected {_FIELDS} numbers (timestamp fx fy cx cy 0 0 and a 3x4 "
                         f"world-to-camera matrix), got {len(tokens)}")
    try:
        timestamp = _parse_timestamp(tokens[0])
        values = [float(token) for token in tokens[1:]]
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"{where}: values must be finite")
    if values[0] <= 0 or values[1] <= 0:
        raise ValueError(f"{where}: focal lengths must be positive, got fx={values[0]}, fy={values[1]}")
    return timestamp, values


def _is_frame_line(tokens: list[str]) -> bool:
    if len(tokens) != _FIELDS:
        return False
    try:
        [float(token) for token in tokens]
    except ValueError:
        return False
    return True


def read_camera_file(path: str | Path, frames_dir: str | Path | None = None) -> PosedClip:
    """Read a RealEstate10K/ACID camera file into a :class:`PosedClip`.

    ``frames_dir`` is the folder of the clip's frames; by default the sibling folder named like
    the file without ``.txt`` is used when it exists (then frame and disparity paths are set).
    Raises ``ValueError`` (file and line named) for malformed content, ``OSError`` if unreadable.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text camera file") from None
    numbered = [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]
    url = ""
    if numbered and not _is_frame_line(numbered[0][1].split()):
        url = numbered.pop(0)[1]
    if not numbered:
        raise ValueError(f"{path}: no frame lines")
    timestamps, rows = [], []
    for number, line in numbered:
        timestamp, values = _parse_row(line.split(), f"{path}:{number}")
        timestamps.append(timestamp)
        rows.append(values)
    table = torch.tensor(rows, dtype=torch.float64)
    folder = Path(frames_dir) if frames_dir is not None else path.with_suffix("")
    known = frames_dir is not None or folder.is_dir()
    return PosedClip(
        name=path.stem, url=url, timestamps=torch.tensor(timestamps, dtype=torch.int64),
        intrinsics=table[:, :4].clone(), cam_from_world=table[:, 6:].reshape(-1, 3, 4).clone(),
        frame_paths=tuple(frame_path(folder, ts) for ts in timestamps) if known else (),
        disparity_paths=tuple(disparity_path(folder, ts) for ts in timestamps) if known else (),
        disparity_scales=_read_scales(folder, timestamps) if known else None,
    )


def _read_scales(folder: Path, timestamps: list[int]) -> Tensor | None:
    """Per-frame disparity scales from ``folder/metadata.json`` (synthetic clips), else None."""
    meta = folder / "metadata.json"
    if not meta.is_file():
        return None
    try:
        content = json.loads(meta.read_text(encoding="utf-8"))
        scales = dict(zip(content["timestamps"], content["disparity_scale"]))
        return torch.tensor([float(scales[ts]) for ts in timestamps], dtype=torch.float64)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{meta}: malformed metadata ({type(error).__name__}: {error})") from None


def _format(value: float) -> str:
    """Shortest text that reads back as the same float64 (``repr``), integers without ``.0``."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"camera values must be finite, got {value}")
    return "0" if value == 0 else repr(value)


def write_camera_file(path: str | Path, url: str, timestamps, intrinsics, cam_from_world) -> Path:
    """Write a camera file that :func:`read_camera_file` reads back exactly.

    ``timestamps [T]`` integers (microseconds, increasing), ``intrinsics [T, 4]`` or ``[4]``
    (shared), ``cam_from_world [T, 3, 4]`` (or ``[T, 4, 4]``). Numbers are written with enough
    digits to round-trip float64 exactly. The parent folder is created. Returns ``path``.
    """
    path = Path(path)
    if "\n" in url or "\r" in url:
        raise ValueError("url must be a single line")
    stamps = [int(ts) for ts in torch.as_tensor(timestamps).reshape(-1).tolist()]
    poses = torch.as_tensor(cam_from_world, dtype=torch.float64)
    poses = poses[:, :3] if poses.dim() == 3 else poses
    intr = torch.as_tensor(intrinsics, dtype=torch.float64).reshape(-1, 4)
    intr = intr.expand(len(stamps), 4) if intr.shape[0] == 1 else intr
    if not stamps:
        raise ValueError("need T >= 1 timestamps, got none")
    per_stamp = " (one per timestamp, T >= 1)"
    check_shape(intr, ("T", 4), "intrinsics", sizes={"T": len(stamps)}, hint=per_stamp)
    check_shape(poses, ("T", 3, 4), "cam_from_world", sizes={"T": len(stamps)}, hint=per_stamp)
    if any(later <= earlier for earlier, later in itertools.pairwise(stamps)):
        raise ValueError("timestamps must be strictly increasing")
    lines = [url.strip() or "unknown"]
    for ts, k, pose in zip(stamps, intr.tolist(), poses.reshape(-1, 12).tolist()):
        lines.append(" ".join([str(ts), *map(_format, k), "0", "0", *map(_format, pose)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def list_clips(root: str | Path, split: str | None = None) -> list[Path]:
    """Camera files ``root/<split>/<clip>.txt``, sorted (every split folder when ``split`` is None).

    A ``root`` that directly holds ``*.txt`` camera files is accepted as a single split. Hidden
    folders (``.train.*.partial``: a split being written by ``viewgen synth``) are not splits.
    """
    root = Path(root)
    if not root.is_dir():
        raise OSError(f"dataset root {root} is not a folder")
    if split is not None:
        folders = [root / split]
        if not folders[0].is_dir():
            raise OSError(f"split folder {folders[0]} does not exist")
    else:
        folders = [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]
    return sorted(p for folder in folders for p in folder.glob("*.txt") if p.is_file())


def read_clips(root: str | Path, split: str | None = None) -> list[PosedClip]:
    """Every clip under ``root`` (see :func:`list_clips`) as :class:`PosedClip` records."""
    return [read_camera_file(path) for path in list_clips(root, split)]
