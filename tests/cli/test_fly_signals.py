"""``viewgen fly`` sent SIGTERM (``kill``, ``timeout``, ``docker stop``) stops like Ctrl-C, in a real process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sends POSIX signals")
REPO_ROOT = Path(__file__).resolve().parents[2]


def start_flight(tmp_path: Path, out: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "viewgen.cli.main", "fly", "--frames", "100000", "--size", "32x48", "--out", out]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"the flight ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the flight wrote no frames in time")


def child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def terminate(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def saved_count(err: str) -> int:
    line = next(line for line in err.splitlines() if line.startswith("viewgen: terminated: saved the "))
    return int(line.split()[4])


def test_sigterm_keeps_the_mp4_frames_done_so_far_and_finalises_ffmpeg(tmp_path):
    process = start_flight(tmp_path, "flight.mp4")
    ffmpeg = wait_for(lambda: child_pids(process.pid), process)  # ffmpeg starts with the first frame
    time.sleep(2.0)  # the generated frames follow once the weight-free flight has chosen among its candidate worlds
    status, err = terminate(process)
    assert status == 128 + signal.SIGTERM, err
    frames = saved_count(err)
    assert frames >= 1 and len(list(iio.imiter(tmp_path / "flight.mp4"))) == frames
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flight.mp4"]  # no temporary file left
    assert not any(Path(f"/proc/{pid}").exists() for pid in ffmpeg)  # ffmpeg finished, not orphaned


def test_sigterm_keeps_the_png_frames_done_so_far(tmp_path):
    process = start_flight(tmp_path, "frames/")
    wait_for(lambda: list(tmp_path.glob(".frames.*/frame_00001.png")), process)
    status, err = terminate(process)
    assert status == 128 + signal.SIGTERM, err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["frames"]
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == saved_count(err) >= 2


def test_ctrl_c_while_the_parser_is_built_is_one_line(monkeypatch, capsys):
    """Building the parser imports torch (seconds on a cold start); a Ctrl-C then is no traceback."""
    import viewgen.cli.main as cli_main

    def interrupted_build():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "build_parser", interrupted_build)
    assert cli_main.main(["fly"]) == 130
    assert capsys.readouterr().err == "viewgen: interrupted\n"
