"""Replay a given camera path: a :class:`CameraController` that returns a recorded pose list.

Used to fly a pipeline along exactly the poses of a ground-truth clip (for example
:func:`viewgen.evaluation.ground_truth.ground_truth_clip`), so every generated frame has a
ground-truth frame from the same camera::

    clip = ground_truth_clip("hills", seed=0, height=32, width=48, num_frames=5)
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(32, 48)))
    flight = pipe(clip.rgbd[:1], num_frames=4, intrinsics=clip.intrinsics,
                  cam_from_world=clip.cam_from_world[0], controller=ReplayPath(clip.cam_from_world))
    # flight.poses == clip.cam_from_world[1:]

Frame 0 is ``poses[0]``; the k-th :meth:`ReplayPath.next` returns ``poses[k]``. Started (by
:meth:`~CameraController.reset`, as the pipeline does) at another pose, it replays the same
*motion* from there: frame k is ``poses[k] @ inv(poses[0]) @ start``. Asking for more frames
than the list holds raises ``ValueError``. RGBD and steering are ignored (steering is checked).

Not in :mod:`~viewgen.control.registry`: the registry builds controllers from a name and
numeric config fields (``viewgen fly --path NAME``), and a replay needs a pose list, which no
name or number can give. Make one directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.control.base import CameraController, check_config_numbers, check_offset, check_start_pose
from viewgen.geometry.poses import compose_poses, invert_pose

__all__ = ["ReplayPath", "ReplayPathConfig"]


@dataclass(frozen=True)
class ReplayPathConfig:
    """same_start_tolerance: largest ``|start - poses[0]|`` entry for which the given poses are
    returned as they are (else the motion is replayed from the start pose)."""

    same_start_tolerance: float = 1e-6

    def __post_init__(self) -> None:
        check_config_numbers(self)
        if self.same_start_tolerance < 0:
            raise ValueError(f"ReplayPathConfig.same_start_tolerance must be >= 0, got {self.same_start_tolerance}")


def check_pose_list(poses) -> Tensor:
    """Validate ``poses [T, 3|4, 4]`` (T >= 1, rigid world-to-camera) and return them as float64 CPU ``[T, 3, 4]``."""
    if not isinstance(poses, Tensor) or poses.dim() != 3 or poses.shape[0] < 1 or tuple(poses.shape[1:]) not in (
            (3, 4), (4, 4)):
        shape = tuple(poses.shape) if isinstance(poses, Tensor) else type(poses).__name__
        raise ValueError(f"ReplayPath needs poses as a tensor [T, 3, 4] (T >= 1), got {shape}")
    for index, pose in enumerate(poses):
        try:
            check_start_pose(pose)
        except ValueError as error:
            raise ValueError(f"ReplayPath poses[{index}]: {error}") from None
    return poses[:, :3, :4].detach().to("cpu", torch.float64).clone()


class ReplayPath(CameraController):
    """Returns ``poses[1], poses[2], ...`` from :meth:`next` (see the module doc).

    Args:
        poses: ``cam_from_world [T, 3, 4]`` (or ``[T, 4, 4]``), ``T >= 1``; frame 0 is ``poses[0]``.
        config: a :class:`ReplayPathConfig` (defaults when ``None``).

    Returned poses have the dtype and device of the start pose given to :meth:`reset`
    (at construction: of ``poses``).
    """

    def __init__(self, poses: Tensor, config: ReplayPathConfig | None = None) -> None:
        self.config = ReplayPathConfig() if config is None else config
        if not isinstance(self.config, ReplayPathConfig):
            raise ValueError(f"ReplayPath needs a ReplayPathConfig, got {type(config).__name__}")
        self._poses = check_pose_list(poses)
        self.reset(poses[0])

    def __len__(self) -> int:
        """Number of poses, frame 0 included (so ``len - 1`` calls of :meth:`next` are possible)."""
        return self._poses.shape[0]

    def _restart(self, start: Tensor) -> None:
        if float((start - self._poses[0]).abs().max()) <= self.config.same_start_tolerance:
            self._replayed = self._poses
        else:  # the same motion from another start: cam_k_from_world' = cam_k_from_cam_0 @ cam_0_from_world'
            self._replayed = compose_poses(compose_poses(self._poses, invert_pose(self._poses[0])), start)

    def _pose(self) -> Tensor:
        return self._replayed[self._frame_index]

    def set_speed(self, units_per_frame: float) -> None:
        """Refused: a replayed path moves as recorded."""
        raise ValueError("ReplayPath replays recorded poses: its speed cannot be changed")

    def next(self, rgbd: Tensor | None = None, offset=(0.0, 0.0)) -> Tensor:
        """Advance one frame and return its ``cam_from_world [3, 4]``; ``rgbd`` and ``offset`` are unused."""
        check_offset(offset)
        if self._frame_index + 1 >= len(self):
            raise ValueError(f"ReplayPath has {len(self)} poses: no frame {self._frame_index + 1} "
                             f"(fly at most {len(self) - 1} frames)")
        self._advance()
        return self.cam_from_world
