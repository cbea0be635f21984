"""The web demo: a FastAPI app that streams a fly-through to a page, one flight per tab.

Routes:

* ``GET /``: the page (``static/index.html``, plain HTML/CSS/JS, no build step);
  ``/static/...`` its script and style.
* ``WS /ws``: one session per connection (see :mod:`viewgen.server.sessions` for the
  messages). When ``max_sessions`` are open, the page gets a ``busy`` message and the socket
  is closed with code 1013 (try again later); a session without user input for
  ``idle_timeout_s`` gets ``expired`` and code 4000. Closing the socket frees the session.
* ``POST /api/sessions/{id}/upload``: a PNG/JPEG photo (the raw bytes, or multipart with one
  file); its disparity comes from the ``depth_estimator`` and the session's flight restarts
  from it. Errors are ``{"detail": message}`` with 4xx/5xx.
* ``GET /api/sessions/{id}/flight.mp4``: the flight so far (the last ``max_kept_frames``
  frames since the last load) as H.264 MP4.
* ``GET /api/status``: open sessions and limits.

Everything slow (pipelines, depth, decoding, encoding) runs on a thread pool, never on the
event loop. Requests whose ``Origin`` is another site are refused, so other web pages open in
the same browser cannot drive the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from viewgen.server.sessions import (
    CommandError,
    FlightSource,
    Session,
    SessionClosed,
    SessionManager,
    SessionSettings,
)
from viewgen.server.uploads import UploadError, decode_upload, format_bytes, frame_rgb, rgbd_from_upload

__all__ = ["create_app", "default_samples", "depth_callable"]

DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000
MULTIPART_OVERHEAD = 64 * 1024  # room for multipart boundaries and part headers
MAX_COMMAND_CHARS = 4096
BUSY_CLOSE_CODE, IDLE_CLOSE_CODE, POLICY_CLOSE_CODE = 1013, 4000, 1008

DepthEstimator = Callable[[Any], Any]


def default_samples() -> dict[str, Callable[[], Any]]:
    """The embedded samples of :mod:`viewgen.data.samples` as ``{name: loader}`` (empty if unavailable)."""
    try:
        from viewgen.data.samples import SAMPLE_NAMES, load_sample
    except ImportError:
        return {}
    return {name: functools.partial(load_sample, index + 1) for index, name in enumerate(SAMPLE_NAMES)}


def depth_callable(estimator) -> DepthEstimator | None:
    """A depth backend as ``image [1, 3, H, W] -> disparity [1, 1, H, W]``.

    Accepts a callable or an object with ``.estimate(image)``; ``None`` stays ``None`` (no uploads).
    """
    if estimator is None:
        return None
    estimate = getattr(estimator, "estimate", None)
    if callable(estimate):
        return estimate
    if callable(estimator):
        return estimator
    raise TypeError(f"depth_estimator must be callable or have .estimate(image), got {type(estimator).__name__}")


def create_app(pipeline_factory: Callable[[], Any], depth_estimator=None, *,
               samples: Mapping[str, Callable[[], Any]] | None = None, max_sessions: int = 4,
               idle_timeout_s: float = 600.0, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_upload_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS, max_kept_frames: int = 600,
               video_fps: float = 24.0, jpeg_quality: int = 90, max_unacked: int = 2,
               workers: int | None = None, depth_max_side: int = 1024) -> FastAPI:
    """Build the web demo app.

    Args:
        pipeline_factory: ``() -> FlyThroughPipeline``; called once per session, in a worker
            thread. Each session needs its own pipeline object (the flight state lives in it);
            the factory may share read-only networks between them.
        depth_estimator: for uploads, ``image [1, 3, H, W] in [0, 1] -> disparity [1, 1, H, W]
            in [0, 1]`` (a callable or an object with ``.estimate``); ``None`` disables uploads
            with a message. Calls are serialised (one at a time).
        samples: ordered ``{name: loader}``; each loader returns an object with ``.rgbd`` and
            ``.intrinsics`` (or an ``(rgbd, intrinsics)`` pair). Default: :func:`default_samples`.
        max_sessions: concurrent sessions (tabs); more get a "busy" message.
        idle_timeout_s: a session without user input (clicks, keys, uploads) this long is closed.
        max_upload_bytes, max_upload_pixels: upload limits (15 MB, 40 megapixels).
        max_kept_frames: frames kept per session for the MP4 download (the most recent ones).
        video_fps: frame rate of the downloaded MP4.
        jpeg_quality: of streamed (and kept) frames.
        max_unacked: frames a page may have in flight before the session waits for it.
        workers: worker threads (default ``max_sessions + 2``).
        depth_max_side: uploads are downscaled to this longer side before depth estimation.
    """
    if min(idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked, video_fps) <= 0:
        raise ValueError("idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked "
                         "and video_fps must be positive")
    estimate_depth = depth_callable(depth_estimator)
    settings = SessionSettings(idle_timeout_s=float(idle_timeout_s), max_unacked=max_unacked,
                               max_kept_frames=max_kept_frames, jpeg_quality=jpeg_quality)
    executor = ThreadPoolExecutor(max_workers=workers or max_sessions + 2, thread_name_prefix="viewgen-serve")
    samples = default_samples() if samples is None else dict(samples)
    manager = SessionManager(pipeline_factory, samples, executor, max_sessions, settings)
    depth_lock = threading.Lock()
    encode_slots = asyncio.Semaphore(1)  # MP4 encodes, one at a time
    static = resources.files("viewgen.server") / "static"
    index_html = (static / "index.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            for session in list(manager.sessions.values()):
                await manager.close(session)
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="viewgen", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.manager = manager
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        if request.method not in ("GET", "HEAD") and not _same_origin(request.headers):
            return _error(403, "Requests from other sites are refused.")
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
        return response

    async def in_worker(function, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    def hello(session: Session) -> dict:
        return {"type": "hello", "session": session.id, "samples": list(manager.samples),
                "uploads": estimate_depth is not None, "max_upload_bytes": max_upload_bytes,
                "max_upload_pixels": max_upload_pixels, "idle_timeout_s": settings.idle_timeout_s,
                "speed_range": list(settings.speed_range), "max_unacked": settings.max_unacked,
                "max_kept_frames": settings.max_kept_frames, "video_fps": video_fps}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html)

    @app.get("/api/status")
    async def status() -> dict:
        return {"sessions": len(manager.sessions), "max_sessions": manager.max_sessions,
                "samples": list(manager.samples), "uploads": estimate_depth is not None,
                "max_upload_bytes": max_upload_bytes, "max_upload_pixels": max_upload_pixels}

    @app.websocket("/ws")
    async def flight_socket(websocket: WebSocket) -> None:
        if not _same_origin(websocket.headers):
            await websocket.close(code=POLICY_CLOSE_CODE)
            return
        await websocket.accept()
        session = manager.open(websocket)
        if session is None:
            message = (f"The server is busy: all {manager.max_sessions} flight sessions are in use. "
                       "Close another viewgen tab or try again in a minute.")
            with contextlib.suppress(Exception):
                await websocket.send_text(json.dumps({"type": "busy", "message": message}))
                await websocket.close(code=BUSY_CLOSE_CODE, reason="server busy")
            return
        runner = asyncio.create_task(session.run_frames())
        try:
            await session.send_json(hello(session))
            await _receive_commands(websocket, session)
        finally:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            await manager.close(session)

    @app.post("/api/sessions/{session_id}/upload")
    async def upload(session_id: str, request: Request) -> JSONResponse:
        session = manager.get(session_id)
        if session is None:
            return _error(404, "This session has ended; reload the page to start a new one.")
        if estimate_depth is None:
            return _error(503, "Uploads need a depth backend: restart the server with --depth NAME.")
        session.touch()
        if session.busy_loading:
            return _error(409, "Still loading the previous image; try again in a moment.")
        session.busy_loading += 1
        try:
            data, filename = await _read_upload(request, max_upload_bytes)
            rgb = await in_worker(functools.partial(decode_upload, data, max_bytes=max_upload_bytes,
                                                    max_pixels=max_upload_pixels))
            pipeline = await session.ensure_pipeline()
            size = tuple(pipeline.config.image_size)
            for_depth, for_flight = await in_worker(frame_rgb, rgb, size, depth_max_side)

            def estimate():
                with depth_lock:
                    return rgbd_from_upload(for_depth, for_flight, estimate_depth)

            try:
                rgbd = await in_worker(estimate)
            except UploadError:
                raise
            except Exception as error:  # noqa: BLE001 - the backend's failure, told to the page
                raise UploadError(f"Depth estimation failed: {_one_line(error)}", 500) from error
            if session.closed:
                raise SessionClosed("closed during the upload")
            await session.start_flight(FlightSource(rgbd, None, filename))
        except UploadError as error:
            return _error(error.status, str(error))
        except SessionClosed:
            return _error(410, "This session has ended; reload the page to start a new one.")
        finally:
            session.busy_loading -= 1
        height, width = rgb.shape[:2]
        return JSONResponse({"ok": True, "name": filename, "width": width, "height": height})

    @app.get("/api/sessions/{session_id}/flight.mp4")
    async def download(session_id: str) -> Response:
        session = manager.get(session_id)
        if session is None:
            return _error(404, "This session has ended; reload the page to start a new one.")
        session.touch()
        frames = list(session.frames)
        if len(frames) < 2:
            return _error(409, "Nothing to download yet: play or step the flight first.")
        from viewgen.server.media import encode_mp4

        async with encode_slots:
            try:
                data = await in_worker(encode_mp4, frames, video_fps)
            except Exception as error:  # noqa: BLE001 - e.g. no ffmpeg: told to the page
                return _error(500, f"Could not encode the MP4: {_one_line(error)}")
        name = _slug(session.source.name if session.source else "flight")
        return Response(data, media_type="video/mp4", headers={
            "Content-Disposition": f'attachment; filename="viewgen-{name}-{len(frames)}-frames.mp4"',
            "Cache-Control": "no-store"})

    return app


async def _receive_commands(websocket: WebSocket, session: Session) -> None:
    """Read commands until the page leaves, the session breaks, or it idles out."""
    receive = asyncio.ensure_future(websocket.receive())
    try:
        while not session.closed:
            remaining = session.settings.idle_timeout_s - session.idle_for()
            if remaining <= 0:
                minutes = session.settings.idle_timeout_s / 60
                span = f"{minutes:g} minutes" if minutes >= 1 else f"{session.settings.idle_timeout_s:g} s"
                await session.send_json({"type": "expired", "message": f"This session ended after {span} without "
                                         "input, to free the server. Press Reconnect to start a new one."})
                with contextlib.suppress(Exception):
                    await websocket.close(code=IDLE_CLOSE_CODE, reason="idle timeout")
                return
            done, _ = await asyncio.wait({receive}, timeout=min(remaining, 1.0))
            if not done:
                continue
            try:
                message = receive.result()
            except Exception:  # noqa: BLE001 - the transport broke: the page is gone
                return
            if message["type"] == "websocket.disconnect":
                return
            receive = asyncio.ensure_future(websocket.receive())
            await _handle_text(session, message.get("text"))
    finally:
        if not receive.done():
            receive.cancel()
            with contextlib.suppress(BaseException):
                await receive


async def _handle_text(session: Session, text: str | None) -> None:
    try:
        if text is None or len(text) > MAX_COMMAND_CHARS:
            raise CommandError("commands are short JSON text messages")
        try:
            command = json.loads(text)
        except ValueError as error:
            raise CommandError(f"a command is not valid JSON: {error}") from error
        if not isinstance(command, dict):
            raise CommandError("a command must be a JSON object with a 'type'")
        await session.handle(command)
    except CommandError as error:
        await session.send_json({"type": "error", "message": str(error)})


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str]:
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
    return body, _display_name(name)


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
        raise UploadError(f"The multipart upload could not be read: {_one_line(error)}", 400) from error
    try:
        for _key, value in form.multi_items():
            if isinstance(value, UploadFile):
                return await value.read(), value.filename
    finally:
        await form.close()
    raise UploadError("The multipart upload holds no file.", 400)


def _same_origin(headers) -> bool:
    """True without an ``Origin`` header (not a browser page) or when it names this server's host."""
    origin = headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _display_name(name: str) -> str:
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name[:80] or "upload")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "flight"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
