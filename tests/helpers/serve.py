"""Stand-ins for the web demo tests: a fast refiner, a depth model and samples, all tiny.

* :class:`HoleFillRefiner` keeps the warped frame and fills its holes with the frame's mean
  color, so flights are fast, deterministic and visibly move (a random tiny SPADE network
  would give nearly constant frames).
* :func:`stand_in_depth`: sky (disparity 0) in the top third, then a ground ramp toward the
  camera: "a tiny stand-in model" for uploads.
* :func:`toy_samples`: three small procedural landscapes named like the real samples.
* :func:`running_server`: a real uvicorn serving an app in a thread, on a free port.
* :func:`make_client` and the ``receive``/``next_frame``/``next_json`` readers: the app through
  FastAPI's test client, acknowledging frames as the page does.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from viewgen.data.toy_scene import toy_landscape_rgbd
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

FLIGHT_SIZE = (64, 96)


class HoleFillRefiner:
    """A :class:`~viewgen.refiners.spade.Refiner` that only fills holes, by push-pull (tests only)."""

    name = "hole-fill"
    image_size = None
    style_dim = 4

    def to(self, device, dtype):
        return self

    def encode_style(self, rgbd):
        mu = rgbd.mean(dim=(2, 3))
        return mu, torch.zeros_like(mu)

    def refine(self, warped_rgbd, mask, style):
        weight = mask.clamp(0, 1).sqrt()  # warp_rgbd returns (rgbd * m, m * m)
        return _push_pull(warped_rgbd, weight).clamp(0, 1)


def _push_pull(values, weight):
    """Fill where ``weight`` is low from coarser averages; ``values`` are premultiplied by ``weight``."""
    height, width = values.shape[-2:]
    if min(height, width) <= 2:
        mean = values.sum(dim=(2, 3), keepdim=True) / weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        return mean.expand_as(values)
    coarse = _push_pull(F.avg_pool2d(values, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True))
    coarse = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return values + (1 - weight) * coarse


class RecordingPipeline(FlyThroughPipeline):
    """Records the steering offsets it is given."""

    def __init__(self, *args, step_delay_s: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.offsets: list[tuple[float, float]] = []
        self.step_delay_s = step_delay_s
        self.steps_finished = 0

    def step(self, offset=(0.0, 0.0)):
        self.offsets.append(tuple(offset))
        if self.step_delay_s:
            time.sleep(self.step_delay_s)  # a slow model
        frame = super().step(offset)
        self.steps_finished += 1
        return frame


class PipelineFactory:
    """``() -> pipeline``, keeping every pipeline it made (one per session)."""

    def __init__(self, size=FLIGHT_SIZE, fail_steps: bool = False, step_delay_s: float = 0.0):
        self.size = size
        self.fail_steps = fail_steps
        self.step_delay_s = step_delay_s
        self.made: list[RecordingPipeline] = []

    def __call__(self):
        pipeline = RecordingPipeline(refiner=HoleFillRefiner(), config=FlyThroughConfig(image_size=self.size),
                                     step_delay_s=self.step_delay_s)
        if self.fail_steps:
            def broken_step(offset=(0.0, 0.0)):
                raise RuntimeError("the refiner exploded")
            pipeline.step = broken_step
        self.made.append(pipeline)
        return pipeline


class StandInDepth:
    """Vertical-gradient disparity with a sky region; records the images it was given."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def __call__(self, image):
        assert image.dim() == 4 and image.shape[1] == 3
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        self.calls.append(tuple(image.shape[-2:]))
        height, width = image.shape[-2:]
        rows = torch.linspace(0, 1, height).view(1, 1, height, 1).expand(1, 1, height, width)
        return torch.where(rows < 0.33, torch.zeros_like(rows), 0.05 + 0.95 * (rows - 0.33) / 0.67).clamp(0, 1)


def stand_in_depth(image):
    return StandInDepth()(image)


def toy_samples():
    def loader(seed, flip):
        def load():
            rgbd = toy_landscape_rgbd(80, 128, seed=seed)
            # Half the disparity: at the tests' 64x96 the full ramp is steep enough for the
            # renderer's edge mask to cut the ground away.
            rgbd[:, 3:] *= 0.5
            return (rgbd.flip(-1) if flip else rgbd), None
        return load
    return {"coast": loader(0, False), "hills": loader(1, True), "mountains": loader(2, False)}


def png_bytes(width=120, height=80, mode="RGB", color=(40, 120, 200)) -> bytes:
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[...] = color
    array[height // 2:, :, 1] = 200  # a green ground
    array[:, : width // 3, 0] = 220
    image = Image.fromarray(array).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(app):
    """Serve ``app`` with a real uvicorn on a free loopback port, in a thread; yields the base URL."""
    import uvicorn

    from viewgen.cli.serve import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    # log_config=None: uvicorn's loggers propagate, so tests see server errors through caplog.
    config = uvicorn.Config(app, log_config=None, log_level="warning", ws_max_size=1 << 20,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# ------------------------------------------------------------------ the app through the test client


def make_client(factory=None, depth="stand-in", **options):
    """A ``TestClient`` of the app with the toy samples (``depth="stand-in"``: :class:`StandInDepth`)."""
    from fastapi.testclient import TestClient

    from viewgen.server.app import create_app

    factory = factory or PipelineFactory()
    depth = StandInDepth() if depth == "stand-in" else depth
    options.setdefault("samples", toy_samples())
    options.setdefault("allowed_hosts", ("testserver",))  # the test client's Host
    return TestClient(create_app(factory, depth, **options))


def receive(ws, timeout: float = 15.0):
    """Next message: ``("json", dict)``, ``("frame", header, rgb_jpeg, disparity_jpeg)`` or ``("close", code)``."""

    import anyio

    from viewgen.server.frames import unpack_frame

    async def next_message():
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        return ("close", message.get("code"), message.get("reason"))
    if message.get("text") is not None:
        return ("json", json.loads(message["text"]))
    return ("frame", *unpack_frame(message["bytes"]))


def next_frame(ws, ack: bool = True, timeout: float = 15.0):
    """Skip JSON messages up to the next frame; acknowledge it. Returns ``(header, rgb, disparity)``."""
    while True:
        message = receive(ws, timeout)
        assert message[0] != "close", message
        if message[0] == "frame":
            if ack:
                ws.send_json({"type": "ack", "seq": message[1]["seq"]})
            return message[1:]


def next_json(ws, kind: str, timeout: float = 15.0) -> dict:
    """Skip frames (acknowledging them) up to the next JSON message of ``kind``."""
    while True:
        message = receive(ws, timeout)
        assert message[0] != "close", message
        if message[0] == "frame":
            ws.send_json({"type": "ack", "seq": message[1]["seq"]})
        elif message[1]["type"] == kind:
            return message[1]


def open_flight(ws, sample: int = 1) -> dict:
    """Read hello, load a sample, return hello after frame 0 arrived."""
    hello = next_json(ws, "hello")
    ws.send_json({"type": "sample", "index": sample})
    header, rgb, _ = next_frame(ws)
    assert header["index"] == 0
    return hello


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.height, image.width


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)




# ------------------------------------------------------------------ the object mode


class TinyNovelViews:
    """``() -> NovelViewPipeline`` of a tiny seeded ENR (32x32), counting how often it was called."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        from viewgen.networks.enr import ENRConfig, EquivariantRenderer
        from viewgen.pipelines.novel_view import NovelViewPipeline

        self.calls += 1
        torch.manual_seed(0)
        config = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                           encoder_3d=("res4", "down8", "up8"), projection=(32, 32))
        return NovelViewPipeline(EquivariantRenderer(config))
