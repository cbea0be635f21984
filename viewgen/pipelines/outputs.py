"""A frame of a flight, and the check that turns user input into one ``[1, 4, H, W]`` RGBD."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from viewgen.io.rgbd_files import InputError

__all__ = ["Frame", "as_rgbd_batch"]


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a flight.

    index: frames since :meth:`FlyThroughPipeline.reset` (0 = the input, 1 = the first generated).
    rgbd: ``[1, 4, H, W]`` RGB in [0, 1] plus disparity in [0, 1], on the pipeline's device.
    cam_from_world: ``[3, 4]`` world-to-camera pose of this frame.
    intrinsics: ``[4]`` ``[fx, fy, cx, cy]`` (normalised, constant over a flight).
    """

    index: int
    rgbd: Tensor
    cam_from_world: Tensor
    intrinsics: Tensor

    @property
    def rgb(self) -> Tensor:
        """``[1, 3, H, W]`` in [0, 1]."""
        return self.rgbd[:, :3]

    @property
    def disparity(self) -> Tensor:
        """``[1, 1, H, W]`` 1/depth in [0, 1]."""
        return self.rgbd[:, 3:]


def as_rgbd_batch(rgbd) -> Tensor:
    """A ``[1, 4, H, W]`` or ``[4, H, W]`` tensor/array -> ``[1, 4, H, W]`` tensor; refuses images without depth."""
    if isinstance(rgbd, np.ndarray):
        rgbd = torch.from_numpy(rgbd)
    if not isinstance(rgbd, Tensor):
        raise InputError(f"expected an RGBD tensor [1, 4, H, W] or [4, H, W], got {type(rgbd).__name__}; "
                         "an RGB image needs a depth backend to estimate its disparity first "
                         "(RGBD files load with viewgen.io.rgbd_files.load_rgbd_file)")
    if rgbd.dim() == 3:
        rgbd = rgbd.unsqueeze(0)
    if rgbd.dim() == 4 and rgbd.shape[0] == 1 and rgbd.shape[1] in (1, 3):
        raise InputError(f"got an image with {rgbd.shape[1]} channel(s) {list(rgbd.shape)} but no disparity: "
                         "an RGB image needs a depth backend to estimate its disparity first")
    if rgbd.dim() != 4 or rgbd.shape[0] != 1 or rgbd.shape[1] != 4:
        raise InputError(f"expected an RGBD tensor [1, 4, H, W] or [4, H, W] (channels first), got {list(rgbd.shape)}")
    return rgbd
