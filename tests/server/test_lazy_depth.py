"""The depth backend is built on the first upload, with progress; missing weights name the fix."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.helpers.serve import StandInDepth, make_client, next_frame, next_json, open_flight, png_bytes  # noqa: E402
from viewgen.server.depth import LazyDepth, registry_depth  # noqa: E402


class SlowBuild:
    """Builds the stand-in model after ``delay_s``, reporting progress like a download."""

    def __init__(self, delay_s: float = 1.2, fail: str | None = None):
        self.delay_s, self.fail, self.calls = delay_s, fail, 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.delay_s)
        if self.fail:
            raise FileNotFoundError(self.fail)
        return StandInDepth()


def upload_in_thread(client, session: str, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(
        client.post(f"/api/sessions/{session}/upload?name=field.png", content=png_bytes())))
    thread.start()
    return thread


def test_first_upload_builds_the_backend_and_the_page_sees_progress(factory):
    build = SlowBuild()
    depth = LazyDepth("stand-in", build, progress=lambda: "Downloading the stand-in depth weights: 3 MB so far…")
    with make_client(factory, depth) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        assert build.calls == 0  # nothing built before an upload
        results = []
        thread = upload_in_thread(client, session, results)
        progress = next_json(ws, "progress")
        assert "3 MB so far" in progress["message"]
        ws.send_json({"type": "play"})  # pressed while the image loads: kept
        header = next_frame(ws)[0]
        thread.join(timeout=15)
        assert results[0].status_code == 200, results[0].text
        assert header["index"] == 0 and header["epoch"] == 2
        assert next_frame(ws)[0]["index"] == 1  # playing the new image
        assert client.post(f"/api/sessions/{session}/upload", content=png_bytes()).status_code == 200
        assert build.calls == 1


def test_a_backend_that_cannot_load_says_how_to_fix_it_and_is_retried(factory):
    build = SlowBuild(0.0, fail="midas_v21-f6b98070.pt not in the cache")
    depth = LazyDepth("midas-v21", build, fix_hint="Run `viewgen download midas-v21`, then upload again.")
    with make_client(factory, depth) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        response = client.post(f"/api/sessions/{session}/upload", content=png_bytes())
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "viewgen download midas-v21" in detail and "\n" not in detail
        ws.send_json({"type": "step"})  # the old flight goes on
        assert next_frame(ws)[0]["index"] == 1
        build.fail = None  # e.g. the user ran viewgen download meanwhile
        assert client.post(f"/api/sessions/{session}/upload", content=png_bytes()).status_code == 200
        assert build.calls == 2


def test_missing_weights_offline_turn_uploads_off_with_the_download_command(factory, tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    depth = registry_depth("midas-v21")
    assert not depth.is_ready
    with make_client(factory, depth) as client, client.websocket_connect("/ws") as ws:
        hello = next_json(ws, "hello")
        assert hello["uploads"] is False and "viewgen download midas-v21" in hello["upload_note"]
        response = client.post(f"/api/sessions/{hello['session']}/upload", content=png_bytes())
        assert response.status_code == 503 and "viewgen download midas-v21" in response.json()["detail"]
    monkeypatch.delenv("VIEWGEN_OFFLINE")
    possible, note = registry_depth("midas-v21").availability()
    assert possible and "first upload downloads" in note and "viewgen download midas-v21" in note


def test_viewgen_serve_prints_its_url_before_building_the_depth_backend(monkeypatch, capsys, tmp_path):
    pytest.importorskip("uvicorn")
    import uvicorn

    import viewgen.depth
    from viewgen.cli.main import main

    built = []
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path))
    monkeypatch.setattr(viewgen.depth, "get_estimator", lambda *args, **kwargs: built.append(args))
    monkeypatch.setattr(viewgen.depth.registry, "get_estimator", lambda *args, **kwargs: built.append(args))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    assert main(["serve", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "open http://127.0.0.1:" in out and "built on the first upload" in out
    assert built == []
