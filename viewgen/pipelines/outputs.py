"""What a flight returns: its frames (:class:`Frame`) and the whole flight (:class:`FlightOutput`); an
Infinite Nature Zero flight's (:class:`ZeroFrame`, :class:`ZeroFlightOutput`) add the sky-corrected
frames and the events that stopped it (:class:`FlightEvent`).

Also the check that turns user input into one ``[1, 4, H, W]`` RGBD (:func:`as_rgbd_batch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.io.rgbd_files import InputError

__all__ = ["FlightEvent", "FlightOutput", "Frame", "PlannedStep", "ZeroFlightOutput", "ZeroFrame", "as_rgbd_batch"]


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a flight.

    index: frames since :meth:`FlyThroughPipeline.reset` (0 = the input, 1 = the first generated).
    rgbd: ``[1, 4, H, W]`` RGB in [0, 1] plus disparity in [0, 1], on the pipeline's device.
    cam_from_world: ``[3, 4]`` world-to-camera pose of this frame.
    intrinsics: ``[4]`` ``[fx, fy, cx, cy]`` (normalized, constant over a flight).
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


@dataclass(frozen=True, eq=False)
class PlannedStep:
    """A step half done (:meth:`FlyThroughPipeline.plan_step`): frame ``index``, its ``cam_from_world [3, 4]`` and
    ``intrinsics [4]``, and the memory's view from it, ``warped_rgbd [1, 4, H, W]`` and ``mask [1, 1, H, W]``."""

    index: int
    cam_from_world: Tensor
    intrinsics: Tensor
    warped_rgbd: Tensor
    mask: Tensor


@dataclass(frozen=True, eq=False)
class FlightOutput(Sequence):
    """A whole flight, as ``FlyThroughPipeline.__call__`` returns it: a sequence of :class:`Frame`.

    Indexing, ``len`` and iteration give the frames (1, 2, ..., T; the input frame is not one of
    them); the stacked views are made on demand:

    rgbd: ``[T, 4, H, W]`` RGB + disparity in [0, 1].
    poses: ``[T, 3, 4]`` world-to-camera ``cam_from_world`` of every frame.
    intrinsics: ``[T, 4]`` ``[fx, fy, cx, cy]`` of every frame.

    ``image_size``, ``device`` and ``dtype`` give the shape of the stacks of an empty flight.
    """

    frames: tuple[Frame, ...]
    image_size: tuple[int, int]
    device: torch.device
    dtype: torch.dtype

    def __getitem__(self, index):
        return self.frames[index]

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    @property
    def rgbd(self) -> Tensor:
        """``[T, 4, H, W]``."""
        return self._stack("rgbd", (4, *self.image_size), torch.cat)

    @property
    def poses(self) -> Tensor:
        """``[T, 3, 4]`` ``cam_from_world``."""
        return self._stack("cam_from_world", (3, 4), torch.stack)

    @property
    def intrinsics(self) -> Tensor:
        """``[T, 4]``."""
        return self._stack("intrinsics", (4,), torch.stack)

    def _stack(self, name: str, shape: tuple[int, ...], join) -> Tensor:
        if not self.frames:
            return torch.empty(0, *shape, device=self.device, dtype=self.dtype)
        return join([getattr(frame, name) for frame in self.frames])


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
    check_shape(rgbd, (1, 4, "H", "W"), "rgbd", hint=" (or [4, H, W]; channels first)", error=InputError)
    return rgbd


@dataclass(frozen=True)
class FlightEvent:
    """Something that ended (or would end) a flight: ``kind`` ``"crash"``, at ``frame_index``.

    sky_fraction: the mean sky mask that failed the test; message: one line for people.
    """

    kind: str
    frame_index: int
    sky_fraction: float
    message: str

    @classmethod
    def sky_test(cls, frame_index: int, sky_fraction: float, below: float, above: float) -> FlightEvent | None:
        """Infinite Nature Zero's crash test: a ``"crash"`` event unless ``below <= sky_fraction <= above``."""
        if below <= sky_fraction <= above:
            return None
        if sky_fraction < below:
            why = (f"sky fraction {sky_fraction:.3f} < {below}: the autopilot crashed into an obstacle (little of "
                   "the expected sky is left)")
        else:
            why = f"sky fraction {sky_fraction:.3f} > {above}: the view is lost in the sky"
        return cls("crash", frame_index, sky_fraction, why)


@dataclass(frozen=True, eq=False)
class ZeroFrame(Frame):
    """A :class:`~viewgen.pipelines.outputs.Frame` of a Zero flight; ``rgbd [1, 4, S, S]`` is the refined frame.

    carried_rgbd: ``[1, 4, S, S]`` the sky-corrected frame, disparity clamped: what the next frame grows from.
    sky_fraction: the mean sky mask of the crash test (``None`` for frame 0 or without sky correction).
    event: a :class:`FlightEvent` when this frame failed the crash test.
    """

    carried_rgbd: Tensor | None = None
    sky_fraction: float | None = None
    event: FlightEvent | None = None


@dataclass(frozen=True, eq=False)
class ZeroFlightOutput(FlightOutput):
    """A :class:`~viewgen.pipelines.outputs.FlightOutput` of :class:`ZeroFrame` plus the flight's ``events``."""

    events: tuple[FlightEvent, ...] = ()

    @property
    def crashed(self) -> bool:
        """Whether a crash event happened (the flight then stopped early, by default)."""
        return any(event.kind == "crash" for event in self.events)

    @property
    def carried_rgbd(self) -> Tensor:
        """``[T, 4, S, S]`` the sky-corrected frames."""
        return self._stack("carried_rgbd", (4, *self.image_size), torch.cat)
