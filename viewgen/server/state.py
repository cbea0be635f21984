"""What the routes of the web demo share: one :class:`ServerState` per app (``app.state.server``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from viewgen.server.hosts import HostPolicy
from viewgen.server.manager import SessionManager
from viewgen.server.objects import ObjectViews
from viewgen.server.sessions import SessionSettings
from viewgen.server.upload_route import UploadContext

__all__ = ["ServerState"]


@dataclass
class ServerState:
    """The sessions, limits and helpers every route reads; built by :func:`viewgen.server.app.create_app`."""

    manager: SessionManager
    settings: SessionSettings
    hosts: HostPolicy  # which Host / Origin headers are answered
    uploads: UploadContext
    in_worker: Callable[..., Awaitable[Any]]  # run a slow function on the worker threads
    video_fps: float  # of the downloaded MP4
    max_upload_bytes: int
    max_upload_pixels: int
    index_html: str
    objects: ObjectViews  # the object mode (ENR)
    objects_html: str
    encode_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))  # MP4 encodes, one at a time

    def upload_info(self) -> dict:
        """Whether uploads work now (and why not), with their limits: for the page."""
        possible, note = self.uploads.availability()
        return {"uploads": possible, "upload_note": note, "max_upload_bytes": self.max_upload_bytes,
                "max_upload_pixels": self.max_upload_pixels}
