"""``viewgen serve``: the web demo on this machine (FastAPI + uvicorn, the ``serve`` extra).

Binds 127.0.0.1:8000 by default (only this machine can connect) and prints the URL. Each
browser tab gets its own flight; ``--weights`` flies with the converted Infinite Nature
networks (loaded once, shared read-only by the sessions), without it with the weight-free
refiner. ``--model infinite-nature-zero --weights DIR`` flies Infinite Nature Zero instead (the
original ``*latest.tar``, its folder or a release folder; it has no weight-free default, so
without ``--weights`` it is a one-line error before anything starts). Uploaded photos get
their disparity from the ``--depth`` backend, which is built on the first upload (downloading
its weights if needed, with progress in the page), never before the URL is printed.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from argparse import Namespace
from pathlib import Path

from viewgen.cli.fly import MODELS
from viewgen.cli.fly_zero import MODEL as ZERO_MODEL
from viewgen.errors import ViewgenRuntimeError

__all__ = ["add_parser", "bind_socket", "run", "url_for"]

INSTALL_HINT = 'pip install "viewgen[serve]"'


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``viewgen serve`` on ``subparsers`` (from ``parser.add_subparsers()``)."""
    serve = subparsers.add_parser("serve", help="the web demo: fly into a photo in your browser",
                                  description="Serve the web demo: pick or upload a photo and fly into it, "
                                              "steering with the mouse. Each browser tab gets its own flight.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it "
                            "to the network)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="another host name the browser may use for this server (e.g. this machine's "
                            "name on the network); repeatable. Loopback names and --host are always allowed")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--model", choices=MODELS, default="infinite-nature",
                       help="the model that flies: infinite-nature (default; weight-free without --weights) or "
                            f"{ZERO_MODEL} (needs --weights; flies 128x128 frames with the released model)")
    serve.add_argument("--weights", default=None, metavar="DIR",
                       help="converted Infinite Nature weights (see `viewgen convert`; default: the weight-free "
                            f"refiner); for {ZERO_MODEL} the original *latest.tar, the folder holding it, or a "
                            f"folder of `viewgen convert {ZERO_MODEL}`")
    serve.add_argument("--enr-weights", default=None, metavar="PATH",
                       help="the object mode's ENR model (/objects): Apple's .pt or a release folder "
                            "(default: the embedded model, trained on synthetic objects)")
    serve.add_argument("--enr-precision", choices=("exact", "fast"), default="exact",
                       help="the object mode's arithmetic: exact (default, float32) or fast (bfloat16 on a GPU or a "
                            "CPU with native bfloat16)")
    serve.add_argument("--depth", default=None, metavar="NAME",
                       help="depth backend for uploaded photos (default: viewgen.depth's default backend)")
    serve.add_argument("--device", default="cpu", help="torch device for the flights (default cpu)")
    serve.add_argument("--max-sessions", type=int, default=4, help="browser tabs served at once (default 4)")
    serve.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
                       help="close a tab's session after this long without input (default 600)")
    serve.set_defaults(run=run)
    return serve


