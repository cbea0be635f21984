"""The web demo's HTTP and WebSocket API, through FastAPI's test client (no browser)."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.helpers.serve import (  # noqa: E402
    PipelineFactory,
    StandInDepth,
    jpeg_size,
    make_client,
    next_frame,
    next_json,
    open_flight,
    png_bytes,
    receive,
    wait_until,
)
from viewgen.server.sessions import CURSOR_DECAY  # noqa: E402

# ---------------------------------------------------------------------------------------------


def test_page_static_files_and_status():
    with make_client() as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        for control in ("Play", "Pause", "Step", "Restart", "Upload", "Download MP4", "Show disparity", "Speed"):
            assert control in page.text
        assert "/static/app.js" in page.text and "/static/style.css" in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        script = client.get("/static/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert client.get("/static/style.css").status_code == 200
        status = client.get("/api/status").json()
        assert status["sessions"] == 0 and status["max_sessions"] == 4
        assert status["samples"] == ["coast", "hills", "mountains"] and status["uploads"] is True


def test_sample_play_pause_and_frames(factory):
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        hello = open_flight(ws)
        assert hello["samples"] == ["coast", "hills", "mountains"] and len(hello["session"]) >= 20
        assert client.get("/api/status").json()["sessions"] == 1
        ws.send_json({"type": "play"})
        headers, images = [], []
        for _ in range(6):
            header, rgb, disparity = next_frame(ws)
            headers.append(header)
            images.append(np.asarray(Image.open(io.BytesIO(rgb)), dtype=np.float32))
            assert disparity == b"" and jpeg_size(rgb) == (64, 96)
        assert [h["index"] for h in headers] == list(range(1, 7))
        assert all(h["playing"] for h in headers) and all(h["gen_ms"] >= 0 for h in headers)
        assert np.abs(images[-1] - images[0]).mean() > 1.0  # the view moves
        ws.send_json({"type": "pause"})
        state = next_json(ws, "state")
        assert state["playing"] is False


def test_step_and_steering_decay_like_the_original(factory):
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "step"})
        assert next_frame(ws)[0]["index"] == 1
        ws.send_json({"type": "steer", "x": 1.0, "y": 0.25})
        cursors = []
        for expected_index in range(2, 6):
            ws.send_json({"type": "step"})
            header = next_frame(ws)[0]
            assert header["index"] == expected_index
            cursors.append(header["cursor"])
        offsets = factory.made[0].offsets
        assert offsets[0] == (0.0, 0.0)
        # The click is used for two frames at full strength, then decays by 0.9 per frame.
        expected = [(1.0, -0.5), (1.0, -0.5), (CURSOR_DECAY, -0.5 * CURSOR_DECAY),
                    (CURSOR_DECAY ** 2, -0.5 * CURSOR_DECAY ** 2)]
        assert np.allclose(offsets[1:], expected)
        assert np.allclose(cursors[-1], [0.5 + 0.5 * CURSOR_DECAY ** 3, 0.5 - 0.25 * CURSOR_DECAY ** 3], atol=1e-4)


def test_restart_speed_disparity_and_bad_commands(factory):
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        pipeline = factory.made[0]

        def forward_after(steps: int) -> float:
            for _ in range(steps):
                ws.send_json({"type": "step"})
                next_frame(ws)
            return -float(pipeline.frame.cam_from_world[2, 3])

        slow = forward_after(3)
        ws.send_json({"type": "restart"})
        assert next_frame(ws)[0]["index"] == 0
        assert next_json(ws, "state")["index"] == 0  # sent after the restart's frame 0
        ws.send_json({"type": "speed", "value": 2.0})
        assert next_json(ws, "state")["speed"] == 2.0
        fast = forward_after(3)
        assert fast == pytest.approx(2 * slow, rel=0.05)
        assert pipeline.controller.speed == pytest.approx(2 * pipeline.config.autopilot.speed)  # the pipeline's own

        ws.send_json({"type": "disparity", "on": True})
        assert next_json(ws, "state")["disparity"] is True
        # Paused: the current frame comes again with its disparity (no black panel until the next step).
        header, rgb, disparity = next_frame(ws)
        assert header["repeat"] is True and header["index"] == 3
        assert jpeg_size(disparity) == jpeg_size(rgb) == (64, 96)
        ws.send_json({"type": "step"})
        header, rgb, disparity = next_frame(ws)
        assert header["repeat"] is False and header["index"] == 4
        assert jpeg_size(disparity) == jpeg_size(rgb) == (64, 96)

        for bad, words in ((b"not json", "not valid JSON"), (json.dumps([1, 2]), "JSON object"),
                           (json.dumps({"type": "fly-away"}), "unknown command"),
                           (json.dumps({"type": "speed", "value": "fast"}), "finite number"),
                           (json.dumps({"type": "sample", "index": 9}), "no sample 9")):
            ws.send_text(bad.decode() if isinstance(bad, bytes) else bad)
            assert words in next_json(ws, "error")["message"]
        ws.send_json({"type": "step"})  # still flying
        assert next_frame(ws)[0]["index"] == 5


def test_two_sessions_are_isolated_and_a_slow_client_does_not_block_the_other(factory):
    with make_client(factory, max_unacked=2) as client, \
            client.websocket_connect("/ws") as slow, client.websocket_connect("/ws") as fast:
        hello_slow, hello_fast = open_flight(slow, sample=1), open_flight(fast, sample=2)
        assert hello_slow["session"] != hello_fast["session"]
        assert len(factory.made) == 2 and factory.made[0] is not factory.made[1]
        slow.send_json({"type": "play"})
        fast.send_json({"type": "play"})
        # The slow page stops acknowledging: it gets max_unacked frames, then its session waits.
        unacked = [next_frame(slow, ack=False)[0] for _ in range(2)]
        assert [header["index"] for header in unacked] == [1, 2]
        fast_indices = [next_frame(fast)[0]["index"] for _ in range(12)]
        assert fast_indices == list(range(1, 13))
        assert factory.made[0].frame.index == 2  # the slow session waited for its page
        slow.send_json({"type": "ack", "seq": unacked[0]["seq"]})
        assert next_frame(slow)[0]["index"] == 3
        assert client.get("/api/status").json()["sessions"] == 2


def test_busy_when_all_sessions_are_taken_and_free_again_after(factory):
    with make_client(factory, max_sessions=1) as client:
        with client.websocket_connect("/ws") as first:
            open_flight(first)
            with client.websocket_connect("/ws") as second:
                kind, message = receive(second)
                assert kind == "json" and message["type"] == "busy"
                assert "busy" in message["message"] and "1 flight sessions" in message["message"]
                assert receive(second)[:2] == ("close", 1013)
        wait_until(lambda: client.get("/api/status").json()["sessions"] == 0)
        with client.websocket_connect("/ws") as third:
            open_flight(third)


def test_disconnect_mid_flight_frees_the_session_and_the_server_keeps_serving(factory):
    with make_client(factory) as client:
        with client.websocket_connect("/ws") as ws:
            open_flight(ws)
            ws.send_json({"type": "play"})
            next_frame(ws)
            next_frame(ws)
        # Left while playing (and possibly while a frame was being generated).
        wait_until(lambda: client.get("/api/status").json()["sessions"] == 0)
        manager = client.app.state.manager
        assert manager.sessions == {}
        with client.websocket_connect("/ws") as ws:
            open_flight(ws, sample=3)
            ws.send_json({"type": "play"})
            assert [next_frame(ws)[0]["index"] for _ in range(3)] == [1, 2, 3]


def test_idle_session_expires(factory):
    with make_client(factory, idle_timeout_s=0.6) as client, client.websocket_connect("/ws") as ws:
        next_json(ws, "hello")
        started = time.monotonic()
        expired = next_json(ws, "expired")
        assert "without input" in expired["message"] and time.monotonic() - started < 5
        assert receive(ws)[:2] == ("close", 4000)
        wait_until(lambda: client.get("/api/status").json()["sessions"] == 0)


def test_cross_origin_requests_are_refused(factory):
    with make_client(factory) as client:
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws", headers={"Origin": "http://evil.example"}):
                pass
        assert refused.value.code == 1008
        with client.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws:
            session = next_json(ws, "hello")["session"]
            response = client.post(f"/api/sessions/{session}/upload", content=png_bytes(),
                                   headers={"Origin": "http://evil.example"})
            assert response.status_code == 403


def test_upload_png_jpeg_and_multipart_start_new_flights(factory, depth):
    with make_client(factory, depth) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        response = client.post(f"/api/sessions/{session}/upload?name=field.png", content=png_bytes(120, 80))
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "name": "field.png", "width": 120, "height": 80}
        header, rgb, _ = next_frame(ws)
        assert header["index"] == 0 and header["epoch"] == 2 and jpeg_size(rgb) == (64, 96)
        assert next_json(ws, "state")["source"] == "field.png"
        ws.send_json({"type": "step"})
        assert next_frame(ws)[0]["index"] == 1

        # A portrait JPEG stored sideways with EXIF orientation 6 (rotate 90 degrees clockwise).
        sideways = Image.fromarray(np.full((60, 100, 3), 128, dtype=np.uint8))
        exif = Image.Exif()
        exif[0x0112] = 6
        buffer = io.BytesIO()
        sideways.save(buffer, format="JPEG", exif=exif)
        response = client.post(f"/api/sessions/{session}/upload", content=buffer.getvalue(),
                               headers={"X-Filename": "C:\\photos\\portrait.jpg"})
        assert response.status_code == 200, response.text
        assert (response.json()["width"], response.json()["height"]) == (60, 100)
        assert response.json()["name"] == "portrait.jpg"
        next_frame(ws)

        response = client.post(f"/api/sessions/{session}/upload",
                               files={"file": ("hills.png", png_bytes(200, 100), "image/png")})
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "hills.png"
        assert next_frame(ws)[0]["index"] == 0
        assert len(depth.calls) == 3


def test_upload_refusals_have_clear_messages(factory):
    gif = io.BytesIO()
    Image.new("RGB", (32, 32)).save(gif, format="GIF")
    png = png_bytes(120, 80)
    with make_client(factory, max_upload_bytes=20_000, max_upload_pixels=5_000) as client, \
            client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        url = f"/api/sessions/{session}/upload"
        cases = [
            (b"just some text, not an image\n", 415,
             "Only PNG and JPEG images can be uploaded; this looks like a text file"),
            (gif.getvalue(), 415, "a GIF image"),
            (b"", 400, "empty"),
            (png_bytes(60, 40)[:80], 400, "could not be decoded"),
            (png, 413, "120x80 = 9,600 pixels; the limit is 5,000 pixels"),
            (PNG_HEADER_ONLY + b"\x00" * 30_000, 413, "larger than the 20 KB limit"),
        ]
        for body, status, words in cases:
            response = client.post(url, content=body)
            assert response.status_code == status, (words, response.text)
            assert words in response.json()["detail"], response.json()
        assert client.post("/api/sessions/nope/upload", content=png).status_code == 404
        ws.send_json({"type": "step"})  # the flight is untouched
        header = next_frame(ws)[0]
        assert header["index"] == 1 and header["epoch"] == 1

    with make_client(factory, depth=None) as client, client.websocket_connect("/ws") as ws:
        hello = next_json(ws, "hello")
        assert hello["uploads"] is False
        response = client.post(f"/api/sessions/{hello['session']}/upload", content=png)
        assert response.status_code == 503 and "--depth" in response.json()["detail"]


PNG_HEADER_ONLY = b"\x89PNG\r\n\x1a\n"


def test_download_mp4_of_the_flight(factory, tmp_path):
    with make_client(factory, max_kept_frames=5) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        response = client.get(f"/api/sessions/{session}/flight.mp4")
        assert response.status_code == 409 and "Nothing to download" in response.json()["detail"]
        for _ in range(7):
            ws.send_json({"type": "step"})
            next_frame(ws)
        response = client.get(f"/api/sessions/{session}/flight.mp4")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "video/mp4"
        assert 'filename="viewgen-coast-5-frames.mp4"' in response.headers["content-disposition"]
        assert response.content[4:8] == b"ftyp"
        imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
        video = tmp_path / "flight.mp4"
        video.write_bytes(response.content)
        assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == 5
        reader = imageio_ffmpeg.read_frames(str(video))
        assert next(reader)["size"] == (96, 64)
        reader.close()
        assert client.get("/api/sessions/unknown/flight.mp4").status_code == 404


def test_generation_errors_are_reported_and_the_session_survives():
    factory = PipelineFactory(fail_steps=True)
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "play"})
        error = next_json(ws, "error")
        assert "frame generation failed" in error["message"] and "exploded" in error["message"]
        assert next_json(ws, "state")["playing"] is False
        ws.send_json({"type": "sample", "index": 2})
        assert next_frame(ws)[0]["index"] == 0


def test_samples_are_resized_to_the_flight_size(factory):
    big = {"big": lambda: (torch.rand(1, 4, 160, 256), torch.tensor([0.8, 1.28, 0.5, 0.5]))}
    with make_client(factory, samples=big) as client, client.websocket_connect("/ws") as ws:
        hello = open_flight(ws)
        assert hello["samples"] == ["big"]
        assert tuple(factory.made[0].frame.rgbd.shape) == (1, 4, 64, 96)


def test_depth_backends_with_estimate_method_and_failing_backends(factory):
    class WithEstimate:
        def __init__(self):
            self.inner = StandInDepth()

        def estimate(self, image):
            return self.inner(image)

    backend = WithEstimate()
    with make_client(factory, backend) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        assert client.post(f"/api/sessions/{session}/upload", content=png_bytes()).status_code == 200
        assert len(backend.inner.calls) == 1

    def broken(image):
        raise RuntimeError("out of memory")

    with make_client(factory, broken) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        response = client.post(f"/api/sessions/{session}/upload", content=png_bytes())
        assert response.status_code == 500
        assert response.json()["detail"] == "Depth estimation failed: out of memory"
        ws.send_json({"type": "step"})
        assert next_frame(ws)[0]["index"] == 1
