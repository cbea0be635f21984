"""The ``.gif`` sink, streamed: every frame is quantised and appended to the file as it arrives.

The file loops forever; each frame has its own 256-color palette (median cut, no dithering,
so still areas do not flicker) and a delay of ``round(100 / fps)`` hundredths of a second, at
least 2 (browsers slow 0-1 cs delays down to 10 cs, so fps above 50 plays at 50). Pillow
encodes each frame as a one-frame GIF; its color table and LZW data are cut out and written
behind our own header, so memory use does not grow with the number of frames.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
from torch import Tensor

from viewgen.errors import ViewgenRuntimeError
from viewgen.io.frame_writer import SingleFileWriter
from viewgen.staging import describe_os_error

__all__ = ["FPS_RANGE", "GifWriter"]

FPS_RANGE = (0.01, 1000.0)  # a frame delay of at most 655.35 s fits the 16-bit field; above 50 plays at 50


def _gif_delay_cs(fps: float) -> int:
    return min(65535, max(2, round(100.0 / fps)))


def _gif_frame(frame: np.ndarray) -> tuple[bytes, int, int, bytes]:
    """Quantise an ``[H, W, 3]`` uint8 frame.

    Returns (color table, its size bits, interlace flag 0 or 0x40, LZW image data).

    Pillow encodes a one-frame GIF; its color table and compressed image data are cut out so
    that frames can be appended to the file one at a time, each with its own (local) table.
    """
    from PIL import Image

    image = Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = BytesIO()
    image.save(buffer, format="GIF", interlace=False)
    data = buffer.getvalue()
    if data[:3] != b"GIF":
        raise ViewgenRuntimeError("Pillow wrote an unexpected GIF")
    packed = data[10]
    position = 13
    table, bits = b"", 0
    if packed & 0x80:
        bits = packed & 0x07
        table = data[position:position + 3 * (2 << bits)]
        position += len(table)
    while data[position] == 0x21:  # extensions: introducer, label, sub-blocks up to a 0 byte
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    if data[position] != 0x2C:
        raise ViewgenRuntimeError("Pillow wrote an unexpected GIF (no image descriptor)")
    descriptor_flags = data[position + 9]
    position += 10
    if descriptor_flags & 0x80:  # a local table overrides the global one
        bits = descriptor_flags & 0x07
        table = data[position:position + 3 * (2 << bits)]
        position += len(table)
    start = position
    position += 1  # LZW minimum code size
    while data[position]:
        position += data[position] + 1
    return table, bits, descriptor_flags & 0x40, data[start:position + 1]


class GifWriter(SingleFileWriter):
    kind = "gif"
    suffix = ".gif"

    def __init__(self, path: Path, fps: float, size, save_disparity: bool) -> None:
        self._stream = None
        super().__init__(path, fps, size, save_disparity)
        try:
            self._stream = open(self._temporary, "wb")
        except OSError as error:
            self._remove_temporary()
            raise OSError(f"cannot write {path}: {describe_os_error(error)}") from None
        self.delay_cs = _gif_delay_cs(fps)
        self._complete = 0  # file length after the last complete frame

    def _write_frame(self, frame: np.ndarray, disparity: Tensor | None) -> None:
        height, width = frame.shape[:2]
        if height > 65535 or width > 65535:
            raise ValueError(f"a GIF frame can be at most 65535x65535, got {height}x{width}")
        table, bits, interlace, image_data = _gif_frame(frame)
        chunks = []
        if self._frames_written == 0:
            size = width.to_bytes(2, "little") + height.to_bytes(2, "little")
            chunks += [b"GIF89a", size, bytes([0x80 | 0x70 | bits, 0, 0]), table,
                       b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"]  # loop forever
        # graphic control: disposal 1 (keep), delay; image descriptor with a local color table
        chunks += [b"\x21\xf9\x04\x04", self.delay_cs.to_bytes(2, "little"), b"\x00\x00",
                   b"\x2c\x00\x00\x00\x00", width.to_bytes(2, "little"), height.to_bytes(2, "little"),
                   bytes([0x80 | interlace | bits]), table, image_data]
        try:
            self._stream.write(b"".join(chunks))
            self._complete = self._stream.tell()
        except OSError as error:
            raise OSError(f"cannot write {self.path}: {describe_os_error(error)}") from None

    def _finalise(self) -> None:
        try:  # drop a frame cut short (by Ctrl-C or a full disk), then end the file
            self._stream.seek(self._complete)
            self._stream.truncate()
            self._stream.write(b"\x3b")
            self._stream.close()
        except OSError as error:
            raise OSError(f"cannot write {self.path}: {describe_os_error(error)}") from None
        self._stream = None
        self._publish()

    def _discard(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
        self._remove_temporary()
