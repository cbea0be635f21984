"""The frame loop's timing and bookkeeping: rate limit, flow control, steering, idle, loads, memory."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.helpers.serve import (  # noqa: E402
    PipelineFactory,
    make_client,
    next_frame,
    next_json,
    open_flight,
    receive,
    toy_samples,
    wait_until,
)
from viewgen.server.sessions import CURSOR_DECAY  # noqa: E402


class StartTimes(PipelineFactory):
    """Pipelines that record when each step started (monotonic seconds)."""

    def __call__(self):
        pipeline = super().__call__()
        pipeline.started_at = []
        step = pipeline.step

        def timed_step(offset=(0.0, 0.0)):
            pipeline.started_at.append(time.monotonic())
            return step(offset)

        pipeline.step = timed_step
        return pipeline


def test_frame_rate_limit_counts_from_the_start_of_the_previous_generation():
    # A step takes 0.1 s; at "5 /s" the period is 0.2 s, not 0.2 s of waiting plus the step.
    factory = StartTimes(step_delay_s=0.1)
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "max_fps", "value": 5})
        ws.send_json({"type": "play"})
        for _ in range(7):
            next_frame(ws)
        ws.send_json({"type": "pause"})
        started = factory.made[0].started_at
    periods = np.diff(started[1:7])  # skip the first frame (no previous generation)
    assert min(periods) >= 0.2 - 0.01  # the limit holds
    assert statistics.median(periods) < 0.2 + 0.07  # and the step's own time is inside the period


def test_acks_are_counted_per_frame_drawn_so_at_most_max_unacked_frames_are_in_flight(factory):
    with make_client(factory, max_unacked=2) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "play"})
        first, _, _ = next_frame(ws, ack=False)
        second, _, _ = next_frame(ws, ack=False)
        # The same frame acknowledged three times, and frames never sent: one frame drawn, one more sent.
        for seq in (first["seq"], first["seq"], first["seq"], second["seq"] + 5):
            ws.send_json({"type": "ack", "seq": seq})
        third, _, _ = next_frame(ws, ack=False)
        assert third["index"] == second["index"] + 1
        with pytest.raises(TimeoutError):
            receive(ws, timeout=0.8)  # frames 2 and 3 are undrawn: nothing more comes
        ws.send_json({"type": "ack", "seq": third["seq"]})  # acknowledges 2 and 3 together
        assert next_frame(ws)[0]["index"] == third["index"] + 1
        ws.send_json({"type": "ack"})
        assert "seq" in next_json(ws, "error")["message"]


def test_a_click_while_a_frame_is_generated_steers_the_next_two_frames():
    factory = PipelineFactory(step_delay_s=0.3)
    with make_client(factory) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "play"})
        next_frame(ws)  # frame 1 sent: frame 2 is being generated now
        ws.send_json({"type": "steer", "x": 1.0, "y": 0.5})
        for _ in range(4):
            next_frame(ws)
        ws.send_json({"type": "pause"})
        offsets = [dx for dx, _ in factory.made[0].offsets]
    click = offsets.index(1.0)
    assert offsets[click:click + 3] == pytest.approx([1.0, 1.0, CURSOR_DECAY])


def test_a_playing_page_that_draws_its_frames_is_not_idle():
    factory = PipelineFactory(step_delay_s=0.05)
    with make_client(factory, idle_timeout_s=0.8) as client, client.websocket_connect("/ws") as ws:
        open_flight(ws)
        ws.send_json({"type": "play"})
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            next_frame(ws)  # a close (expiry) would fail here
        ws.send_json({"type": "pause"})
        assert next_json(ws, "expired", timeout=5)["type"] == "expired"  # paused: idle again


def slow_samples(delay_s: float):
    def slow(loader):
        def load():
            time.sleep(delay_s)
            return loader()
        return load
    return {name: slow(loader) for name, loader in toy_samples().items()}


def test_play_sent_while_an_image_loads_is_kept(factory):
    with make_client(factory, samples=slow_samples(0.4)) as client, client.websocket_connect("/ws") as ws:
        next_json(ws, "hello")
        ws.send_json({"type": "sample", "index": 2})
        ws.send_json({"type": "play"})  # while the sample loads
        assert next_frame(ws)[0]["index"] == 0
        assert [next_frame(ws)[0]["index"] for _ in range(3)] == [1, 2, 3]


def test_memory_is_released_when_a_session_ends_and_when_the_server_idles(factory):
    with make_client(factory, idle_release_s=0.3) as client:
        manager = client.app.state.manager
        with client.websocket_connect("/ws") as ws:
            open_flight(ws)
            ws.send_json({"type": "step"})
            next_frame(ws)
            released = manager.memory_releases
            wait_until(lambda: manager.memory_releases > released, timeout=5)  # idle after the step
            released = manager.memory_releases
        wait_until(lambda: manager.memory_releases > released and not manager.sessions, timeout=5)
        assert client.app.state.manager.executor._max_workers <= 5  # few threads, few malloc arenas


def test_release_memory_trims_the_heap():
    from viewgen.server import memory

    assert memory.release_memory() is (memory._malloc_trim() is not None)
