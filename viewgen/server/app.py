"""The web demo: a FastAPI app that streams a fly-through to a page, one flight per tab.

Routes:

* ``GET /``: the page (``static/index.html``, plain HTML/CSS/JS, no build step);
  ``/static/...`` its script and style.
* ``WS /ws``: one session per connection (see :mod:`viewgen.server.sessions` for the
  messages). When ``max_sessions`` are open, the page gets a ``busy`` message and the socket
  is closed with code 1013 (try again later); a session without input for ``idle_timeout_s``
  (a playing page that draws its frames is not idle) gets ``expired`` and code 4000. Closing
  the socket frees the session.
* ``POST /api/sessions/{id}/upload``: a PNG/JPEG photo (the raw bytes, or multipart with one
  file); its disparity comes from the depth backend (built on the first upload) and the
  session's flight restarts from it. Errors are ``{"detail": message}`` with 4xx/5xx.
* ``GET /api/sessions/{id}/flight.mp4``: the flight so far (the last ``max_kept_frames``
  frames since the last load) as H.264 MP4.
* ``GET /api/status``: open sessions and limits.

Everything slow (pipelines, depth, decoding, encoding) runs on a small thread pool, never on
the event loop. Only requests whose ``Host`` is a known name of this server are answered
(:mod:`viewgen.server.hosts`, against DNS rebinding), and a browser request's ``Origin`` must
be this server, so other web pages open in the same browser cannot drive it. Freed memory is
given back to the OS when a session ends and when the server idles (:mod:`viewgen.server.memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from viewgen.server.depth import LazyDepth
from viewgen.server.hosts import HostPolicy, host_name
from viewgen.server.manager import SessionManager
from viewgen.server.sessions import CommandError, Session, SessionClosed, SessionSettings
from viewgen.server.upload_route import UploadContext, run_upload
from viewgen.server.uploads import UploadError

__all__ = ["create_app", "default_samples", "default_workers"]

DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000
MAX_COMMAND_CHARS = 4096
BUSY_CLOSE_CODE, IDLE_CLOSE_CODE, POLICY_CLOSE_CODE = 1013, 4000, 1008
SESSION_GONE = "This session has ended; reload the page to start a new one."
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def default_samples() -> dict[str, Callable[[], Any]]:
    """The embedded samples of :mod:`viewgen.data.samples` as ``{name: loader}`` (empty if unavailable)."""
    try:
        from viewgen.data.samples import SAMPLE_NAMES, load_sample
    except ImportError:
        return {}
    return {name: functools.partial(load_sample, index + 1) for index, name in enumerate(SAMPLE_NAMES)}


def default_workers(max_sessions: int) -> int:
    """Worker threads: one per session up to the cores, at least two, plus one for uploads and encodes.

    Few threads keep few malloc arenas (each keeps its own freed memory); more threads than
    cores would not generate faster.
    """
    return max(2, min(max_sessions, os.cpu_count() or 1)) + 1


def _depth_backend(depth_estimator) -> LazyDepth | None:
    if depth_estimator is None or isinstance(depth_estimator, LazyDepth):
        return depth_estimator
    return LazyDepth.ready(depth_estimator)


def create_app(pipeline_factory: Callable[[], Any], depth_estimator=None, *,
               samples: Mapping[str, Callable[[], Any]] | None = None, max_sessions: int = 4,
               idle_timeout_s: float = 600.0, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_upload_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS, max_kept_frames: int = 600,
               video_fps: float = 24.0, jpeg_quality: int = 90, max_unacked: int = 2,
               workers: int | None = None, depth_max_side: int = 1024, allowed_hosts: Iterable[str] = (),
               idle_release_s: float = 5.0) -> FastAPI:
    """Build the web demo app.

    Args:
        pipeline_factory: ``() -> FlyThroughPipeline``; called once per session, in a worker
            thread. Each session needs its own pipeline object (the flight state lives in it);
            the factory may share read-only networks between them.
        depth_estimator: for uploads, ``image [1, 3, H, W] in [0, 1] -> disparity [1, 1, H, W]
            in [0, 1]`` (a callable or an object with ``.estimate``), or a
            :class:`~viewgen.server.depth.LazyDepth` built on the first upload; ``None``
            disables uploads with a message. Calls are serialised (one at a time).
        samples: ordered ``{name: loader}``; each loader returns an object with ``.rgbd`` and
            ``.intrinsics`` (or an ``(rgbd, intrinsics)`` pair). Default: :func:`default_samples`.
        max_sessions: concurrent sessions (tabs); more get a "busy" message.
        idle_timeout_s: a session without input this long is closed (a playing page that
            draws its frames counts as input).
        max_upload_bytes, max_upload_pixels: upload limits (15 MB, 40 megapixels).
        max_kept_frames: frames kept per session for the MP4 download (the most recent ones).
        video_fps: frame rate of the downloaded MP4.
        jpeg_quality: of streamed (and kept) frames.
        max_unacked: frames sent and not yet drawn by the page before the session waits for it.
        workers: worker threads (default :func:`default_workers`).
        depth_max_side: uploads are downscaled to this longer side before depth estimation.
        allowed_hosts: host names (besides the loopback ones) that ``Host`` may name: the
            address the server listens on and any ``--allow-host``; an unspecified address
            (``0.0.0.0``) admits every IP address (:class:`~viewgen.server.hosts.HostPolicy`).
        idle_release_s: freed memory goes back to the OS this long after the last frame.
    """
    if min(idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked, video_fps) <= 0:
        raise ValueError("idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked "
                         "and video_fps must be positive")
    settings = SessionSettings(idle_timeout_s=float(idle_timeout_s), max_unacked=max_unacked,
                               max_kept_frames=max_kept_frames, jpeg_quality=jpeg_quality)
    executor = ThreadPoolExecutor(max_workers=workers or default_workers(max_sessions),
                                  thread_name_prefix="viewgen-serve")
    samples = default_samples() if samples is None else dict(samples)
    manager = SessionManager(pipeline_factory, samples, executor, max_sessions, settings, idle_release_s)
    hosts = HostPolicy(allowed_hosts)

    async def in_worker(function, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    uploads = UploadContext(_depth_backend(depth_estimator), in_worker, max_upload_bytes, max_upload_pixels,
                            depth_max_side, threading.Lock())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        releaser = asyncio.create_task(manager.release_when_idle())
        try:
            yield
        finally:
            releaser.cancel()
            for session in list(manager.sessions.values()):
                await manager.close(session)
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="viewgen", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.manager = manager
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=str(resources.files("viewgen.server") / "static")), name="static")

    @app.middleware("http")
    async def guard_and_headers(request: Request, call_next):
        refusal = _refusal(hosts, request.headers, check_origin=request.method not in ("GET", "HEAD"))
        if refusal is not None:
            return _error(403, refusal)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    def upload_info() -> dict:
        possible, note = uploads.availability()
        return {"uploads": possible, "upload_note": note, "max_upload_bytes": max_upload_bytes,
                "max_upload_pixels": max_upload_pixels}

    _add_routes(app, manager, upload_info, uploads, in_worker, video_fps)

    @app.websocket("/ws")
    async def flight_socket(websocket: WebSocket) -> None:
        if _refusal(hosts, websocket.headers, check_origin=True) is not None:
            await websocket.close(code=POLICY_CLOSE_CODE)
            return
        await websocket.accept()
        session = manager.open(websocket)
        if session is None:
            await _send_busy(websocket, manager.max_sessions)
            return
        runner = asyncio.create_task(session.run_frames())
        try:
            await session.send_json({"type": "hello", "session": session.id, "samples": list(manager.samples),
                                     **upload_info(), "idle_timeout_s": settings.idle_timeout_s,
                                     "speed_range": list(settings.speed_range), "max_unacked": settings.max_unacked,
                                     "max_kept_frames": settings.max_kept_frames, "video_fps": video_fps})
            await _receive_commands(websocket, session)
        finally:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            await manager.close(session)

    return app


def _add_routes(app: FastAPI, manager: SessionManager, upload_info, uploads: UploadContext, in_worker,
                video_fps: float) -> None:
    """The page, the status and the per-session HTTP routes."""
    index_html = (resources.files("viewgen.server") / "static" / "index.html").read_text(encoding="utf-8")
    encode_slots = asyncio.Semaphore(1)  # MP4 encodes, one at a time

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html)

    @app.get("/api/status")
    async def status() -> dict:
        return {"sessions": len(manager.sessions), "max_sessions": manager.max_sessions,
                "samples": list(manager.samples), **upload_info()}

    @app.post("/api/sessions/{session_id}/upload")
    async def upload(session_id: str, request: Request) -> JSONResponse:
        session = manager.get(session_id)
        if session is None:
            return _error(404, SESSION_GONE)
        session.touch()
        if session.uploading or session.loading:
            return _error(409, "Still loading the previous image; try again in a moment.")
        session.uploading = True
        try:
            return JSONResponse(await run_upload(request, session, uploads))
        except UploadError as error:
            return _error(error.status, str(error))
        except SessionClosed:
            return _error(410, SESSION_GONE)
        finally:
            session.uploading = False

    @app.get("/api/sessions/{session_id}/flight.mp4")
    async def download(session_id: str) -> Response:
        session = manager.get(session_id)
        if session is None:
            return _error(404, SESSION_GONE)
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


def _refusal(hosts: HostPolicy, headers, check_origin: bool) -> str | None:
    """Why a request is refused (an unknown ``Host``, another site's ``Origin``), or None."""
    host = headers.get("host")
    if not hosts.host_allowed(host):
        name = host_name(host or "") or "(none)"
        return (f"Unknown Host {name!r}: this server answers to {hosts.describe()}. To serve it under "
                f"that name, restart viewgen serve with --allow-host {name}.")
    if check_origin and not hosts.origin_allowed(headers.get("origin"), host):
        return "Requests from other sites are refused."
    return None


async def _send_busy(websocket: WebSocket, max_sessions: int) -> None:
    message = (f"The server is busy: all {max_sessions} flight sessions are in use. "
               "Close another viewgen tab or try again in a minute.")
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps({"type": "busy", "message": message}))
        await websocket.close(code=BUSY_CLOSE_CODE, reason="server busy")


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "flight"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
