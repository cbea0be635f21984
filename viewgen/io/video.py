"""Frame sinks: stream frames into an ``.mp4``, a looping ``.gif`` or a folder of PNGs.

:func:`open_frame_writer` picks the sink from the output path:

* ``*.mp4``: H.264 (libx264, ``-crf 18 -preset medium``), ``yuv420p``, ``+faststart``, BT.709
  tagged, encoded by the ffmpeg binary that ``imageio-ffmpeg`` ships. Frames are piped to ffmpeg
  one by one, never held in memory. ``yuv420p`` needs an even width and height: odd sizes are
  padded by one row / column, repeating the last one (the video is then ``H + H % 2`` by
  ``W + W % 2``; nothing is resized).
* ``*.gif``: looping forever, one 256-color palette per frame (median cut, no dithering, so
  still areas do not flicker), frame delay ``round(100 / fps)`` hundredths of a second (at least
  2: browsers slow 0-1 cs delays down to 10 cs, so fps above 50 plays at 50). Streamed: each
  frame is encoded and appended to the file as it arrives.
* a folder (a path ending in ``/``, an existing folder, or a path without a suffix): PNG frames
  ``frame_00000.png``, ``frame_00001.png``, ... and, with ``save_disparity``, 16-bit disparity
  PNGs ``disparity_00000.png`` ... holding ``round(d * 65535)`` (see
  :func:`viewgen.io.images.read_disparity_png16`).

Any other suffix raises ``ValueError`` naming the supported ones; so does a frame rate the
encoder cannot store (``.mp4`` and ``.gif``: 0.01 to 1000 fps). Missing parent folders are created.

Outputs are published whole, never mixed. A video is written to a hidden temporary file beside
the destination (``.NAME.XXXX.partial.mp4``) and renamed onto ``path`` when finalised. PNG frames
are written into a hidden folder beside the destination (``.NAME.XXXX.partial``) that replaces
the destination as a unit when finalised (atomically on Linux); an existing destination folder
may hold only ``frame_*.png`` / ``disparity_*.png`` (its old sequence, replaced entirely),
anything else is refused before a frame is written, so no file of the user's is deleted. A
read-only destination is refused too.

Closing: ``close()`` (or leaving the ``with`` block normally) publishes the frames written, if
any; ``discard()`` (or leaving the ``with`` block through an exception) drops them and leaves an
existing output untouched; ``abort()`` (or leaving the ``with`` block through
``KeyboardInterrupt``: Ctrl-C, or SIGTERM as the CLI maps it) publishes the frames done so far.
No output is made without a frame, and no temporary file is left behind either way. ffmpeg runs
in its own process group, so a Ctrl-C in the terminal reaches Python only and the video can
still be finalised.
"""

from __future__ import annotations

import os
from pathlib import Path

from viewgen.io import gif, mp4
from viewgen.io.frame_writer import FrameWriter, PngFolderWriter, SingleFileWriter, check_fps, check_size
from viewgen.io.gif import GifWriter
from viewgen.io.mp4 import DEFAULT_CRF, Mp4Writer

__all__ = ["SUPPORTED_OUTPUTS", "FrameWriter", "check_output", "open_frame_writer", "output_kind"]
_FPS_RANGES = {"mp4": mp4.FPS_RANGE, "gif": gif.FPS_RANGE}

SUPPORTED_OUTPUTS = ".mp4, .gif, or a directory (ending in /) for PNG frames"


# ---------------------------------------------------------------------------------------------


def _is_directory_target(raw: str, path: Path) -> bool:
    return raw.endswith(("/", os.sep)) or path.is_dir() or path.suffix == ""


def output_kind(path: str | os.PathLike, save_disparity: bool = False) -> str:
    """``"png"`` (a folder), ``"mp4"`` or ``"gif"`` for an output path; ``ValueError`` if unsupported.

    Cheap and side-effect free, so callers can refuse a bad ``--out`` before any work.
    """
    raw = os.fspath(path)
    if not raw:
        raise ValueError(f"an output path is needed: {SUPPORTED_OUTPUTS}")
    target = Path(raw).expanduser()
    suffix = target.suffix.lower()
    named_folder = raw.endswith(("/", os.sep))
    if suffix in (".mp4", ".gif") and target.is_dir() and not named_folder:  # a video name, a folder there
        raise ValueError(f"{raw} is an existing folder: give a new file name for the {suffix[1:]}, or "
                         f"--out {raw}/ to write PNG frames into that folder")
    if _is_directory_target(raw, target):
        return "png"
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported output {target.name!r}: expected {SUPPORTED_OUTPUTS}")
    if save_disparity:
        raise ValueError(f"saving disparity needs a folder output (PNG frames), not {suffix}; "
                         f"e.g. --out {target.with_suffix('')}/")
    return suffix[1:]


def check_output(path: str | os.PathLike, fps: float, save_disparity: bool = False, what: str = "fps") -> str:
    """:func:`output_kind`, the frame rates that kind can store, and whether the destination may be replaced.

    Cheap and side-effect free: call it before any work. Returns the kind. Raises ``ValueError``
    (naming ``what`` for the frame rate) or ``OSError`` (a read-only destination, a folder that
    holds other files) as :func:`open_frame_writer` would.
    """
    kind = output_kind(path, save_disparity)
    writer_class = PngFolderWriter if kind == "png" else SingleFileWriter
    writer_class.check_destination(Path(os.fspath(path)).expanduser())
    if kind in _FPS_RANGES:
        check_fps(fps, *_FPS_RANGES[kind], what=f"{what} of a .{kind}")
    else:
        check_fps(fps, what=what)
    return kind


def open_frame_writer(path: str | os.PathLike, fps: float, size: tuple[int, int] | None = None,
                      save_disparity: bool = False, *, crf: int = DEFAULT_CRF) -> FrameWriter:
    """Open a frame sink chosen by ``path`` (see the module doc): ``.mp4``, ``.gif`` or a folder.

    Args:
        path: ``*.mp4``, ``*.gif``, or a folder (ends in ``/``, exists, or has no suffix).
        fps: frames per second (> 0).
        size: ``(H, W)`` of the frames; when ``None`` the first frame fixes it.
        save_disparity: also store each frame's disparity as a 16-bit PNG; only a folder output
            can, so this raises ``ValueError`` for ``.mp4`` / ``.gif``.
        crf: H.264 constant rate factor for ``.mp4`` (0 lossless ... 51 worst; 18 looks
            visually lossless). Ignored by the other sinks.

    Returns a :class:`FrameWriter`; use it as a context manager (it publishes on a normal exit,
    keeps the frames done before a ``KeyboardInterrupt``, and discards them on any other
    exception). Raises ``ValueError`` for an unsupported suffix, a frame rate the kind cannot
    store or bad arguments, ``OSError`` for a destination that is read-only or a folder holding
    other files, ``OSError`` when the destination cannot be written, and
    ``RuntimeError`` when ``.mp4`` is asked for without ffmpeg.
    """
    kind = check_output(path, fps, save_disparity)
    target = Path(os.fspath(path)).expanduser()
    fps = float(fps)
    size = check_size(size)
    if kind == "png":
        return PngFolderWriter(target, fps, size, bool(save_disparity))
    if kind == "mp4":
        return Mp4Writer(target, fps, size, False, crf=crf)
    return GifWriter(target, fps, size, False)
