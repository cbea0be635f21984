"""The frame-writer base and the PNG-folder sink; see :mod:`viewgen.io.video` for the sinks.

:class:`FrameWriter` validates frames (``[3, H, W]`` / ``[1, 3, H, W]`` float RGB in [0, 1]),
fixes the frame size, and implements the close / abort / discard / context-manager policy
shared by all sinks: :meth:`~FrameWriter.close` publishes what was written (nothing when no frame
was), :meth:`~FrameWriter.discard` drops it and leaves any existing output untouched. Leaving the
``with`` block through an interrupt (Ctrl-C, or SIGTERM turned into ``KeyboardInterrupt`` by the
CLI) keeps the frames done so far; through any other exception it discards them.
:class:`SingleFileWriter` adds the hidden temporary file that a video is written to and renamed
from. :class:`PngFolderWriter` writes ``frame_00000.png`` ... (and 16-bit ``disparity_00000.png``)
into a hidden folder beside the target and swaps it in whole.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
from torch import Tensor

from viewgen.checks import check_hw, check_min_size, check_shape
from viewgen.errors import one_line  # the one formatter; re-exported for viewgen.io.mp4
from viewgen.io.images import new_file_mode, to_uint8_hwc, write_disparity_png16
from viewgen.io.interrupts import interrupts_deferred
from viewgen.staging import (
    check_file_destination,
    check_replaceable,
    describe_os_error,
    is_read_only,
    publish_folder,
    remove_tree,
    staging_folder,
)

__all__ = ["FrameWriter", "PngFolderWriter", "SingleFileWriter"]

# ---------------------------------------------------------------------------------------------
# Validation helpers


def check_fps(fps, low: float = 0.0, high: float = math.inf, what: str = "fps") -> float:
    """``fps`` as a float in ``(0, high]`` and at least ``low``; ``ValueError`` otherwise."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive number, got {fps!r}") from None
    if not math.isfinite(value) or value <= 0 or not low <= value <= high:
        bounds = f" from {low:g} to {high:g}" if low > 0 or math.isfinite(high) else ""
        raise ValueError(f"{what} must be a positive number{bounds}, got {fps!r}")
    return value


def check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    return check_hw(size)


def _frame_tensor(rgb: Tensor) -> Tensor:
    """``[3, H, W]`` or ``[1, 3, H, W]`` floating tensor -> ``[3, H, W]``."""
    if not isinstance(rgb, Tensor):
        raise TypeError(f"a frame must be a torch.Tensor, got {type(rgb).__name__}")
    check_shape(rgb, [(3, "H", "W"), (1, 3, "H", "W")], "a frame", hint=" (RGB in [0, 1])")
    check_min_size(rgb, 1, "a frame")
    rgb = rgb[0] if rgb.dim() == 4 else rgb
    if not rgb.is_floating_point():
        raise ValueError(f"a frame must be a floating-point tensor in [0, 1], got {rgb.dtype}")
    return rgb


def _disparity_tensor(disparity: Tensor, height: int, width: int) -> Tensor:
    """``[1, H, W]`` or ``[1, 1, H, W]`` matching the frame -> ``[1, H, W]``."""
    if not isinstance(disparity, Tensor):
        raise TypeError(f"disparity must be a torch.Tensor, got {type(disparity).__name__}")
    check_shape(disparity, [(1, "H", "W"), (1, 1, "H", "W")], "disparity", sizes={"H": height, "W": width},
                hint=" (the frame's size)")
    return disparity[0] if disparity.dim() == 4 else disparity


# ---------------------------------------------------------------------------------------------
# The writer base


