"""Hold Ctrl-C and SIGTERM back for the moment a frame is written, so it is written whole or not at all.

A Python signal handler runs between two bytecodes of the main thread, possibly in the middle of
a frame: after ffmpeg received all of its bytes but before the writer counted it, or halfway
through a PNG. :func:`interrupts_deferred` replaces the SIGINT and SIGTERM handlers for the
duration of the block with one that only records the signal, then restores them and hands a
recorded signal to its own handler, so the ``KeyboardInterrupt`` comes right after the block.
A second signal during the block is handed on at once, so a writer stuck on a hung encoder can
still be interrupted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["interrupts_deferred"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _deliver(number: int, handler, frame) -> None:
    """What the process would have done on signal ``number`` with ``handler`` installed."""
    if callable(handler):
        handler(number, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(number)  # the default action (handler restored already)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block, the first SIGINT / SIGTERM waits until the block ends (main thread only).

    Elsewhere Python runs no signal handlers, so nothing needs holding back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _SIGNALS}
    previous = {number: handler for number, handler in previous.items() if handler is not None}
    pending: list[tuple[int, object]] = []

    def record(number: int, frame) -> None:
        if pending:  # a second signal: do not wait any longer
            _deliver(number, previous[number], frame)
        pending.append((number, frame))

    for number in previous:
        signal.signal(number, record)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if pending:
            number, frame = pending[0]
            _deliver(number, previous[number], frame)
