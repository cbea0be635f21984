"""One flight per browser tab: the state, the frame loop and the commands of a session.

A :class:`Session` lives as long as its WebSocket. It owns its own pipeline (a
:class:`~viewgen.pipelines.FlyThroughPipeline` or an Infinite Nature Zero one, made by the app's
factory on the first load and driven through :mod:`viewgen.server.flight`: the flight state lives in
the pipeline, so sessions never share one); the speed slider changes the speed of the pipeline's
autopilot mid-flight (``controller.set_speed``).

Frame loop (:meth:`Session.run_frames`): while playing (or while single steps are pending),
while no image is loading and while fewer than ``max_unacked`` frames are sent and not yet
drawn by the page (:class:`~viewgen.server.frames.FrameWindow`), take the steering offset
from the cursor, run ``pipeline.step(offset)`` **in a worker thread** (never on the event
loop), encode the frame as JPEG and send it. With a frame-rate limit, a generation starts no
earlier than ``1 / limit`` after the previous one *started*, so "10 /s" gives 10 frames/s
whenever a frame takes less than 0.1 s. Steering follows the original demo: a click is used
at full strength for two frames, then the cursor moves back to the centre by a factor 0.9 per
frame; a click that arrives while a frame is being generated counts from the next frame.
One generation at a time per session; a slow page only slows its own session.

Loads (a sample, an upload, Restart) pause the flight when they are asked for; a Play that
arrives while the image loads is kept, and the new flight plays once its frame 0 is out.
A frame that stops the flight (Infinite Nature Zero's crash event, or the end of a Fly back) is sent,
then a ``notice`` says why and the flight pauses with its frames kept; Play, Step and Fly back are
answered with that notice until a load starts a new flight. "Remember the world" and Fly back:
:mod:`viewgen.server.world_flight`.

Wire format, server -> page: JSON text messages ``{"type": ...}`` (``hello``, ``state``,
``error``, ``notice``, ``progress``, ``busy``, ``expired``) and one binary message per frame
(:func:`~viewgen.server.frames.pack_frame`). The frame header holds ``index``, ``seq`` (to
acknowledge), ``epoch`` (bumped by every load/restart), ``cursor`` ``[x, y]`` in [0, 1],
``gen_ms``, ``rgb_bytes``, ``disparity_bytes``, ``kept`` (frames kept for the MP4),
``playing`` and ``repeat`` (true when the current frame is sent again, e.g. with its
disparity after "Show disparity" while paused). Page -> server: JSON text commands, see
:meth:`Session.handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import Tensor

from viewgen.errors import one_line as _one_line
from viewgen.server.commands import CommandError, fraction, integer, number
from viewgen.server.flight import Flight
from viewgen.server.frames import FrameWindow, pack_frame, unpack_frame
from viewgen.server.world_flight import WORLD_COMMANDS, WorldControls

if TYPE_CHECKING:
    from viewgen.server.manager import SessionManager

__all__ = ["CLICK_FRAMES", "CURSOR_DECAY", "CommandError", "FlightSource", "Session", "SessionClosed",
           "SessionSettings", "pack_frame", "unpack_frame"]

CURSOR_DECAY = 0.9  # the original demo: x = 0.5 + (x - 0.5) * 0.9 per frame after the click's frames
CLICK_FRAMES = 2  # the original's cursor_count + 1: frames that use a click at full strength
MAX_LOADS = 2  # loads (samples, restarts, uploads) a session may have running at once


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


class SessionClosed(RuntimeError):
    """The session ended (its page left) before the work could start."""


class Session:
    """The state of one tab's flight. Create through :meth:`SessionManager.open`."""

    def __init__(self, session_id: str, websocket, manager: SessionManager) -> None:
        self.id = session_id
        self.websocket = websocket
        self.manager = manager
        self.settings = manager.settings
        self.flight = Flight(manager.pipeline_factory, manager.driver, self.settings.jpeg_quality)
        self.source: FlightSource | None = None
        self.epoch = 0
        self.frame_index = 0
        self.playing = False
        self.pending_steps = 0
        self.stopped: str | None = None  # why the flight stopped (a crash), until a load starts another
        self.window = FrameWindow(self.settings.max_unacked)
        self.cursor = [0.5, 0.5]
        self.speed = 1.0
        self.max_fps = 0.0  # 0 = as fast as the page takes them
        self.show_disparity = False
        self.world = WorldControls(manager.driver)  # "Remember the world" and Fly back
        self.frames: deque[bytes] = deque(maxlen=self.settings.max_kept_frames)
        self.closed = False
        self.last_input = time.monotonic()
        self.loading = 0  # loads running (each paused the flight when it was asked for)
        self.uploading = False
        self._click_frames_left = 0
        self._steer_count = 0  # bumped by every click
        self._resend_wanted = False
        self._changed = asyncio.Event()
        self._pipeline_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._last_start = -math.inf  # loop time the last generation started
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
                "index": self.frame_index, "epoch": self.epoch, "loading": self.loading > 0,
                "stopped": self.stopped is not None, **self.world.state(self.stopped is not None)}

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
        ``value`` (0 = no limit), ``disparity`` + ``on``, ``world_memory`` + ``on``, ``fly_back``
        (:mod:`~viewgen.server.world_flight`), ``ack`` + ``seq`` (the page drew that frame; while
        playing this also counts as activity for the idle timeout). After a flight stopped (a crash,
        a fly-back's end), ``play``, ``step`` and ``fly_back`` are answered with its notice until a load.
        Raises :class:`CommandError` for anything else.
        """
        kind = message.get("type")
        if kind == "ack":
            if self.window.ack(integer(message.get("seq"), "an ack's seq")):
                if self.playing:
                    self.touch()  # a page drawing a playing flight is in use
                self._changed.set()
            return
        self.touch()
        if kind in ("restart", "sample"):
            self._spawn_load(self.manager.source_for(kind, message, self.source))
        elif kind in ("play", "step", "fly_back") and self.stopped is not None and self.loading == 0:
            await self.send_json({"type": "notice", "message": self.stopped})  # stays paused
        elif kind in WORLD_COMMANDS:
            ready = self.source is not None and self.loading == 0
            self.playing = self.world.command(kind, message, self.frame_index if ready else None) or self.playing
        elif kind == "steer":
            self.cursor = [fraction(message.get("x"), "x"), fraction(message.get("y"), "y")]
            self._click_frames_left, self._steer_count = CLICK_FRAMES, self._steer_count + 1
        else:
            self._apply_setting(kind, message)
        self._changed.set()
        await self.send_json(self.state_message())

    def _apply_setting(self, kind, message: Mapping[str, Any]) -> None:
        if kind == "play":
            self.playing = True
        elif kind == "pause":
            self.playing, self.pending_steps = False, 0
        elif kind == "step":
            self.playing = False
            self.pending_steps = min(self.pending_steps + 1, self.settings.max_pending_steps)
        elif kind == "speed":
            low, high = self.settings.speed_range
            self.speed = min(max(number(message.get("value"), "speed"), low), high)
        elif kind == "max_fps":
            self.max_fps = min(max(number(message.get("value"), "max_fps"), 0.0), self.settings.fps_limit_max)
        elif kind == "disparity":
            self.show_disparity = bool(message.get("on"))
            self._resend_wanted = self.show_disparity and self.source is not None
        else:
            raise CommandError(f"unknown command {kind!r}")

    def _spawn_load(self, get_source) -> None:
        if self.loading >= MAX_LOADS:
            raise CommandError("still loading the previous image; try again in a moment")
        epoch = self.begin_load()
        task = asyncio.get_running_loop().create_task(self._load(epoch, get_source))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, epoch: int, get_source) -> None:
        try:
            await self.start_flight(await get_source(), epoch)
        except (asyncio.CancelledError, SessionClosed):
            raise
        except Exception as error:  # noqa: BLE001 - reported to the page, the session lives on
            await self.send_json({"type": "error", "message": _one_line(error)})
        finally:
            self.end_load()

    # ------------------------------------------------------------------ the flight

    def begin_load(self) -> int:
        """A new image is coming: pause (a later Play is kept), drop the old flight's work. -> its epoch."""
        self.epoch += 1
        self.playing, self.pending_steps, self._resend_wanted = False, 0, False
        self.loading += 1
        self._changed.set()
        return self.epoch

    def end_load(self) -> None:
        self.loading = max(0, self.loading - 1)
        self._changed.set()

    async def start_flight(self, source: FlightSource, epoch: int) -> None:
        """Start the flight of load ``epoch`` (from :meth:`begin_load`) at ``source``: frame 0 is sent.

        Does nothing when a newer load has begun meanwhile.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        remember = self.world.remember
        result = await self._in_worker(self.flight.reset, source.rgbd, source.intrinsics, self.speed,
                                       self.show_disparity, remember, epoch=epoch)
        if result is None or self.closed or epoch != self.epoch:
            return
        (frame_index, rgb_jpeg, disparity_jpeg), input_warnings = result
        self.source, self.stopped = source, None
        self.world.started(remember)
        self.cursor, self._click_frames_left = [0.5, 0.5], 0
        self.frames.clear()
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

    async def input_size(self) -> tuple[int, int]:
        """``(H, W)`` an upload is prepared at; makes this session's pipeline (in a worker thread) on first use."""
        return await self._in_worker(self.flight.input_size)

    async def _emit(self, index: int, rgb_jpeg: bytes, disparity_jpeg: bytes | None, gen_ms: float,
                    repeat: bool = False) -> None:
        self.frame_index = index
        if not repeat:
            self.frames.append(rgb_jpeg)
        header = {"type": "frame", "index": index, "seq": self.window.open(), "epoch": self.epoch,
                  "cursor": [round(c, 5) for c in self.cursor], "gen_ms": round(gen_ms, 1),
                  "kept": len(self.frames), "playing": self.playing, "repeat": repeat}
        self.manager.note_work()
        await self._send(data=pack_frame(header, rgb_jpeg, disparity_jpeg))

    def _wants_frame(self) -> bool:
        return (self.source is not None and self.flight.pipeline is not None and self.loading == 0
                and (self._resend_wanted or (self.stopped is None and (self.playing or self.pending_steps > 0)))
                and self.window.has_room())

    async def run_frames(self) -> None:
        """The frame loop (see the module docstring); runs until the session closes."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            self._changed.clear()
            if not self._wants_frame():
                await self._changed.wait()
                continue
            if self._resend_wanted and not self.playing and self.pending_steps == 0:
                self._resend_wanted = False
                await self._resend_current()
                continue
            if self.playing and self.max_fps > 0:
                delay = self._last_start + 1.0 / self.max_fps - loop.time()
                if delay > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), delay)
                    continue
            try:
                await self._generate()
            except SessionClosed:
                return

    async def _generate(self) -> None:
        """One step of the flight, sent; the cursor then moves on as in the original demo."""
        loop = asyncio.get_running_loop()
        if not self.playing:
            self.pending_steps -= 1
        self._resend_wanted = False  # the step carries the disparity when it is shown
        epoch, clicks = self.epoch, self._steer_count
        offset = (2.0 * self.cursor[0] - 1.0, 2.0 * self.cursor[1] - 1.0)
        started = self._last_start = loop.time()
        try:
            result = await self._in_worker(self.flight.step, offset, self.speed, self.show_disparity,
                                           self.world.take_fly_back(), epoch=epoch)
        except SessionClosed:
            raise
        except Exception as error:  # noqa: BLE001 - reported, the flight pauses
            self.playing, self.pending_steps = False, 0
            await self.send_json({"type": "error", "message": f"frame generation failed: {_one_line(error)}"})
            await self.send_json(self.state_message())
            return
        if result is None or self.closed or epoch != self.epoch:
            return  # a load or restart came in meanwhile: this frame belongs to the old flight
        if clicks == self._steer_count:  # no click arrived while generating: this frame used the cursor
            self._advance_cursor()
        encoded, notice = result
        if notice is not None and notice.stopped:
            self.stopped, self.playing, self.pending_steps = notice.message, False, 0
        await self._emit(*encoded, (loop.time() - started) * 1000)
        if notice is not None:
            await self.send_json({"type": "notice", "message": notice.message})
            await self.send_json(self.state_message())

    def _advance_cursor(self) -> None:
        if self._click_frames_left > 0:
            self._click_frames_left -= 1
        if self._click_frames_left == 0:
            self.cursor = [0.5 + (c - 0.5) * CURSOR_DECAY for c in self.cursor]

    async def _resend_current(self) -> None:
        epoch = self.epoch
        result = await self._in_worker(self.flight.current, epoch=epoch)
        if result is not None and not self.closed and epoch == self.epoch:
            await self._emit(*result, 0.0, repeat=True)

    async def close(self) -> None:
        """Stop everything this session started and drop its pipeline and frames."""
        self.closed = True
        self._changed.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        async with self._pipeline_lock:  # wait for a generation still in a worker thread
            self.frames.clear()
            self.flight.drop()
            self.source = None
