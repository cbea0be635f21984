"""Protocol (a) on real data: posed video clips (RealEstate10K / ACID layout) as short-range ground truth.

A clip (:mod:`viewgen.data.posed_clips`: ``root/<split>/<clip>.txt`` and its frames
``root/<split>/<clip>/<timestamp>.png`` or ``.jpg``) gives a case: frame 0 (its RGB and a
disparity) is the start, frames ``stride, 2 stride, ..., N stride`` the ground truth, and the
clip's own camera poses the path a flight replays. Everything is resized to the protocol's
``height x width`` (the intrinsics are normalized, so they hold at any size).

Units. A flight measures lengths in frame 0's depth unit (depth = 1 / disparity), so the clip's
poses, made relative to frame 0, have their translations multiplied by a scale ``a`` (flight
units per pose unit):

* **synthetic clips** (``viewgen synth``) carry frame 0's exact disparity (``_disparity.png``)
  and its scale ``s`` (``metadata.json``; depth = s / disparity, poses in metres): ``a = 1 / s``,
  exact (``scale_source = "metadata"``);
* **real clips** have poses at an arbitrary per-clip SfM scale and no depth: frame 0's disparity
  comes from a depth backend (:func:`~viewgen.depth.estimate_disparity`, min-max normalized as the
  original Infinite Nature's) and ``a`` is **fitted**: of a log-spaced grid, the one whose plain
  warps of frame 0 (holes filled by the nearest pixel) best match the case's frames in mean
  absolute RGB error (``scale_source = "fitted"``). The truth sets this one number, as median
  scaling does in monocular depth evaluation; flight and baselines fly the same scaled poses. The
  fit's ``gain`` says how far that error is below a still camera's: near 0 (frames that change
  for other reasons than motion, such as glinting water, or a poor disparity) the scale is not
  known and the clip's scores say little; ``viewgen eval`` warns then.

Hand-written: no library reads these clips into flight units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.data.clip_units import SCALE_GRID, ScaleFit, fit_scale, scale_translations
from viewgen.data.posed_clips import PosedClip, read_clips
from viewgen.evaluation.protocols import FrameChoices
from viewgen.geometry.poses import relative_to_first
from viewgen.io.images import load_image, read_disparity_png16, resize_image

__all__ = ["MIN_SCALE_GAIN", "SCALE_GRID", "ClipTruth", "PosedClipsConfig", "ScaleFit", "clip_truth", "fit_scale",
           "has_disparity", "usable_clips"]

MIN_SCALE_GAIN = 0.05  # a fitted scale whose warps beat a still camera by less than this is flagged


@dataclass(frozen=True)
class PosedClipsConfig(FrameChoices):
    """Protocol (a) on posed clips.

    root: the dataset folder; split: its split folder (None: every split, or ``root`` itself when
    it holds the camera files); num_frames: ``N``, generated frames per case; stride: clip frames
    between two scored frames (real clips run at 30 fps: a stride of a few frames gives motion);
    height, width: the resolution of everything; max_clips: the first this many usable clips
    (sorted by name; None: all); depth: the depth backend for clips without a disparity file;
    sheet_frames: frames per case on the contact sheet.
    """

    root: str
    split: str | None = None
    num_frames: int = 20
    stride: int = 1
    height: int = 160
    width: int = 256
    max_clips: int | None = None
    depth: str = "midas-v21"
    sheet_frames: int = 4

    def __post_init__(self) -> None:
        for name, low in (("num_frames", 1), ("stride", 1), ("sheet_frames", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
        if self.max_clips is not None and (isinstance(self.max_clips, bool) or not isinstance(self.max_clips, int)
                                           or self.max_clips < 1):
            raise ValueError(f"max_clips must be a whole number >= 1 or None, got {self.max_clips!r}")
        if min(self.height, self.width) < 16:
            raise ValueError(f"the resolution must be at least 16x16 (SSIM needs 11x11), "
                             f"got {self.height}x{self.width}")

    @property
    def clip_frames(self) -> int:
        """Clip frames a case needs: frame 0 and ``N`` strides."""
        return self.num_frames * self.stride + 1


@dataclass(frozen=True, eq=False)
class ClipTruth:
    """One posed clip read into flight units.

    name: the clip's id; rgbd: ``[N + 1, 4, H, W]`` RGB of frame 0 and the scored frames, disparity
    of frame 0 in channel 3 of ``rgbd[0]`` (the others' is 0: not known); cam_from_world: ``[N + 1, 3, 4]``
    float64 relative to frame 0 (identity), translations times ``scale``; intrinsics: ``[4]``
    normalized, frame 0's; scale: flight units per pose unit; scale_source: ``"metadata"`` or ``"fitted"``;
    scale_gain: for a fitted scale, :attr:`ScaleFit.gain` (None for an exact one).
    """

    name: str
    rgbd: Tensor
    cam_from_world: Tensor
    intrinsics: Tensor
    scale: float
    scale_source: str
    scale_gain: float | None = None


def usable_clips(config: PosedClipsConfig) -> list[PosedClip]:
    """The clips of ``config.root`` with at least ``config.clip_frames`` frames whose images exist (sorted by
    name, at most ``max_clips``). Raises ``OSError`` for a missing root or ``ValueError`` when none is usable."""
    clips = read_clips(config.root, config.split)
    needed = range(0, config.clip_frames, config.stride)
    usable = [clip for clip in clips if len(clip) >= config.clip_frames and clip.frame_paths
              and all(clip.frame_paths[k].is_file() for k in needed)]
    if not usable:
        raise ValueError(f"{config.root}: no clip with {config.clip_frames} frames ({config.num_frames} scored, stride "
                         f"{config.stride}) and their images ({len(clips)} camera file(s) found); extract the frames "
                         "as <split>/<clip>/<timestamp>.png or .jpg, or ask for fewer --frames")
    return usable[:config.max_clips]


def has_disparity(clip: PosedClip) -> bool:
    """Whether ``clip`` carries frame 0's disparity file (then no depth backend is needed)."""
    return bool(clip.disparity_paths) and clip.disparity_paths[0].is_file()


def _start_disparity(clip: PosedClip, image: Tensor, config: PosedClipsConfig, estimator) -> Tensor:
    """Frame 0's disparity ``[1, 1, H, W]``: the clip's disparity file, else ``estimator``'s (or, without one,
    ``config.depth``'s) estimate."""
    if has_disparity(clip):
        return resize_image(read_disparity_png16(clip.disparity_paths[0]), (config.height, config.width))
    from viewgen.depth import estimate_disparity

    return estimate_disparity(image, estimator or config.depth, size=(config.height, config.width))


def clip_truth(clip: PosedClip, config: PosedClipsConfig, estimator=None) -> ClipTruth:
    """Read ``clip`` into a :class:`ClipTruth` at ``config``'s size, stride and frame count (see the module doc).

    estimator: a depth estimator (:func:`~viewgen.depth.get_estimator`) for clips without a disparity
    file, built once by the caller for many clips; None builds ``config.depth``'s for this call.
    """
    indices = list(range(0, config.clip_frames, config.stride))
    images = [resize_image(load_image(clip.frame_paths[k]), (config.height, config.width))
              for k in indices]
    disparity = _start_disparity(clip, images[0], config, estimator)
    rgbd = torch.cat([torch.cat(images), torch.zeros(len(images), 1, config.height, config.width)], dim=1)
    rgbd[0, 3:] = disparity[0]
    poses = relative_to_first(clip.cam_from_world[indices])
    intrinsics = clip.intrinsics[0].float()
    if clip.disparity_scales is not None and has_disparity(clip):
        scale, gain, source = 1.0 / float(clip.disparity_scales[0]), None, "metadata"
    else:
        fitted = fit_scale(rgbd[:1], poses, intrinsics, rgbd[1:, :3])
        scale, gain, source = fitted.scale, fitted.gain, "fitted"
    return ClipTruth(clip.name, rgbd, scale_translations(poses, scale), intrinsics, scale, source, gain)
