"""Ctrl-C in the middle of a run, for the tests of what an interrupted command keeps."""

from __future__ import annotations


def interrupt_on_call(monkeypatch, owner, name: str, call: int) -> None:
    """Patch ``owner.name`` (a class's method or a module's function) so that its ``call``-th call raises
    ``KeyboardInterrupt``; the calls before it run the real one."""
    real, calls = getattr(owner, name), []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)
