"""Frame sinks: stream frames into an ``.mp4``, a looping ``.gif`` or a folder of PNGs.

:func:`open_frame_writer` picks the sink from the output path:

* ``*.mp4``: H.264 (libx264, ``-crf 18 -preset medium``), ``yuv420p``, ``+faststart``, BT.709
  tagged, encoded by the ffmpeg binary that ``imageio-ffmpeg`` ships. Frames are piped to ffmpeg
  one by one, never held in memory. ``yuv420p`` needs an even width and height: odd sizes are
  padded by one row / column, repeating the last one (the video is then ``H + H % 2`` by
  ``W + W % 2``; nothing is resized).
* ``*.gif``: looping forever, one 256-colour palette per frame (median cut, no dithering, so
  still areas do not flicker), frame delay ``round(100 / fps)`` hundredths of a second (at least
  2: browsers slow 0-1 cs delays down to 10 cs, so fps above 50 plays at 50). Streamed: each
  frame is encoded and appended to the file as it arrives.
* a folder (a path ending in ``/``, an existing folder, or a path without a suffix): PNG frames
  ``frame_00000.png``, ``frame_00001.png``, ... and, with ``save_disparity``, 16-bit disparity
  PNGs ``disparity_00000.png`` ... holding ``round(d * 65535)`` (see
  :func:`viewgen.io.images.read_disparity_png16`). On close, stale ``frame_*.png`` (and, when
  saving disparity, ``disparity_*.png``) left by an earlier, longer run with an index past the
  last frame written are removed, so the folder holds exactly one sequence.

Any other suffix raises ``ValueError`` naming the supported ones. Missing parent folders are
created.

Atomicity: a video is written to a hidden temporary file beside the destination
(``.NAME.XXXX.partial.mp4``) and renamed onto ``path`` only when finalised, so an existing
file at ``path`` survives any failure before that; every PNG is written to a temporary file and
renamed too. Closing (``close()``, ``abort()``, or leaving the ``with`` block, also through an
exception or Ctrl-C) finalises what was written so far when at least one frame was written
(the CLI relies on this to keep the frames done before a Ctrl-C), and otherwise removes the
temporary file and leaves no output. No temporary file is left behind either way. ffmpeg runs
in its own process group, so a Ctrl-C in the terminal reaches Python only and the video can
still be finalised.
"""

from __future__ import annotations

import os
from pathlib import Path

from viewgen.io.frame_writer import FrameWriter, PngFolderWriter, check_fps, check_size
from viewgen.io.gif import GifWriter
from viewgen.io.mp4 import DEFAULT_CRF, Mp4Writer

__all__ = ["SUPPORTED_OUTPUTS", "FrameWriter", "open_frame_writer", "output_kind"]

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
    if _is_directory_target(raw, target):
        return "png"
    suffix = target.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported output {target.name!r}: expected {SUPPORTED_OUTPUTS}")
    if save_disparity:
        raise ValueError(f"saving disparity needs a folder output (PNG frames), not {suffix}; "
                         f"e.g. --out {target.with_suffix('')}/")
    return suffix[1:]


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

    Returns a :class:`FrameWriter`; use it as a context manager (it finalises on exit, keeping
    the frames written before an exception or Ctrl-C). Raises ``ValueError`` for an unsupported
    suffix or bad arguments, ``OSError`` when the destination cannot be written, and
    ``RuntimeError`` when ``.mp4`` is asked for without ffmpeg.
    """
    kind = output_kind(path, save_disparity)
    target = Path(os.fspath(path)).expanduser()
    fps = check_fps(fps)
    size = check_size(size)
    if kind == "png":
        return PngFolderWriter(target, fps, size, bool(save_disparity))
    if kind == "mp4":
        return Mp4Writer(target, fps, size, False, crf=crf)
    return GifWriter(target, fps, size, False)
