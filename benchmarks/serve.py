"""The web demo under load: memory kept after sessions end, and the frame rate at a limit.

    python benchmarks/serve.py memory [--sessions 20] [--frames 12] [--at-once 4]
    python benchmarks/serve.py fps [--limit 10] [--seconds 6]

Both serve the real app (weight-free refiner, embedded samples, default flight size) with
uvicorn in a thread of this process and drive it with WebSocket clients that acknowledge every
frame as a page does. ``memory`` prints this process's resident memory (RSS, from
``/proc/self/statm``) before any session, right after the last one ended and after the server
has been idle for a few seconds. ``fps`` prints the frames/s a playing client receives at a
frame-rate limit, next to the generation time. Numbers vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.helpers

from tests.helpers.serve import running_server  # noqa: E402
from viewgen.cli.serve import _pipeline_factory  # noqa: E402
from viewgen.server.app import create_app  # noqa: E402
from viewgen.server.sessions import unpack_frame  # noqa: E402


def rss_mib() -> float:
    """Resident memory of this process now, MiB."""
    with open("/proc/self/statm") as stream:
        pages = int(stream.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def fly(ws_url: str, frames: int, limit: float = 0.0, seconds: float = 0.0) -> list[tuple[float, float]]:
    """One tab: load sample 1, play ``frames`` frames (or for ``seconds``), return (arrival s, gen ms)."""
    from websockets.sync.client import connect

    arrivals = []
    with connect(ws_url, max_size=1 << 24) as ws:
        ws.send(json.dumps({"type": "sample", "index": 1}))
        if limit:
            ws.send(json.dumps({"type": "max_fps", "value": limit}))
        started = time.monotonic()
        while True:
            message = ws.recv(timeout=60)
            if isinstance(message, str):
                continue
            header = unpack_frame(message)[0]
            ws.send(json.dumps({"type": "ack", "index": header["index"], "seq": header.get("seq")}))
            if header["index"] == 0:
                ws.send(json.dumps({"type": "play"}))
            else:
                arrivals.append((time.monotonic() - started, header["gen_ms"]))
            if (frames and len(arrivals) >= frames) or (seconds and time.monotonic() - started > seconds):
                return arrivals


def wait_for_no_sessions(url: str, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while httpx.get(url + "/api/status", timeout=10).json()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.05)


def run_memory(url: str, sessions: int, frames: int, at_once: int) -> None:
    ws_url = url.replace("http", "ws") + "/ws"
    print(f"RSS before any session: {rss_mib():7.0f} MiB")
    done = 0
    while done < sessions:
        batch = [threading.Thread(target=fly, args=(ws_url, frames)) for _ in range(min(at_once, sessions - done))]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
        done += len(batch)
        wait_for_no_sessions(url)
    time.sleep(0.5)
    print(f"RSS after {sessions} sessions ended: {rss_mib():7.0f} MiB")
    time.sleep(6)
    print(f"RSS after 6 s idle:           {rss_mib():7.0f} MiB")
    print(f"threads alive: {threading.active_count()}")


def run_fps(url: str, limit: float, seconds: float) -> None:
    arrivals = fly(url.replace("http", "ws") + "/ws", 0, limit=limit, seconds=seconds)
    times = [t for t, _ in arrivals][2:]  # skip the start-up frames
    rate = (len(times) - 1) / (times[-1] - times[0])
    gen = statistics.median(ms for _, ms in arrivals)
    print(f"limit {limit:g} /s: {rate:.2f} frames/s received, generation median {gen:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("memory", "fps"))
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    factory, _ = _pipeline_factory(None, "cpu")
    app = create_app(factory, None, max_sessions=max(4, args.at_once), idle_timeout_s=600)
    with running_server(app) as url:
        if args.mode == "memory":
            run_memory(url, args.sessions, args.frames, args.at_once)
        else:
            run_fps(url, args.limit, args.seconds)
    os._exit(0)  # skip interpreter teardown of the server thread


if __name__ == "__main__":
    main()
