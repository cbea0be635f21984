"""The ``.mp4`` sink: H.264 / yuv420p through the ffmpeg binary that imageio-ffmpeg ships.

Frames are piped to ffmpeg as raw ``rgb24`` one by one (nothing is buffered here), converted
with the BT.709 matrix to limited-range ``yuv420p`` and tagged BT.709, encoded by libx264
(``-crf 18 -preset medium`` by default) with ``+faststart`` so browsers can start playing before
the whole file has arrived. Odd heights / widths are padded by repeating the last row / column.
ffmpeg runs in its own session (process group), so a terminal Ctrl-C reaches only Python, which
then closes ffmpeg's input to finalise the frames written so far.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from torch import Tensor

from viewgen.errors import ViewgenRuntimeError
from viewgen.io.frame_writer import SingleFileWriter, one_line
from viewgen.staging import describe_os_error

__all__ = ["DEFAULT_CRF", "FPS_RANGE", "Mp4Writer"]

DEFAULT_CRF = 18
FPS_RANGE = (0.01, 1000.0)  # ffmpeg's mp4 muxer fails on 1e-5 fps (durations overflow); 0.01 is safe
# causes worth naming when ffmpeg reports several lines (the last one is often a generic summary)
_CAUSES = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS,
                                                errno.EACCES, errno.EIO))
_FFMPEG_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")


@functools.lru_cache(maxsize=1)
def _ffmpeg() -> tuple[str, str]:
    """(ffmpeg executable, H.264 encoder name); ``RuntimeError`` when unavailable."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ViewgenRuntimeError("writing .mp4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                                  "or write a .gif or a folder of PNGs") from None
    try:
        executable = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as error:
        raise ViewgenRuntimeError(f"writing .mp4 needs ffmpeg: {one_line(error)}") from None
    try:
        listing = subprocess.run([executable, "-hide_banner", "-encoders"], stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ViewgenRuntimeError(f"cannot run ffmpeg ({executable}): {one_line(error)}") from None
    encoders = {parts[1] for parts in (line.split() for line in listing.splitlines()) if len(parts) > 1}
    for encoder in ("libx264", "libopenh264", "h264_videotoolbox", "h264_mf", "h264_nvenc", "h264_qsv", "h264_vaapi"):
        if encoder in encoders:
            return executable, encoder
    raise ViewgenRuntimeError(f"the ffmpeg at {executable} has no H.264 encoder; "
                              "write a .gif or a folder of PNGs instead")


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column so that height and width are even (yuv420p needs it)."""
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


class Mp4Writer(SingleFileWriter):
    kind = "mp4"
    suffix = ".mp4"

    def __init__(self, path: Path, fps: float, size, save_disparity: bool, crf: int = DEFAULT_CRF) -> None:
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._ffmpeg = _ffmpeg()  # fail before touching the disk when ffmpeg is missing
        if not 0 <= int(crf) <= 51:
            raise ValueError(f"crf must lie in [0, 51] (lower is better quality), got {crf}")
        self.crf = int(crf)
        super().__init__(path, fps, size, save_disparity)

    def _command(self, height: int, width: int) -> list[str]:
        executable, encoder = self._ffmpeg
        rate = Fraction(self.fps).limit_denominator(100_000)
        quality = ["-crf", str(self.crf), "-preset", "medium"] if encoder == "libx264" else ["-b:v", "8M"]
        return [executable, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(rate), "-i", "pipe:0",
                "-an", "-c:v", encoder, *quality,
                "-vf", "scale=out_color_matrix=bt709:out_range=tv,"
                       "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv",
                "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", "-f", "mp4", str(self._temporary)]

    def _start(self, height: int, width: int) -> None:
        try:
            self._stderr = tempfile.TemporaryFile()
        except OSError as error:
            raise OSError(f"cannot write {self.path}: no room for ffmpeg's messages in the temporary "
                          f"folder ({describe_os_error(error)})") from None
        isolate = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform.startswith("win")
                   else {"start_new_session": True})  # keep the terminal's Ctrl-C away from ffmpeg
        try:
            self._process = subprocess.Popen(self._command(height, width), stdin=subprocess.PIPE,
                                             stdout=subprocess.DEVNULL, stderr=self._stderr, **isolate)
        except OSError as error:
            raise OSError(f"cannot start ffmpeg to write {self.path}: {one_line(error)}") from None

    def _ffmpeg_error(self) -> str:
        """ffmpeg's reason in one line: a system cause (disk full, ...) if it names one, else its last line.

        Its ``[mp4 @ 0x...]`` prefixes are dropped and the hidden file's name becomes the output's.
        """
        lines = []
        if self._stderr is not None:
            try:
                self._stderr.seek(0)
                lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            except (OSError, ValueError):
                pass
        for cause in _CAUSES:
            if any(cause in line for line in lines):
                return cause
        message = _FFMPEG_CONTEXT.sub("", lines[-1].strip()) if lines else ""
        if self._temporary is not None:
            message = message.replace(str(self._temporary), str(self.path))
        code = self._process.returncode if self._process is not None else None
        return message or f"exit status {code}"

    def _write_frame(self, frame: np.ndarray, disparity: Tensor | None) -> None:
        frame = _pad_to_even(frame)
        if self._process is None:
            self._start(*frame.shape[:2])
        try:
            self._process.stdin.write(frame.tobytes())
        except (BrokenPipeError, ValueError, OSError):
            self._process.wait()
            raise OSError(f"ffmpeg stopped while writing {self.path}: {self._ffmpeg_error()}") from None

    def _finalise(self) -> None:
        try:
            self._process.stdin.close()
        except OSError:
            pass  # a dead ffmpeg shows up in the exit status below
        if self._process.wait() != 0:
            raise OSError(f"ffmpeg failed to write {self.path}: {self._ffmpeg_error()}")
        self._process = None
        self._close_stderr()
        self._publish()

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            try:
                self._stderr.close()
            except OSError:
                pass
            self._stderr = None

    def _discard(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                process.kill()
                process.wait()
            except OSError:
                pass
        if process is not None and process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
        self._close_stderr()
        self._remove_temporary()
