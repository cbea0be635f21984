"""Frames on the wire: the binary frame message and the window of frames the page has not drawn.

One binary WebSocket message per frame::

    uint32 big-endian n | n bytes of JSON header | RGB JPEG | disparity JPEG (optional)

Flow control: every frame carries a sequence number ``seq`` (1, 2, 3, ... per session). The
page answers ``{"type": "ack", "seq": s}`` once it has *drawn* frame ``s``; an ack also
covers every earlier frame. :class:`FrameWindow` keeps the sequence numbers sent and not yet
acknowledged; the session generates only while fewer than ``capacity`` are open, so a slow
page (or one that stopped drawing) holds at most ``capacity`` frames in the socket, and acks
for frames never sent or already acknowledged change nothing.
"""

from __future__ import annotations

import json
import struct
from collections import deque

__all__ = ["FrameWindow", "pack_frame", "unpack_frame"]


def pack_frame(header: dict, rgb_jpeg: bytes, disparity_jpeg: bytes | None = None) -> bytes:
    """One binary frame message (see the module docstring)."""
    header = {**header, "rgb_bytes": len(rgb_jpeg), "disparity_bytes": len(disparity_jpeg or b"")}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(encoded)) + encoded + rgb_jpeg + (disparity_jpeg or b"")


def unpack_frame(message: bytes) -> tuple[dict, bytes, bytes]:
    """Inverse of :func:`pack_frame` -> ``(header, rgb_jpeg, disparity_jpeg)`` (for tests and clients)."""
    (length,) = struct.unpack(">I", message[:4])
    header = json.loads(message[4:4 + length].decode("utf-8"))
    start = 4 + length
    rgb = message[start:start + header["rgb_bytes"]]
    disparity = message[start + header["rgb_bytes"]:start + header["rgb_bytes"] + header["disparity_bytes"]]
    return header, rgb, disparity


class FrameWindow:
    """Sequence numbers of the frames sent and not yet drawn by the page, at most ``capacity`` wanted."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the frame window needs room for at least one frame, got {capacity}")
        self.capacity = capacity
        self._next_seq = 1
        self._open: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._open)

    def has_room(self) -> bool:
        return len(self._open) < self.capacity

    def open(self) -> int:
        """The sequence number of a frame about to be sent (now counted as in flight)."""
        seq = self._next_seq
        self._next_seq += 1
        self._open.append(seq)
        return seq

    def ack(self, seq: int) -> bool:
        """The page drew frame ``seq`` (and so every earlier one); False when ``seq`` is not open."""
        if seq not in self._open:
            return False
        while self._open and self._open[0] <= seq:
            self._open.popleft()
        return True
