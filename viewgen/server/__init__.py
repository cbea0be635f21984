"""The web demo (``viewgen serve``): a FastAPI app streaming a fly-through to a page per tab.

Needs the ``serve`` extra (``pip install "viewgen[serve]"``). :func:`create_app` is imported
lazily so that importing this package does not import FastAPI.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from viewgen.server.app import create_app

        return create_app
    raise AttributeError(f"module 'viewgen.server' has no attribute {name!r}")