def url_for(host: str, port: int) -> str:
    """The URL a browser on this machine should open for a server bound to ``host:port``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}/"
    if address.is_unspecified:
        return f"http://{'[::1]' if address.version == 6 else '127.0.0.1'}:{port}/"
    return f"http://[{host}]:{port}/" if address.version == 6 else f"http://{host}:{port}/"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``OSError`` with a one-line message when it is taken."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must lie in 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise OSError(f"cannot listen on {host!r}: {error.strerror}") from error
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is already in use; stop the other server or pick "
                          f"another port with --port") from error
        if error.errno in (errno.EACCES, errno.EPERM):
            raise OSError(f"no permission to listen on port {port}; use a port above 1023") from error
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.setblocking(False)
    return sock


def _require_server_packages():
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as error:
        raise ViewgenRuntimeError(f"viewgen serve needs FastAPI and uvicorn ({error.name} is missing): "
                                  f"{INSTALL_HINT}") from error
    return uvicorn


def _check_model_args(args: Namespace) -> None:
    """``viewgen fly``'s model checks, one line each, before the port is bound: Infinite Nature Zero needs
    --weights that exist (and says where to download them); Zero weights need ``--model infinite-nature-zero``."""
    from viewgen.cli.fly_zero import check_not_zero_weights, check_zero_weights

    if args.model == ZERO_MODEL:
        check_zero_weights(args.weights)
    else:
        check_not_zero_weights(args.weights)


def _pipeline_factory(model: str, weights: str | None, device: str):
    """Check the pipeline loads now (one-line errors before serving), then one pipeline per session.

    Returns ``(factory, description)``.
    """
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    if model == ZERO_MODEL:
        from viewgen.server.zero_flight import shared_pipeline_factory

        factory, shared = shared_pipeline_factory(weights, device)
        side = shared.refiner.image_size[0]
        return factory, f"Infinite Nature Zero weights {weights} ({side}x{side} frames)"
    if weights is not None:
        shared = FlyThroughPipeline.from_pretrained(weights, device=device)
        # The SPADE networks are stateless at inference (eval mode, no buffers updated), so the
        # sessions share them; each session gets its own pipeline object for its flight state.
        return lambda: FlyThroughPipeline(refiner=shared.refiner, config=shared.config), "Infinite Nature weights"
    try:
        FlyThroughPipeline.load(None, FlyThroughConfig(device=device))
    except ImportError as error:
        raise ViewgenRuntimeError(f"the weight-free refiner is not available ({error}); give --weights DIR") from error
    return lambda: FlyThroughPipeline.load(None, FlyThroughConfig(device=device)), "weight-free refiner"


def _novel_view_factory(weights: str | None, device: str, precision: str = "exact"):
    """``(factory, description)`` of the object mode; given weights are loaded now (one-line errors before
    serving), the embedded model on the page's first use (its precision checked now)."""
    from viewgen import devices
    from viewgen.pipelines.novel_view import NovelViewPipeline

    devices.check_precision(precision, devices.usable_device(device), what="--enr-precision")
    if weights is None:
        return ((lambda: NovelViewPipeline.default(device=device, precision=precision)),
                f"embedded ENR model for /objects ({precision})")
    if not Path(weights).exists():
        raise FileNotFoundError(f"--enr-weights {weights} does not exist")
    pipe = NovelViewPipeline.from_pretrained(weights, device=device, precision=precision)
    return (lambda: pipe), f"ENR weights {weights} for /objects ({precision})"


def _depth_backend(name: str | None, device: str):
    """``(backend or None, description, note or None)``, built on the first upload (serving starts at once).

    An unknown ``name`` or an unreadable ``file:PATH`` is a one-line error now; missing
    weights are said on the page, with the command that fetches them.
    """
    try:
        from viewgen.depth import DEFAULT_BACKEND
        from viewgen.server.depth import registry_depth
    except ImportError as error:
        if name is not None:
            raise ViewgenRuntimeError(f"depth backends are not available ({error})") from error
        return None, "uploads off (no depth backend available)", None
    backend = registry_depth(name or DEFAULT_BACKEND, device)
    possible, note = backend.availability()
    if not possible:
        return backend, "uploads off for now", note
    when = "" if backend.is_ready else " (built on the first upload)"
    return backend, f"{backend.name} depth for uploads{when}", note


def run(args: Namespace) -> int:
    uvicorn = _require_server_packages()
    from viewgen.server.app import create_app

    if args.max_sessions < 1:
        raise ValueError(f"--max-sessions must be >= 1, got {args.max_sessions}")
    if not args.idle_timeout > 0:
        raise ValueError(f"--idle-timeout must be > 0, got {args.idle_timeout}")
    _check_model_args(args)
    sock = bind_socket(args.host, args.port)  # fail fast, before loading anything
    try:
        factory, refiner_text = _pipeline_factory(args.model, args.weights, args.device)
        depth, depth_text, depth_note = _depth_backend(args.depth, args.device)
        objects, objects_text = _novel_view_factory(args.enr_weights, args.device, args.enr_precision)
        app = create_app(factory, depth, max_sessions=args.max_sessions, idle_timeout_s=args.idle_timeout,
                         allowed_hosts=[args.host, *args.allow_host], novel_view_factory=objects,
                         model=args.model)
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", ws_max_size=1 << 20, timeout_graceful_shutdown=3,
                                lifespan="on")
        server = uvicorn.Server(config)
        print(f"viewgen serve: {refiner_text}, {depth_text}, {objects_text}, up to {args.max_sessions} tabs",
              flush=True)
        if depth_note:
            print(f"viewgen serve: {depth_note}", flush=True)
        print(f"viewgen serve: open {url_for(args.host, port)} in a browser (Ctrl+C to stop)", flush=True)
        if not _is_loopback(args.host):
            print(f"viewgen serve: warning: listening on {args.host}, reachable from other machines", file=sys.stderr)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises Ctrl+C
            pass
        print("viewgen serve: stopped", flush=True)
    finally:
        sock.close()
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
