"""``viewgen serve``: argument handling and one-line errors (the server itself: test_app / test_browser)."""

from __future__ import annotations

import socket
import sys

import pytest

from viewgen.cli.main import build_parser, main
from viewgen.cli.serve import bind_socket, url_for


def test_parser_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.weights, args.depth) == ("127.0.0.1", 8000, None, None)
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


def test_viewgen_serve_end_to_end(tmp_path):
    """The real command: tiny weights, a file depth backend, a free port; Ctrl+C stops it cleanly."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    httpx = pytest.importorskip("httpx")
    import os
    import signal
    import subprocess
    from pathlib import Path

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
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "viewgen.cli.main", "serve", "--port", "0", "--weights", str(tmp_path / "weights"),
               "--depth", f"file:{tmp_path / 'disparity.npy'}", "--max-sessions", "3", "--enr-weights",
               str(tmp_path / "enr")]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=repo)
    try:
        lines = []
        while not any("open http" in line for line in lines):
            line = server.stdout.readline()
            assert line, f"server exited: {server.stderr.read()}"
            lines.append(line)
        url = lines[-1].split("open ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and "Infinite Nature weights" in lines[0]
        status = httpx.get(url + "api/status", timeout=10).json()
        assert status["uploads"] is True and status["max_sessions"] == 3
        assert "<canvas" in httpx.get(url, timeout=10).text
        assert httpx.get(url + "api/objects", timeout=10).json()["image_size"] == [32, 32]
        assert f"ENR weights {tmp_path / 'enr'} for /objects" in lines[0]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "viewgen serve: stopped" in out
