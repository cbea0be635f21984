"""``viewgen prepare-clips``: real posed clips made ready for training: every frame's disparity and the units.

A RealEstate10K / ACID clip (:mod:`viewgen.data.posed_clips`) has frames and camera poses but no
depth. Training a rollout on it needs every frame's disparity in one unit shared with the poses
(:mod:`viewgen.data.clip_units`). Preparing a clip writes, in its frame folder::

    <timestamp>_disparity.png   the depth backend's disparity of that frame, min-max normalised (16-bit,
                                the frame's own size), as Infinite Nature's MiDaS disparity was
    prepared.json               {"depth", "timestamps", "pose_scale", "scale_gain", "disparity_gain",
                                 "disparity_offset", "source"}: the clip's ClipUnits

The depth backend runs once per frame (the expensive part: the cache is what makes training
cheap); the units are fitted at a working size of :data:`WORK_WIDTH` pixels across. Each clip's
files are written frame by frame and its ``prepared.json`` last (atomically), so a clip counts as
prepared only when whole: an interrupted run is resumed by running it again, which skips the
clips already prepared with the same backend. Synthetic clips (exact disparity and
``metadata.json``) need nothing and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from viewgen.data.clip_units import PREPARED_FILE, ClipUnits, fit_disparity_map, fit_scale, scale_translations
from viewgen.data.posed_clips import PosedClip, read_clips
from viewgen.geometry.poses import relative_pose, relative_to_first
from viewgen.io.images import load_image, resize_image, write_disparity_png16
from viewgen.staging import write_file_atomic

__all__ = ["WORK_WIDTH", "PreparedSummary", "fit_clip_units", "prepare_clip", "prepare_clips", "prepared_with"]

WORK_WIDTH = 256  # the units are fitted on frames resized to this width (the aspect kept)
_SCALE_TARGETS = 8  # the pose scale is fitted on this many later frames ...
_SCALE_SPAN = 60  # ... spread over at most this many clip frames after frame 0


def _work_size(height: int, width: int) -> tuple[int, int]:
    return max(8, round(WORK_WIDTH * height / width)), WORK_WIDTH


def fit_clip_units(images: Tensor, stored: Tensor, cam_from_world: Tensor, intrinsics: Tensor,
                   source: str) -> ClipUnits:
    """A clip's :class:`ClipUnits` from its frames ``images [T, 3, H, W]``, their stored disparity ``[T, 1, H, W]``
    (frame 0's defines the unit), poses ``cam_from_world [T, 3, 4]`` and frame 0's ``intrinsics [4]``.

    The pose scale is :func:`~viewgen.data.clip_units.fit_scale` on frame 0 and up to :data:`_SCALE_TARGETS` later
    frames; then each frame's map follows from the previous one's (:func:`fit_disparity_map`), a frame whose map
    cannot be fitted keeping the previous frame's.
    """
    count = images.shape[0]
    poses = relative_to_first(cam_from_world)
    span = min(count - 1, _SCALE_SPAN)
    chosen = sorted({round(span * k / _SCALE_TARGETS) for k in range(_SCALE_TARGETS + 1)})
    start = torch.cat([images[:1], stored[:1]], dim=1)
    fitted = fit_scale(start, poses[chosen], intrinsics, images[chosen[1:]]) if len(chosen) > 1 else None
    pose_scale = fitted.scale if fitted else 1.0
    scaled = scale_translations(poses, pose_scale)
    gains, offsets = [1.0], [0.0]
    for frame in range(1, count):
        disparity = gains[-1] * stored[frame - 1, 0] + offsets[-1]
        step = relative_pose(scaled[frame], scaled[frame - 1])[:3]
        found = fit_disparity_map(disparity, stored[frame, 0], step, intrinsics)
        gain, offset = found if found is not None else (gains[-1], offsets[-1])
        gains.append(gain)
        offsets.append(offset)
    return ClipUnits(pose_scale, tuple(gains), tuple(offsets), source, fitted.gain if fitted else None)


def prepared_with(clip: PosedClip) -> str | None:
    """The depth backend ``clip`` was prepared with (its ``prepared.json``'s), or None when it is not prepared."""
    path = clip.frame_paths[0].parent / PREPARED_FILE if clip.frame_paths else None
    if path is None or not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["depth"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare_clip(clip: PosedClip, estimator, depth: str, on_frame: Callable[[], None] | None = None) -> ClipUnits:
    """Estimate, write and fit one clip (see the module doc) with ``estimator`` (a depth estimator, named ``depth``
    in the record); ``on_frame()`` is called after each frame's disparity is written. Returns its units."""
    from viewgen.depth import estimate_disparity

    images, stored = [], []
    for image_path, disparity_path in zip(clip.frame_paths, clip.disparity_paths):
        image = load_image(image_path)
        disparity = estimate_disparity(image, estimator, size=tuple(image.shape[-2:]))
        write_disparity_png16(disparity_path, disparity)
        size = _work_size(*image.shape[-2:])
        images.append(resize_image(image, size))
        stored.append(resize_image(disparity, size))
        if on_frame is not None:
            on_frame()
    units = fit_clip_units(torch.cat(images), torch.cat(stored), clip.cam_from_world,
                           clip.intrinsics[0].float(), f"prepared:{depth}")
    record = {"depth": depth, "timestamps": clip.timestamps.tolist(), **units.to_dict()}
    text = json.dumps(record, indent=1) + "\n"
    write_file_atomic(clip.frame_paths[0].parent / PREPARED_FILE, lambda stream: stream.write(text.encode()))
    return units


@dataclass(frozen=True)
class PreparedSummary:
    """What :func:`prepare_clips` did: clips ``prepared`` now, ``skipped`` (already prepared with this backend,
    or synthetic with exact disparity), ``without_frames`` (camera files whose frames are not extracted), the
    ``frames`` estimated, and the fitted scales' smallest :attr:`~viewgen.data.clip_units.ScaleFit.gain`."""

    prepared: int
    skipped: int
    without_frames: int
    frames: int
    lowest_scale_gain: float | None


def _needs_work(clip: PosedClip, depth: str) -> bool:
    return clip.disparity_scales is None and prepared_with(clip) != depth


def prepare_clips(root: str | Path, estimator, depth: str, split: str | None = None,
                  on_frame: Callable[[], None] | None = None,
                  on_start: Callable[[int], None] | None = None) -> PreparedSummary:
    """Prepare every clip under ``root`` (``split``: one split folder; None: all) that has its frames and is not
    prepared with ``depth`` yet. ``on_start(frames to estimate)`` is called once before the work, ``on_frame()``
    after each frame. One-line ``OSError`` / ``ValueError`` for a missing root or one without camera files."""
    clips = read_clips(root, split)
    if not clips:
        raise ValueError(f"{root}: no camera files (<split>/<clip>.txt) to prepare")
    with_frames = [clip for clip in clips if clip.has_frames]
    todo = [clip for clip in with_frames if _needs_work(clip, depth)]
    if on_start is not None:
        on_start(sum(len(clip) for clip in todo))
    gains = [prepare_clip(clip, estimator, depth, on_frame).scale_gain for clip in todo]
    gains = [gain for gain in gains if gain is not None]
    return PreparedSummary(len(todo), len(with_frames) - len(todo), len(clips) - len(with_frames),
                           sum(len(clip) for clip in todo), min(gains) if gains else None)
