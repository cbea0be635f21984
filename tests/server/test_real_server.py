"""The app under a real uvicorn: clients that vanish mid-flight, several at once."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")
httpx = pytest.importorskip("httpx")

from websockets.sync.client import connect  # noqa: E402

from tests.helpers.serve import PipelineFactory, StandInDepth, png_bytes, running_server, toy_samples  # noqa: E402
from viewgen.server.app import create_app  # noqa: E402
from viewgen.server.sessions import unpack_frame  # noqa: E402


def next_frame(ws, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            header = unpack_frame(message)[0]
            ws.send(json.dumps({"type": "ack", "seq": header["seq"]}))
            return header


def next_json(ws, kind: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, str) and json.loads(message)["type"] == kind:
            return json.loads(message)


def sessions(url: str) -> int:
    return httpx.get(url + "/api/status", timeout=5).json()["sessions"]


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_clients_vanishing_mid_flight_free_their_sessions(caplog):
    caplog.set_level(logging.WARNING)
    factory = PipelineFactory(step_delay_s=0.3)
    app = create_app(factory, StandInDepth(), samples=toy_samples(), max_sessions=2)
    with running_server(app) as url:
        ws_url = url.replace("http", "ws") + "/ws"
        # 1. The TCP connection drops (no close handshake) while a frame is being generated.
        with connect(ws_url) as dropped:
            next_json(dropped, "hello")
            dropped.send(json.dumps({"type": "sample", "index": 1}))
            assert next_frame(dropped)["index"] == 0
            dropped.send(json.dumps({"type": "play"}))
            assert next_frame(dropped)["index"] == 1
            time.sleep(0.1)  # frame 2 is in the model now
            dropped.socket.shutdown(socket.SHUT_RDWR)
            dropped.socket.close()
        # 2. A client that leaves while its upload is being processed.
        with connect(ws_url) as polite:
            session = next_json(polite, "hello")["session"]
            polite.send(json.dumps({"type": "sample", "index": 2}))
            next_frame(polite)
            polite.send(json.dumps({"type": "play"}))
            next_frame(polite)
            results = []
            upload = threading.Thread(target=lambda: results.append(httpx.post(
                f"{url}/api/sessions/{session}/upload", content=png_bytes(), timeout=10)))
            upload.start()
            time.sleep(0.05)
        upload.join(timeout=10)
        assert results and results[0].status_code in (200, 404, 410), results[0].text
        wait_until(lambda: sessions(url) == 0)
        pipeline = factory.made[0]
        time.sleep(0.5)
        steps = pipeline.steps_finished
        time.sleep(0.8)
        assert pipeline.steps_finished == steps  # nothing runs for a session that is gone

        # 3. The server still serves: two new clients fly at once.
        with connect(ws_url) as first, connect(ws_url) as second:
            for ws, sample in ((first, 1), (second, 3)):
                next_json(ws, "hello")
                ws.send(json.dumps({"type": "sample", "index": sample}))
                assert next_frame(ws)["index"] == 0
                ws.send(json.dumps({"type": "play"}))
            started = time.monotonic()
            for expected in (1, 2, 3):
                assert next_frame(first)["index"] == expected
                assert next_frame(second)["index"] == expected
            # 0.3 s per frame: the two sessions generated in parallel, not one after the other.
            assert time.monotonic() - started < 6 * 0.3 + 0.6
        assert httpx.get(url + "/", timeout=5).status_code == 200
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]
