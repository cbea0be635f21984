"""Render synthetic posed clips in the RealEstate10K / ACID layout, with exact disparity.

``export_clips(out_dir, num_clips, num_frames, height, width, seed)`` writes, per clip::

    out_dir/<split>/<clip>.txt                        camera file (URL line + 19 numbers per frame)
    out_dir/<split>/<clip>/<timestamp>.png            8-bit RGB frame
    out_dir/<split>/<clip>/<timestamp>_disparity.png  16-bit disparity, value / 65535 in [0, 1]
    out_dir/<split>/<clip>/metadata.json              preset, seeds, size, per-frame scales, configs

Clip ``i`` uses scene preset ``PRESET_NAMES[i % 3]`` with a world seed and a flight seed derived
from ``seed`` and ``i``. Disparity is normalized per frame like a monocular estimate
(:func:`depth_to_unit_disparity`): metric depth is ``disparity_scale / disparity`` where the
disparity is positive (sky is 0). Timestamps are microseconds at ``fps`` frames per second.
See :mod:`viewgen.data.posed_clips` for the reader.

``out_dir/<split>`` is written whole: the clips are rendered into a hidden folder beside it
(``out_dir/.<split>.XXXXXXXX.partial``) that replaces it when every clip is done, so a run never
leaves old and new clips mixed (a re-run with fewer clips or frames leaves none of the earlier
ones). A split folder holding anything but clips of an earlier export (:func:`is_clip_entry`)
is refused, so no file of the user's is deleted; other splits beside it are left alone. On an
error nothing is published and an existing split stays as it was; on an interrupt the same,
unless ``keep_finished_on_interrupt`` publishes the clips finished so far.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from viewgen.data.posed_clips import disparity_path, frame_path, write_camera_file
from viewgen.data.synthetic.flights import generate_flight
from viewgen.data.synthetic.presets import PRESET_NAMES, scene_preset, start_pose
from viewgen.data.synthetic.rgbd import render_rgbd
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.staging import check_replaceable, describe_os_error, publish_folder, remove_tree, staging_folder

__all__ = ["ExportedClip", "clip_plan", "export_clips", "is_clip_entry"]

_CLIP_NAME = re.compile(r"\d{4,}-(" + "|".join(map(re.escape, PRESET_NAMES)) + ")")
_FOLDER_HINT = "choose a new or empty folder (or another --split), or move those files away"
_CLIP_FILE = re.compile(r"\d+(_disparity)?\.png|metadata\.json")

MAX_SIDE = 4096


@dataclass(frozen=True)
class ExportedClip:
    """What :func:`export_clips` wrote for one clip (paths of the camera file and frame folder)."""

    name: str
    preset: str
    world_seed: int
    flight_seed: int
    camera_file: Path
    frames_dir: Path
    num_frames: int


def clip_plan(index: int, seed: int) -> tuple[str, int, int]:
    """``(preset name, world seed, flight seed)`` of clip ``index`` of an export seeded ``seed``."""
    preset = PRESET_NAMES[index % len(PRESET_NAMES)]
    base = scene_preset(preset).world.seed
    round_ = index // len(PRESET_NAMES)
    world_seed = base if seed == 0 and round_ == 0 else (base + 7919 * seed + 104729 * round_) % (2 ** 31)
    return preset, world_seed, (seed * 1000003 + index) % (2 ** 31)


def _check(num_clips: int, num_frames: int, height: int, width: int, fps: float) -> None:
    if not isinstance(num_clips, int) or num_clips < 1:
        raise ValueError(f"number of clips must be a positive integer, got {num_clips!r}")
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"number of frames must be a positive integer, got {num_frames!r}")
    sides_ok = isinstance(height, int) and isinstance(width, int) and 8 <= min(height, width)
    if not sides_ok or max(height, width) > MAX_SIDE:
        raise ValueError(f"frame size must be between 8 and {MAX_SIDE} pixels per side, got {height}x{width}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")


def _export_one(out: Path, name: str, plan: tuple[str, int, int], num_frames: int, size: tuple[int, int],
                fps: float, batch: int, progress: Callable[[str, int, int], None] | None) -> ExportedClip:
    """Render and write one clip; returns its record."""
    from viewgen.io.images import write_disparity_png16, write_png_atomic

    preset_name, world_seed, flight_seed = plan
    preset = scene_preset(preset_name)
    world = World(replace(preset.world, seed=world_seed))
    poses = generate_flight(world, num_frames, flight_seed, start_pose(preset_name, world), preset.flight)
    height, width = size
    intrinsics = default_intrinsics(height, width, dtype=torch.float64)  # exact 0.8 etc. in the camera file
    timestamps = [round(i * 1_000_000 / fps) for i in range(num_frames)]
    folder = out / name
    scales = []
    for first in range(0, num_frames, batch):
        chunk = render_rgbd(world, poses[first:first + batch], height, width, intrinsics.float())
        for offset in range(chunk.rgbd.shape[0]):
            stamp = timestamps[first + offset]
            write_png_atomic(frame_path(folder, stamp), chunk.rgbd[offset, :3])
            write_disparity_png16(disparity_path(folder, stamp), chunk.rgbd[offset, 3])
            scales.append(float(chunk.disparity_scale[offset]))
        if progress is not None and first + batch < num_frames:
            progress(name, first + batch, num_frames)
    url = f"viewgen-synth://{preset_name}?world_seed={world_seed}&flight_seed={flight_seed}"
    camera_file = write_camera_file(out / f"{name}.txt", url, timestamps, intrinsics, poses)
    metadata = {"generator": "viewgen synth", "preset": preset_name, "world_seed": world_seed,
                "flight_seed": flight_seed, "height": height, "width": width, "fps": fps,
                "timestamps": timestamps, "disparity_scale": scales,
                "disparity": "<timestamp>_disparity.png: 16-bit, value / 65535 = clip(s / depth, 0, 1); sky = 0",
                "world": asdict(world.config), "flight": asdict(preset.flight)}
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=1) + "\n", encoding="utf-8")
    if progress is not None:  # the clip is complete: its last frame, camera file and metadata are written
        progress(name, num_frames, num_frames)
    return ExportedClip(name, preset_name, world_seed, flight_seed, camera_file, folder, num_frames)


def is_clip_entry(entry: Path) -> bool:
    """True for what :func:`export_clips` writes in a split folder: ``<clip>.txt`` and ``<clip>/`` of frames."""
    if entry.is_symlink() or not _CLIP_NAME.fullmatch(entry.stem if entry.suffix == ".txt" else entry.name):
        return False
    if entry.suffix == ".txt":
        return entry.is_file()
    return entry.is_dir() and all(_CLIP_FILE.fullmatch(file.name) and file.is_file() and not file.is_symlink()
                                  for file in entry.iterdir())


def _split_folder(out_dir: str | Path, split: str) -> tuple[Path, Path]:
    """``(out_dir/split, the folder it replaces)``; ``OSError`` when that holds anything but earlier clips."""
    if not split or "/" in split or "\\" in split or split in (".", ".."):
        raise ValueError(f"split must be a plain folder name, got {split!r}")
    out = Path(out_dir) / split
    target = Path(os.path.realpath(out))  # a link: replace the folder it names
    check_replaceable(target, is_clip_entry, "synthetic clips", _FOLDER_HINT)
    return out, target


def _keep_finished(staging: Path, clips: list[ExportedClip]) -> None:
    """Remove from ``staging`` what belongs to no finished clip (the one being written)."""
    finished = {clip.name for clip in clips} | {f"{clip.name}.txt" for clip in clips}
    for entry in staging.iterdir():
        if entry.name not in finished:
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def export_clips(out_dir: str | Path, num_clips: int, num_frames: int, height: int = 160, width: int = 256,
                 seed: int = 0, split: str = "train", fps: float = 30.0, batch: int = 4,
                 progress: Callable[[str, int, int], None] | None = None,
                 keep_finished_on_interrupt: bool = False) -> list[ExportedClip]:
    """Render ``num_clips`` clips of ``num_frames`` frames into ``out_dir/<split>/`` (see the module doc).

    ``progress(clip_name, frames_done, num_frames)`` is called after each rendered batch; the call
    with ``frames_done == num_frames`` comes once the clip is complete. ``out_dir/<split>`` is
    replaced whole when all clips are done. Raises ``ValueError`` for bad sizes or counts and
    ``OSError`` when the split folder cannot be written or holds other files. On
    ``KeyboardInterrupt`` nothing is published, unless ``keep_finished_on_interrupt`` (then the
    clips finished so far, if any, replace the split folder) before the interrupt propagates.
    """
    _check(num_clips, num_frames, height, width, fps)
    out, target = _split_folder(out_dir, split)
    clips: list[ExportedClip] = []
    staging = None
    try:
        with _naming_errors(out, target):
            staging = staging_folder(target)
        try:
            with _naming_errors(out, target), torch.inference_mode():
                for index in range(num_clips):
                    plan = clip_plan(index, seed)
                    clips.append(_export_one(staging, f"{index:04d}-{plan[0]}", plan, num_frames, (height, width),
                                             fps, max(1, batch), progress))
        except KeyboardInterrupt:
            if keep_finished_on_interrupt and clips:
                _keep_finished(staging, clips)
                _publish(staging, target, out)
                staging = None
            raise
        _publish(staging, target, out)
        staging = None
    finally:
        remove_tree(staging)
    return [replace(clip, camera_file=out / clip.camera_file.name, frames_dir=out / clip.name) for clip in clips]


@contextlib.contextmanager
def _naming_errors(out: Path, target: Path) -> Iterator[None]:
    """An ``OSError`` in the block becomes one line naming ``out`` (the hidden folder's name means nothing)."""
    try:
        yield
    except OSError as error:
        raise OSError(f"cannot write the clips to {out}: {describe_os_error(error)}; "
                      f"{'nothing was changed there' if target.exists() else 'nothing was written'}") from None


def _publish(staging: Path, target: Path, out: Path) -> None:
    """Swap ``staging`` in for ``target``, after checking again that it holds only earlier clips."""
    check_replaceable(target, is_clip_entry, "synthetic clips", _FOLDER_HINT)  # files put there meanwhile
    with _naming_errors(out, target):
        publish_folder(staging, target)
