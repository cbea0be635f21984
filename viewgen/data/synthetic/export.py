"""Render synthetic posed clips in the RealEstate10K / ACID layout, with exact disparity.

``export_clips(out_dir, num_clips, num_frames, height, width, seed)`` writes, per clip::

    out_dir/<split>/<clip>.txt                        camera file (URL line + 19 numbers per frame)
    out_dir/<split>/<clip>/<timestamp>.png            8-bit RGB frame
    out_dir/<split>/<clip>/<timestamp>_disparity.png  16-bit disparity, value / 65535 in [0, 1]
    out_dir/<split>/<clip>/metadata.json              preset, seeds, size, per-frame scales, configs

Clip ``i`` uses scene preset ``PRESET_NAMES[i % 3]`` with a world seed and a flight seed derived
from ``seed`` and ``i``. Disparity is normalised per frame like a monocular estimate
(:func:`normalise_disparity`): metric depth is ``disparity_scale / disparity`` where the
disparity is positive (sky is 0). Timestamps are microseconds at ``fps`` frames per second.
See :mod:`viewgen.data.posed_clips` for the reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from viewgen.data.posed_clips import disparity_path, frame_path, write_camera_file
from viewgen.data.synthetic.flights import generate_flight
from viewgen.data.synthetic.presets import PRESET_NAMES, scene_preset, start_pose
from viewgen.data.synthetic.rgbd import render_rgbd
from viewgen.data.synthetic.world import World
from viewgen.geometry.intrinsics import default_intrinsics

__all__ = ["ExportedClip", "clip_plan", "export_clips"]

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
        if progress is not None:
            progress(name, min(first + batch, num_frames), num_frames)
    url = f"viewgen-synth://{preset_name}?world_seed={world_seed}&flight_seed={flight_seed}"
    camera_file = write_camera_file(out / f"{name}.txt", url, timestamps, intrinsics, poses)
    metadata = {"generator": "viewgen synth", "preset": preset_name, "world_seed": world_seed,
                "flight_seed": flight_seed, "height": height, "width": width, "fps": fps,
                "timestamps": timestamps, "disparity_scale": scales,
                "disparity": "<timestamp>_disparity.png: 16-bit, value / 65535 = clip(s / depth, 0, 1); sky = 0",
                "world": asdict(world.config), "flight": asdict(preset.flight)}
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=1) + "\n", encoding="utf-8")
    return ExportedClip(name, preset_name, world_seed, flight_seed, camera_file, folder, num_frames)


def export_clips(out_dir: str | Path, num_clips: int, num_frames: int, height: int = 160, width: int = 256,
                 seed: int = 0, split: str = "train", fps: float = 30.0, batch: int = 4,
                 progress: Callable[[str, int, int], None] | None = None) -> list[ExportedClip]:
    """Render ``num_clips`` clips of ``num_frames`` frames into ``out_dir/<split>/`` (see the module doc).

    ``progress(clip_name, frames_done, num_frames)`` is called after each rendered batch.
    Raises ``ValueError`` for bad sizes or counts and ``OSError`` when ``out_dir`` is not writable.
    """
    _check(num_clips, num_frames, height, width, fps)
    if not split or "/" in split or "\\" in split or split in (".", ".."):
        raise ValueError(f"split must be a plain folder name, got {split!r}")
    out = Path(out_dir) / split
    probe = out / ".viewgen-write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OSError(f"cannot write to {out}: {error.strerror or error}") from None
    with torch.inference_mode():
        return [_export_one(out, f"{index:04d}-{clip_plan(index, seed)[0]}", clip_plan(index, seed), num_frames,
                            (height, width), fps, max(1, batch), progress) for index in range(num_clips)]
