"""``WS /ws``: one flight session per connection (the messages are in :mod:`viewgen.server.sessions`).

When every session is in use, the page gets ``busy`` and code 1013 (try again later); a session
without input for ``idle_timeout_s`` gets ``expired`` and code 4000; a refused Host or Origin
closes with 1008. Closing the socket frees the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket

from viewgen.server.http_routes import refusal
from viewgen.server.sessions import CommandError, Session
from viewgen.server.state import ServerState

__all__ = ["BUSY_CLOSE_CODE", "IDLE_CLOSE_CODE", "MAX_COMMAND_CHARS", "POLICY_CLOSE_CODE", "router"]

MAX_COMMAND_CHARS = 4096
BUSY_CLOSE_CODE, IDLE_CLOSE_CODE, POLICY_CLOSE_CODE = 1013, 4000, 1008

router = APIRouter()


@router.websocket("/ws")
async def flight_socket(websocket: WebSocket) -> None:
    state: ServerState = websocket.app.state.server
    if refusal(state.hosts, websocket.headers, check_origin=True) is not None:
        await websocket.close(code=POLICY_CLOSE_CODE)
        return
    await websocket.accept()
    session = state.manager.open(websocket)
    if session is None:
        await _send_busy(websocket, state.manager.max_sessions)
        return
    runner = asyncio.create_task(session.run_frames())
    try:
        await session.send_json(_hello(state, session))
        await _receive_commands(websocket, session)
    finally:
        runner.cancel()
        with contextlib.suppress(BaseException):
            await runner
        await state.manager.close(session)


def _hello(state: ServerState, session: Session) -> dict:
    """The first message of a session: its id, the model that flies (and whether it offers "Remember the world"
    and Fly back), the samples, the limits the page needs."""
    settings, driver = state.settings, state.manager.driver
    return {"type": "hello", "session": session.id, "model": driver.model, "model_label": driver.label,
            "memory_choice": driver.memory_choice, "fly_back": driver.can_fly_back,
            "samples": list(state.manager.samples), **state.upload_info(), "idle_timeout_s": settings.idle_timeout_s,
            "speed_range": list(settings.speed_range), "max_unacked": settings.max_unacked,
            "max_kept_frames": settings.max_kept_frames, "video_fps": state.video_fps}


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
