"""Which ``Host`` and ``Origin`` headers the demo answers: a defence against DNS rebinding.

A page on another site can make its own domain name resolve to this machine (DNS rebinding);
the browser then sends that domain as ``Host`` and ``Origin``, so comparing the two proves
nothing. The server therefore answers only known host names: the loopback names, the
address it listens on and the names given with ``--allow-host``. Listening on an unspecified
address (``0.0.0.0`` / ``::``) also admits any IP-address literal, since a rebinding attack
needs a domain name. A browser request's ``Origin`` must name this same server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "HostPolicy", "host_name"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(netloc: str) -> str:
    """``"Example.org:8000"`` -> ``"example.org"``, ``"[::1]:80"`` -> ``"::1"`` (no port, lower case)."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    if netloc.count(":") > 1:  # a bare IPv6 address
        return netloc
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class HostPolicy:
    """The host names one server answers to.

    names: extra host names or addresses (the ``--host`` value, ``--allow-host`` names); an
        unspecified address among them admits every IP-address literal. The loopback names
        are always allowed.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        cleaned = {host_name(name) for name in names if name and name.strip()}
        self.any_ip = any((address := _ip(name)) is not None and address.is_unspecified for name in cleaned)
        self.names = frozenset(cleaned | set(LOOPBACK_NAMES))

    def host_allowed(self, host_header: str | None) -> bool:
        """True when the request's ``Host`` names this server (a missing ``Host`` is refused)."""
        if not host_header:
            return False
        name = host_name(host_header)
        if name in self.names:
            return True
        address = _ip(name)
        return address is not None and (self.any_ip or address.is_loopback)

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """True without an ``Origin`` (not a browser page) or when it is this very server."""
        if origin is None:
            return True
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed or file pages) and other schemes
        return self.host_allowed(parts.netloc) and parts.netloc.lower() == (host_header or "").strip().lower()

    def describe(self) -> str:
        """The allowed names for messages, e.g. ``"127.0.0.1, ::1, localhost"``."""
        names = sorted(self.names)
        return ", ".join(names) + (" and any IP address" if self.any_ip else "")
