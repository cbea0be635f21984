"""Input paths that are not regular files are refused before anything opens them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from viewgen.depth.file import read_disparity_file
from viewgen.errors import InputError
from viewgen.io.images import load_image, read_disparity_png16
from viewgen.io.paths import require_regular_file
from viewgen.io.rgbd_files import load_rgbd_file
from viewgen.pipelines.inputs import resolve_input

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


@needs_fifo
@pytest.mark.parametrize("name, read", [
    ("photo.png", lambda path: load_image(path)), ("disparity.png", read_disparity_png16),
    ("scene.npz", load_rgbd_file), ("scene.pkl", load_rgbd_file), ("disparity.npy", read_disparity_file),
    ("photo.jpg", lambda path: resolve_input(str(path))),
])
def test_a_named_pipe_is_refused_without_opening_it(tmp_path, name, read):
    path = tmp_path / name
    os.mkfifo(path)  # opening it for reading would block until a writer comes
    with pytest.raises(InputError, match="pipe, socket or device"):
        read(path)


@needs_fifo
def test_viewgen_fly_on_a_pipe_ends_at_once(tmp_path):
    path = tmp_path / "photo.png"
    os.mkfifo(path)
    done = subprocess.run([sys.executable, "-m", "viewgen.cli.main", "fly", str(path), "--out",
                           str(tmp_path / "o.mp4")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "pipe, socket or device" in done.stderr


def test_missing_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        require_regular_file(tmp_path / "absent.png", InputError, "an image")
    with pytest.raises(InputError, match="it is a folder, not an image"):
        require_regular_file(tmp_path, InputError, "an image")
