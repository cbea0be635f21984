"""The web demo: a FastAPI app that streams a fly-through to a page, one flight per tab.

The model that flies is Infinite Nature (``model="infinite-nature"``) or Infinite Nature Zero
(``"infinite-nature-zero"``); :data:`FLIGHT_DRIVERS` maps each to its session driver
(:mod:`viewgen.server.flight`, :mod:`viewgen.server.zero_flight`).

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
* ``GET /objects`` and ``/api/objects/...``: the object mode, Equivariant Neural Rendering of one
  object image, turned by dragging (:mod:`viewgen.server.object_routes`).

Everything slow (pipelines, depth, decoding, encoding) runs on a small thread pool, never on
the event loop. Only requests whose ``Host`` is a known name of this server are answered
(:mod:`viewgen.server.hosts`, against DNS rebinding), and a browser request's ``Origin`` must
be this server, so other web pages open in the same browser cannot drive it. Freed memory is
given back to the OS when a session ends and when the server idles (:mod:`viewgen.server.memory`).

Where things are: this module builds the app and its shared state (:class:`ServerState`);
:mod:`viewgen.server.http_routes` holds the page, status, upload and download routes and the
Host/Origin guard; :mod:`viewgen.server.socket_route` the ``/ws`` flight socket.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from viewgen.server.depth import LazyDepth
from viewgen.server.flight import FlyThroughDriver
from viewgen.server.hosts import HostPolicy
from viewgen.server.http_routes import guard_and_headers
from viewgen.server.http_routes import router as http_router
from viewgen.server.manager import SessionManager
from viewgen.server.object_routes import router as object_router
from viewgen.server.objects import ObjectViews
from viewgen.server.sessions import SessionSettings
from viewgen.server.socket_route import router as socket_router
from viewgen.server.state import ServerState
from viewgen.server.upload_route import UploadContext
from viewgen.server.zero_flight import ZeroDriver

__all__ = ["FLIGHT_DRIVERS", "create_app", "default_samples", "default_workers"]

FLIGHT_DRIVERS = {driver.model: driver for driver in (FlyThroughDriver, ZeroDriver)}

DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000


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


def _default_novel_views():
    from viewgen.pipelines.novel_view import NovelViewPipeline

    return NovelViewPipeline.default()


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
               idle_release_s: float = 5.0, novel_view_factory: Callable[[], Any] | None = None,
               model: str = "infinite-nature") -> FastAPI:
    """Build the web demo app.

    Args:
        pipeline_factory: ``() -> pipeline`` of ``model`` (a ``FlyThroughPipeline`` or an
            ``InfiniteNatureZeroPipeline``); called once per session, in a worker thread. Each session
            needs its own pipeline object (the flight state lives in it); the factory may share
            read-only networks between them.
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
        novel_view_factory: ``() -> NovelViewPipeline`` for the object mode, called on its first use
            (default: the embedded model, ``NovelViewPipeline.default``).
        model: which model the pipelines are, a key of :data:`FLIGHT_DRIVERS` (``"infinite-nature"``
            or ``"infinite-nature-zero"``); the page shows it.
    """
    if model not in FLIGHT_DRIVERS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(FLIGHT_DRIVERS)}")
    if min(idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked, video_fps) <= 0:
        raise ValueError("idle_timeout_s, max_upload_bytes, max_upload_pixels, max_kept_frames, max_unacked "
                         "and video_fps must be positive")
    settings = SessionSettings(idle_timeout_s=float(idle_timeout_s), max_unacked=max_unacked,
                               max_kept_frames=max_kept_frames, jpeg_quality=jpeg_quality)
    executor = ThreadPoolExecutor(max_workers=workers or default_workers(max_sessions),
                                  thread_name_prefix="viewgen-serve")
    samples = default_samples() if samples is None else dict(samples)
    manager = SessionManager(pipeline_factory, samples, executor, max_sessions, settings, idle_release_s,
                             FLIGHT_DRIVERS[model])

    async def in_worker(function, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    uploads = UploadContext(_depth_backend(depth_estimator), in_worker, max_upload_bytes, max_upload_pixels,
                            depth_max_side, threading.Lock())
    static = resources.files("viewgen.server") / "static"
    state = ServerState(manager=manager, settings=settings, hosts=HostPolicy(allowed_hosts), uploads=uploads,
                        in_worker=in_worker, video_fps=video_fps, max_upload_bytes=max_upload_bytes,
                        max_upload_pixels=max_upload_pixels,
                        index_html=(static / "index.html").read_text(encoding="utf-8"),
                        objects=ObjectViews(novel_view_factory or _default_novel_views),
                        objects_html=(static / "objects.html").read_text(encoding="utf-8"))

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
    app.state.server = state
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.middleware("http")(guard_and_headers)
    app.include_router(http_router)
    app.include_router(socket_router)
    app.include_router(object_router)
    return app
