"""``POST /api/sessions/{id}/upload``: read the request, build the depth backend, start the flight.

The checks on the bytes themselves live in :mod:`viewgen.server.uploads` (no web framework
there). Order matters for the user: a refused file leaves the flight untouched; an accepted
one pauses it at once (a Play pressed meanwhile is kept), then the depth backend is built if
this is the first upload (the page gets ``progress`` messages every half second: the weights
downloaded so far, then "loading"), the depth is estimated and the new flight starts.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from viewgen.errors import one_line as _one_line
from viewgen.server.depth import DepthUnavailable, LazyDepth
from viewgen.server.sessions import FlightSource, Session, SessionClosed
from viewgen.server.uploads import UploadError, decode_upload, format_bytes, frame_rgb, rgbd_from_upload

__all__ = ["UploadContext", "run_upload"]

MULTIPART_OVERHEAD = 64 * 1024  # room for multipart boundaries and part headers
PROGRESS_PERIOD_S = 0.5
NO_DEPTH = ("Uploads are off: this server has no depth backend. Start viewgen serve with --depth NAME "
            "(e.g. --depth midas-v21 after `viewgen download midas-v21`).")


@dataclass
class UploadContext:
    """What the upload route needs from the app."""

    depth: LazyDepth | None
    in_worker: Callable[..., Awaitable]
    max_bytes: int
    max_pixels: int
    depth_max_side: int
    depth_lock: threading.Lock

    def availability(self) -> tuple[bool, str | None]:
        """``(uploads possible, note for the page)``."""
        return (False, NO_DEPTH) if self.depth is None else self.depth.availability()


async def run_upload(request: Request, session: Session, context: UploadContext) -> dict:
    """Answer an upload: ``{"ok", "name", "width", "height"}``; raises :class:`UploadError`."""
    possible, note = context.availability()
    if not possible:
        raise UploadError(note or NO_DEPTH, 503)
    data, filename = await read_upload(request, context.max_bytes)
    rgb = await context.in_worker(functools.partial(decode_upload, data, max_bytes=context.max_bytes,
                                                    max_pixels=context.max_pixels))
    del data
    epoch = session.begin_load()
    try:
        await session.send_json(session.state_message())
        estimate = await _depth_with_progress(session, context)
        size = await session.input_size()
        for_depth, for_flight = await context.in_worker(frame_rgb, rgb, size, context.depth_max_side)

        def estimate_serialised():
            with context.depth_lock:
                return rgbd_from_upload(for_depth, for_flight, estimate)

        try:
            rgbd = await context.in_worker(estimate_serialised)
        except UploadError:
            raise
        except Exception as error:  # noqa: BLE001 - the backend's failure, told to the page
            raise UploadError(f"Depth estimation failed: {_one_line(error)}", 500) from error
        if session.closed:
            raise SessionClosed("closed during the upload")
        await session.start_flight(FlightSource(rgbd, None, filename), epoch)
    finally:
        session.end_load()
        session.manager.note_work()
    height, width = rgb.shape[:2]
    return {"ok": True, "name": filename, "width": width, "height": height}


async def _depth_with_progress(session: Session, context: UploadContext):
    """The depth backend's ``image -> disparity``, built now if needed while the page sees progress."""
    depth = context.depth
    if depth.is_ready:
        return depth.load()
    building = asyncio.ensure_future(context.in_worker(depth.load))
    while True:
        await session.send_json({"type": "progress", "message": depth.progress_text()})
        done, _ = await asyncio.wait({building}, timeout=PROGRESS_PERIOD_S)
        if done:
            break
    try:
        return building.result()
    except DepthUnavailable as error:
        raise UploadError(str(error), 503) from error


async def read_upload(request: Request, max_bytes: int) -> tuple[bytes, str]:
    """The uploaded file's bytes and a display name; 413 past ``max_bytes`` (checked while reading)."""
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    limit = max_bytes + (MULTIPART_OVERHEAD if multipart else 0)
    too_big = UploadError(f"The file is larger than the {format_bytes(max_bytes)} limit.", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    body = b"".join(chunks)
    name = request.query_params.get("name") or request.headers.get("x-filename") or "upload"
    if multipart:
        body, part_name = await _multipart_file(request, body)
        name = part_name or name
        if len(body) > max_bytes:
            raise too_big
    if not body:
        raise UploadError("The upload is empty: choose a PNG or JPEG image.", 400)
    return body, display_name(name)


async def _multipart_file(request: Request, body: bytes) -> tuple[bytes, str | None]:
    try:
        from starlette.datastructures import UploadFile
        from starlette.formparsers import MultiPartException, MultiPartParser
    except ImportError as error:  # pragma: no cover - python-multipart missing
        raise UploadError("Multipart uploads need python-multipart; send the raw image bytes instead.", 415) from error

    async def stream():
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=8).parse()
    except (MultiPartException, AssertionError, ValueError) as error:
        raise UploadError("The multipart upload could not be read: send one file in a multipart/form-data "
                          "body, or the raw image bytes.", 400) from error
    try:
        for _key, value in form.multi_items():
            if isinstance(value, UploadFile):
                return await value.read(), value.filename
    finally:
        await form.close()
    raise UploadError("The multipart upload holds no file.", 400)


def display_name(name: str) -> str:
    """A file name fit to show: the last path part, printable characters, at most 80."""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:80] or "upload"
