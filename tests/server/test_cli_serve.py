"""``viewgen serve``: argument handling and one-line errors (the server itself: test_app / test_browser)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from viewgen.cli.fly_zero import CHECKPOINT_URL
from viewgen.cli.main import build_parser, main
from viewgen.cli.serve import bind_socket, url_for


def test_parser_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.weights, args.depth) == ("127.0.0.1", 8000, None, None)
    assert args.model == "infinite-nature"
    assert args.max_sessions == 4 and args.idle_timeout == 600.0


@pytest.mark.parametrize("host, port, url", [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000/"),
    ("0.0.0.0", 80, "http://127.0.0.1:80/"),
    ("::", 8000, "http://[::1]:8000/"),
    ("::1", 9000, "http://[::1]:9000/"),
    ("localhost", 8000, "http://localhost:8000/"),
])
def test_url_for(host, port, url):
    assert url_for(host, port) == url


def test_port_in_use_is_a_one_line_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_socket("127.0.0.1", port)
        pytest.importorskip("fastapi")
        pytest.importorskip("uvicorn")
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("viewgen: error: port") and "--port" in err


def test_bind_socket_picks_a_free_port():
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_missing_server_packages_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "viewgen[serve]"' in err


def test_bad_limits_are_one_line_errors(capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    assert main(["serve", "--max-sessions", "0"]) == 2
    assert "--max-sessions" in capsys.readouterr().err


def test_missing_enr_weights_are_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    assert main(["serve", "--port", "0", "--enr-weights", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--enr-weights" in err and "does not exist" in err


def test_a_fast_object_mode_without_native_bfloat16_is_a_one_line_error(monkeypatch, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from viewgen import devices

    monkeypatch.setattr(devices, "native_bfloat16", lambda device: device.type == "cuda")  # an AVX2 CPU
    assert main(["serve", "--port", "0", "--enr-precision", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--enr-precision 'fast' (bfloat16) needs a CUDA device" in err, err


@contextmanager
def serve_process(*options: str):
    """``viewgen serve --port 0 OPTIONS`` in a subprocess -> ``(url, lines printed up to the URL)``; Ctrl+C at the
    end must stop it cleanly (exit 0, "stopped")."""
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "viewgen.cli.main", "serve", "--port", "0", *options]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=repo)
    try:
        lines = []
        while not any("open http" in line for line in lines):
            line = server.stdout.readline()
            assert line, f"server exited: {server.stderr.read()}"
            lines.append(line)
        url = lines[-1].split("open ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        yield url, lines
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "viewgen serve: stopped" in out


def test_viewgen_serve_end_to_end(tmp_path):
    """The real command: tiny weights, a file depth backend, a free port; Ctrl+C stops it cleanly."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    httpx = pytest.importorskip("httpx")
    import numpy as np
    import torch

    from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig, StyleEncoder, StyleEncoderConfig
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    size = (32, 48)
    torch.manual_seed(0)
    encoder = StyleEncoder(StyleEncoderConfig(image_size=size, channels=(4, 4, 8, 8, 8, 8), style_dim=6))
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=size, style_dim=6, base_channels=16,
                                                    up_channels=(8, 4, 4), spade_hidden_channels=8))
    FlyThroughPipeline(encoder, generator, FlyThroughConfig(image_size=size)).save_pretrained(tmp_path / "weights")
    np.save(tmp_path / "disparity.npy", np.linspace(0, 1, 32 * 48, dtype=np.float32).reshape(32, 48))
    from tests.helpers.serve import TinyNovelViews

    TinyNovelViews()().model.save_pretrained(tmp_path / "enr")
    with serve_process("--weights", str(tmp_path / "weights"), "--depth", f"file:{tmp_path / 'disparity.npy'}",
                       "--max-sessions", "3", "--enr-weights", str(tmp_path / "enr")) as (url, lines):
        assert "Infinite Nature weights" in lines[0]
        status = httpx.get(url + "api/status", timeout=10).json()
        assert status["uploads"] is True and status["max_sessions"] == 3
        assert "<canvas" in httpx.get(url, timeout=10).text
        assert httpx.get(url + "api/objects", timeout=10).json()["image_size"] == [32, 32]
        assert f"ENR weights {tmp_path / 'enr'} for /objects" in lines[0]


# ------------------------------------------------------------------ --model infinite-nature-zero


def test_zero_without_weights_is_one_line_before_the_port_is_bound(capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:  # a port in use: the weights are checked first
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--model", "infinite-nature-zero", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("viewgen: error: --model infinite-nature-zero needs --weights")
    assert CHECKPOINT_URL in err and "already in use" not in err


def test_zero_weights_that_do_not_exist_are_one_line(tmp_path, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    missing = tmp_path / "checkpoints"
    assert main(["serve", "--model", "infinite-nature-zero", "--weights", str(missing), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"no Infinite Nature Zero weights at {missing}" in err


def test_zero_weights_without_the_model_are_one_line(zero_weights, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    assert main(["serve", "--weights", str(zero_weights), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith("holds Infinite Nature Zero weights: add --model infinite-nature-zero")


def test_viewgen_serve_flies_infinite_nature_zero(zero_weights):
    """The real command with a tiny Zero release: the page is told the model and gets its 16x16 frames."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    from viewgen.server.frames import unpack_frame

    with serve_process("--model", "infinite-nature-zero", "--weights", str(zero_weights)) as (url, lines):
        assert f"Infinite Nature Zero weights {zero_weights} (16x16 frames)" in lines[0]
        with connect(url.replace("http", "ws") + "ws", open_timeout=10) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert (hello["type"], hello["model"]) == ("hello", "infinite-nature-zero")
            ws.send(json.dumps({"type": "sample", "index": 1}))
            while isinstance(message := ws.recv(timeout=30), str):
                pass
            header, rgb, _ = unpack_frame(message)
            assert header["index"] == 0 and Image.open(io.BytesIO(rgb)).size == (16, 16)