class FrameWriter:
    """Base of the frame sinks returned by :func:`open_frame_writer`; use it as a context manager.

    Attributes:
        path: the final output (file or folder).
        fps: frames per second.
        size: ``(H, W)`` of the frames, fixed by the first frame when not given.
        save_disparity: whether :meth:`write` needs and stores a disparity map.
    """

    kind = "frames"

    def __init__(self, path: Path, fps: float, size: tuple[int, int] | None, save_disparity: bool) -> None:
        self.path = path
        self.fps = fps
        self.size = size
        self.save_disparity = save_disparity
        self._frames_written = 0
        self._closed = False
        self._result: Path | None = None

    @property
    def frames_written(self) -> int:
        """How many frames :meth:`write` has accepted so far."""
        return self._frames_written

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, rgb: Tensor, disparity: Tensor | None = None) -> None:
        """Append one frame.

        Args:
            rgb: ``[3, H, W]`` or ``[1, 3, H, W]`` float, RGB in [0, 1] (clamped; NaN -> 0).
            disparity: ``[1, H, W]`` or ``[1, 1, H, W]`` in [0, 1]; required when the writer
                saves disparity, ignored otherwise.

        Raises ``ValueError`` for a closed writer, a wrong shape or a size that differs from
        the first frame's (or the ``size`` given), ``OSError`` when the output cannot be written.
        """
        if self._closed:
            raise ValueError(f"cannot write to {self.path}: the frame writer is closed")
        rgb = _frame_tensor(rgb)
        height, width = int(rgb.shape[1]), int(rgb.shape[2])
        if self.size is None:
            self.size = (height, width)
        elif (height, width) != self.size:
            raise ValueError(f"frame {self._frames_written} is {height}x{width}, but this writer's frames are "
                             f"{self.size[0]}x{self.size[1]} (HxW)")
        if self.save_disparity:
            if disparity is None:
                raise ValueError(f"frame {self._frames_written}: save_disparity is on, so write() needs a disparity")
            disparity = _disparity_tensor(disparity, height, width)
        pixels = to_uint8_hwc(rgb)
        with interrupts_deferred():  # a Ctrl-C comes after the frame is written and counted, not inside
            self._write_frame(pixels, disparity if self.save_disparity else None)
            self._frames_written += 1

    def close(self) -> Path | None:
        """Finalise the output: returns ``path``, or ``None`` when no frame was written (no output).

        Idempotent. On failure it removes its temporary file and raises ``OSError``.
        """
        if self._closed:
            return self._result
        self._closed = True
        try:
            if self._frames_written:
                self._finalise()
                self._result = self.path
            else:
                self._discard()
        except BaseException:
            self._discard()
            raise
        return self._result

    def discard(self) -> None:
        """Stop and drop what was written: no output is published, an existing one is left as it was.

        Idempotent; never raises. After :meth:`close` it does nothing.
        """
        if not self._closed:
            self._closed = True
            self._discard()

    def abort(self) -> Path | None:
        """Stop early, keeping what was written: like :meth:`close`, but never raises ``Exception``.

        Finalises the frames written so far (if any) and returns ``path``; if that fails, warns,
        cleans up and returns ``None``.
        """
        try:
            return self.close()
        except Exception as error:
            warnings.warn(f"could not save the frames written so far to {self.path}: {one_line(error)}",
                          RuntimeWarning, stacklevel=2)
            return None

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C or SIGTERM: keep the frames done so far
            self.abort()
        else:  # an error: the partial result must not replace a complete one
            self.discard()
        return False

    def __del__(self) -> None:  # a writer dropped without close(): leave no temporary files
        try:
            if not self._closed:
                self._closed = True
                self._discard()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({str(self.path)!r}, fps={self.fps:g}, frames={self._frames_written}, {state})"

    # subclass hooks
    def _write_frame(self, frame: np.ndarray, disparity: Tensor | None) -> None:
        raise NotImplementedError

    def _finalise(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        """Best-effort cleanup; must be idempotent and not raise."""


# ---------------------------------------------------------------------------------------------
# Single-file outputs (mp4, gif): a temporary file renamed on success


def make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot create the folder for {path}: {describe_os_error(error)}") from None
    if not path.parent.is_dir():
        raise OSError(f"cannot write {path}: {path.parent} is not a folder")


class SingleFileWriter(FrameWriter):
    suffix = ""

    def __init__(self, path: Path, fps: float, size, save_disparity: bool) -> None:
        super().__init__(path, fps, size, save_disparity)
        self._temporary: Path | None = None
        self._target = self.check_destination(path)
        make_parent(self._target)
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".partial{self.suffix}",
                                                 dir=self._target.parent)
        except OSError as error:
            raise OSError(f"cannot write {path}: {describe_os_error(error)}") from None
        os.close(handle)
        self._temporary = Path(temporary)
        try:
            os.chmod(temporary, new_file_mode())
        except OSError:
            pass

    @staticmethod
    def check_destination(path: Path) -> Path:
        """The file to replace (a link's target); ``OSError`` if it is read-only. No side effects."""
        return check_file_destination(path)

    def _publish(self) -> None:
        try:
            os.replace(self._temporary, self._target)
        except OSError as error:
            raise OSError(f"cannot write {self.path}: {describe_os_error(error)}") from None
        self._temporary = None

    def _remove_temporary(self) -> None:
        if self._temporary is not None:
            try:
                self._temporary.unlink(missing_ok=True)
            except OSError:
                pass
            self._temporary = None


