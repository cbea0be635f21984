"""Posed clips in the RealEstate10K / ACID layout as clip windows for Infinite Nature's rollouts.

The clips are read by :func:`viewgen.data.posed_clips.read_clips` (``root/<split>/<clip>.txt`` and the
frame folder beside it); a clip is used when its frames are extracted, its disparity is known (synthetic
clips from ``viewgen synth``, or real ones after ``viewgen prepare-clips DIR --depth NAME``: see
:mod:`viewgen.data.clip_units`) and it is long enough. A window is ``frames`` frames ``stride`` clip frames
apart; window ``k`` starts at a place drawn by ``(seed, k)`` uniformly over every start of every clip,
so windows are pure functions of the index as the synthetic world's are.

Each window is seen from its first frame, in the conventions of the other windows: poses relative to it
(the clip's units applied), disparity of every frame in its unit, scaled so that its nearest point is 1
(lengths scaled with it), clamped to [0, 1]; its normalized intrinsics. Frames and disparity are resized
to ``image_size`` (bilinear, antialiased); normalized intrinsics hold at any size.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import torch

from viewgen.data.clip_units import ClipUnits, clip_units, scale_translations
from viewgen.data.posed_clips import PosedClip, read_clips
from viewgen.data.seeding import item_generator
from viewgen.geometry.poses import relative_to_first
from viewgen.io.images import load_image, read_disparity_png16, resize_image

__all__ = ["PosedClipWindows"]


class PosedClipWindows(torch.utils.data.Dataset):
    """Windows of ``frames`` frames, ``stride`` clip frames apart, of the usable clips under ``root`` (``split``:
    one split folder, None: all), at ``image_size``; see the module doc. ``len``: ``num_windows`` (an epoch);
    any index >= 0 is a window. One-line ``ValueError`` when no clip is usable, saying why."""

    def __init__(self, root: str | Path, split: str | None = None, image_size: tuple[int, int] = (160, 256),
                 frames: int = 2, stride: int = 1, seed: int = 0, num_windows: int = 10_000) -> None:
        if frames < 2 or stride < 1 or num_windows < 1:
            raise ValueError("clip windows need frames >= 2, stride >= 1 and num_windows >= 1")
        self.image_size, self.window_frames, self.stride = tuple(image_size), frames, stride
        self.seed, self.num_windows = seed, num_windows
        span = (frames - 1) * stride + 1
        clips = read_clips(root, split)
        found = [(clip, clip_units(clip)) for clip in clips if clip.has_frames]
        self.clips: list[tuple[PosedClip, ClipUnits]] = [(clip, units) for clip, units in found
                                                          if units is not None and len(clip) >= span]
        if not self.clips:
            prepared = sum(units is not None for _, units in found)
            raise ValueError(f"{root}: no clip to train on: {len(clips)} camera file(s), {len(found)} with their "
                             f"frames, {prepared} with known disparity (run viewgen prepare-clips on real clips), none "
                             f"with {span} frames ({frames} window frames, stride {stride})")
        self.starts = [0]  # window starts before each clip: a global start index maps to (clip, first frame)
        for clip, _ in self.clips:
            self.starts.append(self.starts[-1] + len(clip) - span + 1)

    def __len__(self) -> int:
        return self.num_windows

    def place(self, index: int) -> tuple[int, list[int]]:
        """``(clip number, clip frame indices)`` of window ``index``."""
        drawn = int(torch.randint(self.starts[-1], (), generator=item_generator(self.seed, index)))
        clip_number = bisect.bisect_right(self.starts, drawn) - 1
        first = drawn - self.starts[clip_number]
        return clip_number, [first + k * self.stride for k in range(self.window_frames)]

    def __getitem__(self, index: int) -> dict:
        """``{"rgbd": [frames, 4, H, W], "cam_from_world": [frames, 3, 4], "intrinsics": [4]}`` of window ``index``."""
        if index < 0:
            raise IndexError(f"window {index} is negative")
        clip_number, indices = self.place(index)
        clip, units = self.clips[clip_number]
        images = torch.cat([resize_image(load_image(clip.frame_paths[k]), self.image_size) for k in indices])
        stored = torch.cat([resize_image(read_disparity_png16(clip.disparity_paths[k]), self.image_size)
                            for k in indices])
        gains = torch.tensor([units.disparity_gain[k] for k in indices]).view(-1, 1, 1, 1)
        offsets = torch.tensor([units.disparity_offset[k] for k in indices]).view(-1, 1, 1, 1)
        disparity = (gains * stored + offsets).clamp_min(0)
        nearest = float(disparity[0].max())
        window_scale = 1.0 / nearest if nearest > 1e-6 else 1.0
        poses = scale_translations(relative_to_first(clip.cam_from_world[indices]), units.pose_scale / window_scale)
        return {"rgbd": torch.cat([images, (disparity * window_scale).clamp(0, 1)], dim=1).float(),
                "cam_from_world": poses.float(), "intrinsics": clip.intrinsics[indices[0]].float()}
