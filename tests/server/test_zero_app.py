"""The web demo flying Infinite Nature Zero (tiny random release folders), through FastAPI's test client."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.helpers.serve import (  # noqa: E402
    StandInDepth,
    jpeg_size,
    make_client,
    next_frame,
    next_json,
    open_flight,
    png_bytes,
    receive,
    toy_samples,
)
from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline  # noqa: E402
from viewgen.server.app import create_app  # noqa: E402
from viewgen.server.media import encode_jpeg, rgb_to_uint8  # noqa: E402
from viewgen.server.zero_flight import shared_pipeline_factory  # noqa: E402

ZERO = "infinite-nature-zero"


def zero_client(weights, depth="stand-in", **options):
    factory, _ = shared_pipeline_factory(weights)
    return make_client(factory, depth, model=ZERO, **options)


def messages_for(ws, seconds: float) -> list:
    """Every message that arrives within ``seconds`` (frames acknowledged)."""
    found = []
    while True:
        try:
            message = receive(ws, timeout=seconds)
        except TimeoutError:
            return found
        if message[0] == "frame":
            ws.send_json({"type": "ack", "seq": message[1]["seq"]})
        found.append(message)


def fly(ws, steps: int) -> list[bytes]:
    """Frame 0 of the session's flight, then ``steps`` steps: their RGB JPEGs."""
    frames = [next_frame(ws)[1]]
    for _ in range(steps):
        ws.send_json({"type": "step"})
        frames.append(next_frame(ws)[1])
    return frames


def test_zero_flies_over_the_websocket(zero_weights):
    with zero_client(zero_weights) as client, client.websocket_connect("/ws") as ws:
        hello = open_flight(ws)
        assert (hello["model"], hello["model_label"]) == (ZERO, "Infinite Nature Zero")
        ws.send_json({"type": "play"})
        frames = [next_frame(ws) for _ in range(6)]
        assert [header["index"] for header, _, _ in frames] == list(range(1, 7))
        assert all(header["playing"] and disparity == b"" for header, _, disparity in frames)
        assert all(jpeg_size(rgb) == (16, 16) for _, rgb, _ in frames)  # the generator's resolution
        first, last = (np.asarray(Image.open(io.BytesIO(frames[i][1])), dtype=np.float32) for i in (0, -1))
        assert np.abs(last - first).mean() > 1.0  # the view changes
        ws.send_json({"type": "pause"})
        state = next_json(ws, "state")
        assert state["playing"] is False and state["stopped"] is False
        messages_for(ws, 0.3)  # a frame already under way when the pause came

        ws.send_json({"type": "disparity", "on": True})  # paused: the current frame again, with its disparity
        header, rgb, disparity = next_frame(ws)
        assert header["repeat"] is True and jpeg_size(disparity) == (16, 16)
        ws.send_json({"type": "speed", "value": 2.0})
        ws.send_json({"type": "step"})
        next_frame(ws)
        pipeline = client.app.state.manager.sessions[hello["session"]].flight.pipeline
        assert isinstance(pipeline, InfiniteNatureZeroPipeline)
        assert pipeline.controller.speed == pytest.approx(2 * pipeline.config.autopilot.speed)


def test_zero_frames_are_the_pipelines_own_and_the_same_in_every_session(zero_weights):
    factory, _ = shared_pipeline_factory(zero_weights)
    with make_client(factory, model=ZERO) as client, client.websocket_connect("/ws") as first, \
            client.websocket_connect("/ws") as second:
        for ws in (first, second):
            next_json(ws, "hello")
            ws.send_json({"type": "sample", "index": 2})
        flights = [fly(first, 3), fly(second, 3)]
    assert flights[0] == flights[1]
    # The same flight straight from the pipeline: RGB and disparity of the sample, Zero's autopilot, no steering.
    rgbd, _ = toy_samples()["hills"]()
    pipe = InfiniteNatureZeroPipeline.from_pretrained(zero_weights)
    expected = [pipe.reset(rgbd[:, :3], rgbd[:, 3:])] + [pipe.step((0.0, 0.0)) for _ in range(3)]
    assert flights[0] == [encode_jpeg(rgb_to_uint8(frame.rgb), 90) for frame in expected]


def test_a_crash_is_a_notice_the_frames_are_kept_and_restart_flies_again(crashing_zero_weights):
    with zero_client(crashing_zero_weights) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        ws.send_json({"type": "play"})
        header = next_frame(ws)[0]
        assert header["index"] == 1 and header["playing"] is False  # the crash frame itself is shown
        notice = next_json(ws, "notice")["message"]
        assert "stopped at frame 1, a crash event" in notice and "sky fraction" in notice and "\n" not in notice
        assert "Restart" in notice
        state = next_json(ws, "state")
        assert state["stopped"] is True and state["playing"] is False

        for command in ("play", "step"):  # answered with the notice, no frame
            ws.send_json({"type": command})
        later = messages_for(ws, 0.8)
        assert all(message[0] == "json" for message in later)
        assert [m[1]["message"] for m in later if m[1]["type"] == "notice"] == [notice, notice]
        assert all(not m[1]["playing"] for m in later if m[1]["type"] == "state")

        video = client.get(f"/api/sessions/{session}/flight.mp4")  # frames 0 and 1 were kept
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        assert "2-frames" in video.headers["content-disposition"]

        ws.send_json({"type": "restart"})
        assert next_frame(ws)[0]["index"] == 0
        assert next_json(ws, "state")["stopped"] is False
        ws.send_json({"type": "step"})
        assert next_frame(ws)[0]["index"] == 1
        assert "stopped at frame 1" in next_json(ws, "notice")["message"]


def test_zero_upload_is_prepared_as_wide_as_the_sky_canvas(zero_weights):
    depth = StandInDepth()
    with zero_client(zero_weights, depth) as client, client.websocket_connect("/ws") as ws:
        session = open_flight(ws)["session"]
        response = client.post(f"/api/sessions/{session}/upload?name=field.png", content=png_bytes(300, 100))
        assert response.status_code == 200, response.text
        header, rgb, _ = next_frame(ws)
        assert header["index"] == 0 and jpeg_size(rgb) == (16, 16)
        assert depth.calls == [(100, 150)]  # cropped to 16 x 24: the 16 x 16 crop and the canvas' sides
        ws.send_json({"type": "step"})
        assert next_frame(ws)[0]["index"] == 1


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model 'zero'.*infinite-nature-zero"):
        create_app(lambda: None, model="zero")
