"""The open sessions of one app, the embedded samples, and memory given back when work stops."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import torch
from torch import Tensor

from viewgen.server.commands import CommandError, integer
from viewgen.server.flight import FlightDriver, FlyThroughDriver
from viewgen.server.memory import release_memory
from viewgen.server.sessions import FlightSource, Session, SessionSettings

__all__ = ["SessionManager", "source_from_loaded"]


class SessionManager:
    """The open sessions of one app, at most ``max_sessions`` of them.

    pipeline_factory: ``() -> pipeline``, called once per session (in a worker thread); the pipeline is
        of the family ``driver`` drives.
    samples: ordered ``{name: loader}``, each loader ``() -> object with .rgbd [1, 4, H, W] and
        .intrinsics [4] | None`` (e.g. ``viewgen.data.samples.load_sample``).
    executor: where pipelines, depth estimation, decoding and encoding run.
    idle_release_s: after this long without generating (and after every session's end) the
        freed heap is returned to the OS (:func:`viewgen.server.memory.release_memory`).
    driver: the :class:`~viewgen.server.flight.FlightDriver` class of the pipelines (the model that flies).
    """

    def __init__(self, pipeline_factory: Callable[[], Any], samples: Mapping[str, Callable[[], Any]],
                 executor: Executor, max_sessions: int, settings: SessionSettings,
                 idle_release_s: float = 5.0, driver: type[FlightDriver] = FlyThroughDriver) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        self.pipeline_factory = pipeline_factory
        self.samples = dict(samples)
        self.executor = executor
        self.max_sessions = max_sessions
        self.settings = settings
        self.idle_release_s = idle_release_s
        self.driver = driver
        self.sessions: dict[str, Session] = {}
        self.memory_releases = 0
        self._sample_cache: dict[int, FlightSource] = {}
        self._closing: set[asyncio.Task] = set()
        self._worked_at: float | None = None  # loop time of the last work not yet followed by a release

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
        """End ``session`` and give the memory it used back to the OS.

        The work runs in a task of its own, so it completes even when the caller (the socket's
        handler) is being cancelled.
        """
        self.sessions.pop(session.id, None)
        task = asyncio.get_running_loop().create_task(self._finish(session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        await asyncio.shield(task)

    async def _finish(self, session: Session) -> None:
        await session.close()
        await self.release_memory()

    def note_work(self) -> None:
        """Something allocated (a frame, an upload): release memory once the server idles."""
        self._worked_at = asyncio.get_running_loop().time()

    async def release_memory(self) -> None:
        """Collect garbage and trim the heap, in a worker thread (skipped once the executor is shut down)."""
        self._worked_at = None
        with contextlib.suppress(RuntimeError):  # executor shut down: the process is ending anyway
            await asyncio.get_running_loop().run_in_executor(self.executor, release_memory)
            self.memory_releases += 1

    async def release_when_idle(self, poll_s: float = 1.0) -> None:
        """Run for the app's lifetime: release memory ``idle_release_s`` after the last work."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(poll_s, self.idle_release_s))
            if self._worked_at is not None and loop.time() - self._worked_at >= self.idle_release_s:
                await self.release_memory()

    def source_for(self, kind: str, message: Mapping[str, Any], current: FlightSource | None):
        """A coroutine function giving the :class:`FlightSource` a session's ``restart`` (``current`` again) or
        ``sample`` + ``index`` command asks for; :class:`CommandError` when there is none."""
        if kind == "restart":
            if current is None:
                raise CommandError("nothing to restart: pick a sample or upload an image first")

            async def same():
                return current
            return same
        index = integer(message.get("index"), "sample index")
        if not 1 <= index <= len(self.samples):
            raise CommandError(f"no sample {index}: there are {len(self.samples)}")
        return lambda: self.sample_source(index)

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
