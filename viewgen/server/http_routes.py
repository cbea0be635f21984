"""The HTTP side of the web demo: the page, the status, uploads, the MP4 download, and the guard.

Every route reads the app's :class:`~viewgen.server.state.ServerState` (``request.app.state.server``).
Errors are ``{"detail": message}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from viewgen.errors import one_line
from viewgen.server.hosts import HostPolicy, host_name
from viewgen.server.sessions import SessionClosed
from viewgen.server.state import ServerState
from viewgen.server.upload_route import run_upload
from viewgen.server.uploads import UploadError

__all__ = ["CONTENT_SECURITY_POLICY", "SESSION_GONE", "error_response", "guard_and_headers", "refusal", "router"]

SESSION_GONE = "This session has ended; reload the page to start a new one."
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")

router = APIRouter()


def _state(request: Request) -> ServerState:
    return request.app.state.server


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def refusal(hosts: HostPolicy, headers, check_origin: bool) -> str | None:
    """Why a request is refused (an unknown ``Host``, another site's ``Origin``), or None."""
    host = headers.get("host")
    if not hosts.host_allowed(host):
        name = host_name(host or "") or "(none)"
        return (f"Unknown Host {name!r}: this server answers to {hosts.describe()}. To serve it under "
                f"that name, restart viewgen serve with --allow-host {name}.")
    if check_origin and not hosts.origin_allowed(headers.get("origin"), host):
        return "Requests from other sites are refused."
    return None


async def guard_and_headers(request: Request, call_next):
    """HTTP middleware: refuse unknown hosts and other sites' writes; safe headers on every answer."""
    why = refusal(_state(request).hosts, request.headers, check_origin=request.method not in ("GET", "HEAD"))
    if why is not None:
        return error_response(403, why)
    response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-cache")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return HTMLResponse(_state(request).index_html)


@router.get("/api/status")
async def status(request: Request) -> dict:
    state = _state(request)
    return {"sessions": len(state.manager.sessions), "max_sessions": state.manager.max_sessions,
            "samples": list(state.manager.samples), **state.upload_info()}


def _touched_session(request: Request, session_id: str):
    """(server state, the live session ``session_id`` marked as active now, or None if it is gone)."""
    state = _state(request)
    session = state.manager.get(session_id)
    if session is not None:
        session.touch()
    return state, session


@router.post("/api/sessions/{session_id}/upload")
async def upload(session_id: str, request: Request) -> JSONResponse:
    state, session = _touched_session(request, session_id)
    if session is None:
        return error_response(404, SESSION_GONE)
    if session.uploading or session.loading:
        return error_response(409, "Still loading the previous image; try again in a moment.")
    session.uploading = True
    try:
        return JSONResponse(await run_upload(request, session, state.uploads))
    except UploadError as error:
        return error_response(error.status, str(error))
    except SessionClosed:
        return error_response(410, SESSION_GONE)
    finally:
        session.uploading = False


@router.get("/api/sessions/{session_id}/flight.mp4")
async def download(session_id: str, request: Request) -> Response:
    state, session = _touched_session(request, session_id)
    if session is None:
        return error_response(404, SESSION_GONE)
    frames = list(session.frames)
    if len(frames) < 2:
        return error_response(409, "Nothing to download yet: play or step the flight first.")
    from viewgen.server.media import encode_mp4

    async with state.encode_slots:
        try:
            data = await state.in_worker(encode_mp4, frames, state.video_fps)
        except Exception as error:  # noqa: BLE001 - e.g. no ffmpeg: told to the page
            return error_response(500, f"Could not encode the MP4: {one_line(error)}")
    name = _slug(session.source.name if session.source else "flight")
    return Response(data, media_type="video/mp4", headers={
        "Content-Disposition": f'attachment; filename="viewgen-{name}-{len(frames)}-frames.mp4"',
        "Cache-Control": "no-store"})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "flight"
