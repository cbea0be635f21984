"""One flight per browser tab: the state, the frame loop and the commands of a session.

A :class:`Session` lives as long as its WebSocket. It owns its own
:class:`~viewgen.pipelines.FlyThroughPipeline` (made by the app's factory on the first load:
the flight state lives in the pipeline, so sessions never share one) and an autopilot it
builds itself, so the speed can change mid-flight.

Frame loop (:meth:`Session.run_frames`): while playing (or while single steps are pending)
and while fewer than ``max_unacked`` frames await the page's acknowledgement, take the
steering offset from the cursor, run ``pipeline.step(offset)`` **in a worker thread** (never
on the event loop), encode the frame as JPEG, send it, then let the cursor decay as the
original demo does: a click is used at full strength for two frames, then the cursor moves
back to the centre by a factor 0.9 per frame. One generation at a time per session; a slow
page only slows its own session (it acknowledges frames late, so its loop waits), never the
others.

Wire format, server -> page: JSON text messages ``{"type": ...}`` (``hello``, ``state``,
``error``, ``notice``, ``busy``, ``expired``) and one binary message per frame::

    uint32 big-endian n | n bytes of JSON header | RGB JPEG | disparity JPEG (optional)

The header holds ``index``, ``epoch`` (bumped by every load/restart), ``cursor`` ``[x, y]``
in [0, 1], ``gen_ms``, ``rgb_bytes``, ``disparity_bytes``, ``kept`` (frames kept for the MP4)
and ``playing``. Page -> server: JSON text commands, see :meth:`Session.handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import struct
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from viewgen.server.media import disparity_to_uint8, encode_jpeg, rgb_to_uint8

__all__ = ["CURSOR_DECAY", "FlightSource", "Session", "SessionClosed", "SessionManager", "SessionSettings",
           "pack_frame", "unpack_frame"]

CURSOR_DECAY = 0.9  # the original demo: x = 0.5 + (x - 0.5) * 0.9 per frame after the click's frames
CLICK_HOLD_FRAMES = 1  # the original's cursor_count: frames after the first that use the click unchanged

PipelineFactory = Callable[[], Any]


@dataclass(frozen=True)
class SessionSettings:
    """Limits and knobs of every session (see :func:`viewgen.server.app.create_app`)."""

    idle_timeout_s: float = 600.0
    max_unacked: int = 2
    max_kept_frames: int = 600
    max_pending_steps: int = 8
    jpeg_quality: int = 90
    speed_range: tuple[float, float] = (0.25, 3.0)
    fps_limit_max: float = 60.0


@dataclass(frozen=True, eq=False)
class FlightSource:
    """Where a flight starts: ``rgbd [1, 4, H, W]`` in [0, 1], optional ``intrinsics [4]``, a name."""

    rgbd: Tensor
    intrinsics: Tensor | None
    name: str


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


class SessionClosed(RuntimeError):
    """The session ended (its page left) before the work could start."""


class CommandError(ValueError):
    """A malformed or unusable command from the page (answered with an ``error`` message)."""


class Session:
    """The state of one tab's flight. Create through :meth:`SessionManager.open`."""

    def __init__(self, session_id: str, websocket, manager: SessionManager) -> None:
        self.id = session_id
        self.websocket = websocket
        self.manager = manager
        self.settings = manager.settings
        self.pipeline = None
        self.source: FlightSource | None = None
        self.epoch = 0
        self.frame_index = 0
        self.playing = False
        self.pending_steps = 0
        self.unacked = 0
        self.cursor = [0.5, 0.5]
        self.cursor_hold = 0
        self.speed = 1.0
        self.max_fps = 0.0  # 0 = as fast as the page takes them
        self.show_disparity = False
        self.frames: deque[bytes] = deque(maxlen=self.settings.max_kept_frames)
        self.frames_total = 0
        self.closed = False
        self.last_input = time.monotonic()
        self.busy_loading = 0
        self._controller = None
        self._changed = asyncio.Event()
        self._pipeline_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._last_frame_at = 0.0
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ transport

    async def send_json(self, message: dict) -> bool:
        """Send a JSON text message; False when the page is gone."""
        return await self._send(text=json.dumps(message))

    async def _send(self, text: str | None = None, data: bytes | None = None) -> bool:
        if self.closed:
            return False
        try:
            async with self._send_lock:
                if text is not None:
                    await self.websocket.send_text(text)
                else:
                    await self.websocket.send_bytes(data)
            return True
        except Exception:  # noqa: BLE001 - any transport failure means the page is gone
            self.closed = True
            self._changed.set()
            return False

    def state_message(self) -> dict:
        return {"type": "state", "playing": self.playing, "speed": self.speed, "max_fps": self.max_fps,
                "disparity": self.show_disparity, "source": self.source.name if self.source else None,
                "index": self.frame_index, "epoch": self.epoch}

    def touch(self) -> None:
        """Record user input (resets the idle timeout)."""
        self.last_input = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self.last_input

    # ------------------------------------------------------------------ commands

    async def handle(self, message: Mapping[str, Any]) -> None:
        """Apply one command from the page.

        ``{"type": ...}`` with: ``play``, ``pause``, ``step``, ``restart``, ``sample`` +
        ``index`` (1-based), ``steer`` + ``x``, ``y`` (click position as a fraction of the
        view), ``speed`` + ``value`` (multiple of the autopilot's speed), ``max_fps`` +
        ``value`` (0 = no limit), ``disparity`` + ``on``, ``ack`` (a frame was shown).
        Raises :class:`CommandError` for anything else.
        """
        kind = message.get("type")
        if kind == "ack":
            self.unacked = max(0, self.unacked - 1)
            self._changed.set()
            return
        self.touch()
        if kind == "play":
            self.playing = True
        elif kind == "pause":
            self.playing = False
            self.pending_steps = 0
        elif kind == "step":
            self.playing = False
            self.pending_steps = min(self.pending_steps + 1, self.settings.max_pending_steps)
        elif kind == "restart":
            if self.source is None:
                raise CommandError("nothing to restart: pick a sample or upload an image first")
            self._spawn(self.start_flight(self.source))
            return
        elif kind == "sample":
            index = _integer(message.get("index"), "sample index")
            names = list(self.manager.samples)
            if not 1 <= index <= len(names):
                raise CommandError(f"no sample {index}: there are {len(names)}")
            self._spawn(self._load_sample(index))
            return
        elif kind == "steer":
            x, y = _fraction(message.get("x"), "x"), _fraction(message.get("y"), "y")
            self.cursor, self.cursor_hold = [x, y], CLICK_HOLD_FRAMES
        elif kind == "speed":
            low, high = self.settings.speed_range
            self.speed = min(max(_number(message.get("value"), "speed"), low), high)
        elif kind == "max_fps":
            self.max_fps = min(max(_number(message.get("value"), "max_fps"), 0.0), self.settings.fps_limit_max)
        elif kind == "disparity":
            self.show_disparity = bool(message.get("on"))
        else:
            raise CommandError(f"unknown command {kind!r}")
        self._changed.set()
        await self.send_json(self.state_message())

    def _spawn(self, coroutine) -> None:
        if self.busy_loading >= 2:
            coroutine.close()
            raise CommandError("still loading the previous image; try again in a moment")
        self.busy_loading += 1
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coroutine) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the page, the session lives on
            await self.send_json({"type": "error", "message": _one_line(error)})
        finally:
            self.busy_loading -= 1

    async def _load_sample(self, index: int) -> None:
        source = await self.manager.sample_source(index)
        await self.start_flight(source)

    # ------------------------------------------------------------------ the flight

    async def start_flight(self, source: FlightSource) -> None:
        """(Re)start the flight from ``source``: paused, cursor centred, frame 0 sent."""
        self.playing, self.pending_steps = False, 0
        self.epoch += 1
        epoch = self.epoch
        loop = asyncio.get_running_loop()
        started = loop.time()
        frame_index, rgb_jpeg, disparity_jpeg, input_warnings = await self._in_worker(
            self._reset_sync, source, self.speed, self.show_disparity)
        if self.closed or epoch != self.epoch:
            return
        self.source = source
        self.cursor, self.cursor_hold = [0.5, 0.5], 0
        self.frames.clear()
        self.frames_total = 0
        await self._emit(frame_index, rgb_jpeg, disparity_jpeg, (loop.time() - started) * 1000)
        await self.send_json(self.state_message())
        for text in input_warnings:
            await self.send_json({"type": "notice", "message": text})

    async def _in_worker(self, function, *args, epoch: int | None = None):
        """Run ``function(*args)`` on the app's executor, holding the pipeline lock until it is done.

        A cancelled caller still waits for the thread to finish before releasing the lock, so
        two threads never touch one pipeline. With ``epoch``, returns ``None`` without running
        when a load or restart has started since (the work would belong to the old flight).
        """
        loop = asyncio.get_running_loop()
        async with self._pipeline_lock:
            if self.closed:
                raise SessionClosed("this session has ended")
            if epoch is not None and epoch != self.epoch:
                return None
            future = loop.run_in_executor(self.manager.executor, function, *args)
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                await asyncio.wait([future])
                raise

    async def ensure_pipeline(self):
        """This session's pipeline, made by the factory (in a worker thread) on first use."""
        if self.pipeline is None:
            await self._in_worker(self._make_pipeline)
        return self.pipeline

    def _make_pipeline(self):
        if self.pipeline is None:
            self.pipeline = self.manager.pipeline_factory()
        return self.pipeline

    def _reset_sync(self, source: FlightSource, speed: float, show_disparity: bool):
        """Worker thread: make the pipeline if needed, reset it to ``source``, encode frame 0."""
        from viewgen.geometry.intrinsics import default_intrinsics
        from viewgen.pipelines.autopilot import FlyDynamic

        pipeline = self._make_pipeline()
        height, width = source.rgbd.shape[-2:]
        intrinsics = (source.intrinsics if source.intrinsics is not None
                      else default_intrinsics(height, width, fx=pipeline.config.focal_x))
        base = pipeline.config.autopilot
        controller = FlyDynamic.from_config(intrinsics, torch.eye(4)[:3], replace(base, speed=base.speed * speed))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = pipeline.reset(source.rgbd, intrinsics=intrinsics, controller=controller)
        self._controller = controller
        notes = tuple(dict.fromkeys(str(item.message) for item in caught if issubclass(item.category, UserWarning)))
        return (frame.index, *self._encode(frame, show_disparity), notes)

    def _step_sync(self, offset: tuple[float, float], speed: float, show_disparity: bool):
        """Worker thread: one ``pipeline.step(offset)`` at the current speed, encoded."""
        controller = self._controller
        base = self.pipeline.config.autopilot
        wanted = base.speed * speed
        if controller is not None and controller.config.speed != wanted:
            controller.config = replace(controller.config, speed=wanted)
        frame = self.pipeline.step(offset)
        return (frame.index, *self._encode(frame, show_disparity))

    def _encode(self, frame, show_disparity: bool) -> tuple[bytes, bytes | None]:
        quality = self.settings.jpeg_quality
        rgb_jpeg = encode_jpeg(rgb_to_uint8(frame.rgb), quality)
        disparity_jpeg = encode_jpeg(disparity_to_uint8(frame.disparity), quality) if show_disparity else None
        return rgb_jpeg, disparity_jpeg

    async def _emit(self, index: int, rgb_jpeg: bytes, disparity_jpeg: bytes | None, gen_ms: float) -> None:
        self.frame_index = index
        self.frames.append(rgb_jpeg)
        self.frames_total += 1
        self.unacked += 1
        self._last_frame_at = asyncio.get_running_loop().time()
        header = {"type": "frame", "index": index, "epoch": self.epoch, "cursor": [round(c, 5) for c in self.cursor],
                  "gen_ms": round(gen_ms, 1), "kept": len(self.frames), "playing": self.playing}
        await self._send(data=pack_frame(header, rgb_jpeg, disparity_jpeg))

    def _wants_frame(self) -> bool:
        return (self.source is not None and self.pipeline is not None and (self.playing or self.pending_steps > 0)
                and self.unacked < self.settings.max_unacked)

    async def run_frames(self) -> None:
        """The frame loop (see the module docstring); runs until the session closes."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            self._changed.clear()
            if not self._wants_frame():
                await self._changed.wait()
                continue
            if self.playing and self.max_fps > 0:
                delay = self._last_frame_at + 1.0 / self.max_fps - loop.time()
                if delay > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), delay)
                    continue
            if not self.playing:
                self.pending_steps -= 1
            epoch = self.epoch
            offset = (2.0 * self.cursor[0] - 1.0, 2.0 * self.cursor[1] - 1.0)
            started = loop.time()
            try:
                result = await self._in_worker(self._step_sync, offset, self.speed, self.show_disparity, epoch=epoch)
            except SessionClosed:
                return
            except Exception as error:  # noqa: BLE001 - reported, the flight pauses
                self.playing, self.pending_steps = False, 0
                await self.send_json({"type": "error", "message": f"frame generation failed: {_one_line(error)}"})
                await self.send_json(self.state_message())
                continue
            if result is None or self.closed or epoch != self.epoch:
                continue  # a load or restart came in meanwhile: this frame belongs to the old flight
            index, rgb_jpeg, disparity_jpeg = result
            if self.cursor_hold > 0:
                self.cursor_hold -= 1
            else:
                self.cursor = [0.5 + (c - 0.5) * CURSOR_DECAY for c in self.cursor]
            await self._emit(index, rgb_jpeg, disparity_jpeg, (loop.time() - started) * 1000)

    async def close(self) -> None:
        """Stop everything this session started and drop its pipeline and frames."""
        self.closed = True
        self._changed.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        self.frames.clear()
        self.pipeline = None
        self._controller = None
        self.source = None


class SessionManager:
    """The open sessions of one app, at most ``max_sessions`` of them.

    pipeline_factory: ``() -> FlyThroughPipeline``, called once per session (in a worker thread).
    samples: ordered ``{name: loader}``, each loader ``() -> object with .rgbd [1, 4, H, W] and
        .intrinsics [4] | None`` (e.g. ``viewgen.data.samples.load_sample``).
    executor: where pipelines, depth estimation, decoding and encoding run.
    """

    def __init__(self, pipeline_factory: PipelineFactory, samples: Mapping[str, Callable[[], Any]],
                 executor: Executor, max_sessions: int, settings: SessionSettings) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        self.pipeline_factory = pipeline_factory
        self.samples = dict(samples)
        self.executor = executor
        self.max_sessions = max_sessions
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self._sample_cache: dict[int, FlightSource] = {}

    def open(self, websocket) -> Session | None:
        """A new session for ``websocket``, or ``None`` when ``max_sessions`` are open."""
        if len(self.sessions) >= self.max_sessions:
            return None
        session = Session(secrets.token_urlsafe(18), websocket, self)
        self.sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        session = self.sessions.get(session_id)
        return session if session is not None and not session.closed else None

    async def close(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        await session.close()

    async def sample_source(self, index: int) -> FlightSource:
        """Sample ``index`` (1-based) as a :class:`FlightSource` (loaded once, in a worker thread)."""
        if index not in self._sample_cache:
            name, loader = list(self.samples.items())[index - 1]
            loaded = await asyncio.get_running_loop().run_in_executor(self.executor, loader)
            self._sample_cache[index] = source_from_loaded(loaded, name)
        return self._sample_cache[index]


def source_from_loaded(loaded, name: str) -> FlightSource:
    """An object with ``.rgbd`` (and optional ``.intrinsics``), or an ``(rgbd, intrinsics)`` pair."""
    if isinstance(loaded, tuple):
        rgbd, intrinsics = loaded
    elif isinstance(loaded, Tensor):
        rgbd, intrinsics = loaded, None
    else:
        rgbd, intrinsics = loaded.rgbd, getattr(loaded, "intrinsics", None)
    rgbd = torch.as_tensor(rgbd).to(torch.float32)
    if rgbd.dim() == 3:
        rgbd = rgbd.unsqueeze(0)
    intrinsics = None if intrinsics is None else torch.as_tensor(intrinsics).to(torch.float32).reshape(4)
    return FlightSource(rgbd, intrinsics, name)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _integer(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"{what} must be an integer, got {value!r}")
    return value


def _fraction(value, what: str) -> float:
    return min(max(_number(value, what), 0.0), 1.0)
