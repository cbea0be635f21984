"""Moved to :mod:`viewgen.control.fly_dynamic`; this name stays for the public API."""

from viewgen.control.fly_dynamic import FlyDynamic, FlyDynamicConfig

__all__ = ["FlyDynamic", "FlyDynamicConfig"]