# --------------------------------------------------------------------------------- png folder

_NUMBERED = re.compile(r"(frame|disparity)_(\d+)\.png")
_FOLDER_HINT = "choose a new or empty folder, or move those files away"


CAMERAS_FILE = "cameras.json"  # a PNG flight's cameras (viewgen.io.world_record), which viewgen export-world reads


def is_frame_file(entry: Path) -> bool:
    """True for ``frame_NNNNN.png`` / ``disparity_NNNNN.png`` files and the flight's ``cameras.json``, the only ones
    a PNG output replaces."""
    named = _NUMBERED.fullmatch(entry.name) is not None or entry.name == CAMERAS_FILE
    return named and entry.is_file() and not entry.is_symlink()


class PngFolderWriter(FrameWriter):
    """PNG frames written into a hidden folder beside ``path`` and swapped in whole by :meth:`close`.

    An existing ``path`` may hold only frames of an earlier flight (``frame_*.png``,
    ``disparity_*.png``, ``cameras.json``): they are replaced as a unit. Any other content is refused up front,
    so that no file of the user's is deleted.
    """

    kind = "png"

    def __init__(self, path: Path, fps: float, size, save_disparity: bool) -> None:
        super().__init__(path, fps, size, save_disparity)
        self._staging: Path | None = None
        self._target = self.check_destination(path)
        make_parent(self._target)
        self._staging = staging_folder(self._target)

    @staticmethod
    def check_destination(path: Path) -> Path:
        """The folder to replace (a link's target); ``OSError`` if it is read-only or holds other files.

        No side effects: callers can check before any work.
        """
        target = Path(os.path.realpath(path))  # a link to a folder: replace the folder it names
        here = Path(os.path.realpath("."))
        if target == here or target in here.parents:  # it is replaced, not written into
            raise OSError(f"cannot write PNG frames to {path}: it is the current folder (or holds it), which the "
                          f"finished frames would replace; give a subfolder, e.g. --out frames/")
        check_replaceable(target, is_frame_file, "PNG frames of a flight", _FOLDER_HINT)
        if target.is_dir() and is_read_only(target):
            raise OSError(f"will not replace the frames in {path}: the folder is read-only; make it writable "
                          f"or choose another folder")
        return target

    def frame_path(self, index: int) -> Path:
        return self.path / f"frame_{index:05d}.png"

    def write_cameras(self, cam_from_world: Tensor, intrinsics: Tensor) -> None:
        """Write ``cameras.json`` beside the frames: every written frame's ``cam_from_world [N, 3, 4]`` and
        normalized ``intrinsics [N, 4]`` (:func:`~viewgen.io.world_record.cameras_json_payload`), so that the
        folder is a flight record ``viewgen export-world`` reads. Call it before :meth:`close`."""
        from viewgen.io.world_record import cameras_json_payload, json_text

        if self._staging is None:
            raise ValueError(f"cannot write cameras to {self.path}: no frame was written, or it is closed")
        text = json_text(cameras_json_payload(cam_from_world, intrinsics, fps=self.fps)) + "\n"
        try:
            (self._staging / CAMERAS_FILE).write_text(text)
        except OSError as error:
            raise OSError(f"cannot write {CAMERAS_FILE} to {self.path}: {describe_os_error(error)}") from None

    def disparity_path(self, index: int) -> Path:
        return self.path / f"disparity_{index:05d}.png"

    def _write_frame(self, frame: np.ndarray, disparity: Tensor | None) -> None:
        from PIL import Image

        index = self._frames_written
        try:
            Image.fromarray(frame).save(self._staging / self.frame_path(index).name, format="PNG")
            if disparity is not None:
                write_disparity_png16(self._staging / self.disparity_path(index).name, disparity)
        except OSError as error:
            raise OSError(f"cannot write frame {index} to {self.path}: {describe_os_error(error)}") from None

    def _finalise(self) -> None:
        self.check_destination(self.path)  # again: files may have been put there during the flight
        publish_folder(self._staging, self._target)
        self._staging = None

    def _discard(self) -> None:
        staging, self._staging = self._staging, None
        remove_tree(staging)
