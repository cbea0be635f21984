"""SIGTERM handled like Ctrl-C: what ``timeout``, ``kill``, ``docker stop`` and systemd send.

While :func:`terminate_as_interrupt` is active, SIGTERM raises :class:`Terminated`, a
``KeyboardInterrupt``, in the main thread: the same code that keeps the frames done before a
Ctrl-C keeps them, temporary files are removed, and the command exits with ``128 + 15 = 143``
(130 for Ctrl-C). Further SIGTERMs while that cleanup runs are ignored, so a repeated ``kill``
cannot cut the finalisation short (SIGKILL still can).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "finish_interrupted", "interrupt_exit_status", "terminate_as_interrupt"]

CTRL_C_EXIT_STATUS = 128 + signal.SIGINT


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (or another terminating signal) and stops as on Ctrl-C."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"received {signal.Signals(signal_number).name}")
        self.signal_number = signal_number


def interrupt_exit_status(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    if isinstance(interrupt, Terminated):
        return 128 + interrupt.signal_number
    return CTRL_C_EXIT_STATUS


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (once); the old handler returns after it.

    Does nothing outside the main thread, where Python cannot install signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handle(signal_number: int, frame) -> None:
        if received:
            return  # already stopping: let the cleanup finish
        received.append(signal_number)
        raise Terminated(signal_number)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def finish_interrupted(interrupt: KeyboardInterrupt, writer, out: str) -> int:
    """After a Ctrl-C or SIGTERM: publish the frames a ``writer`` (:mod:`viewgen.io.video`) holds, if any, say
    what was left on stderr, and return the exit status (130 or 143)."""
    from viewgen.errors import ViewgenError, one_line

    status = interrupt_exit_status(interrupt)
    cause = "viewgen: interrupted" if status == 130 else "viewgen: terminated"
    done = f"{writer.frames_written} frame{'s' if writer.frames_written != 1 else ''}"
    if writer.frames_written == 0:
        writer.discard()
        print(f"{cause} before the first frame: nothing was written to {out}", file=sys.stderr)
        return status
    try:
        writer.close()
    except (OSError, ViewgenError, ValueError) as error:
        reason = one_line(error)
        print(f"{cause}: could not save the {done} done so far ({reason}); "
              f"{out} was not changed", file=sys.stderr)
        return status
    print(f"{cause}: saved the {done} done so far to {out}", file=sys.stderr)
    return status
