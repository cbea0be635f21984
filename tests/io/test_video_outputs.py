"""Frame writers publish whole outputs: never mixed with an older one, never over the user's files."""

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from viewgen.io import mp4
from viewgen.io.video import open_frame_writer

pytest.importorskip("imageio_ffmpeg")

H, W = 16, 24


def frame(level: float) -> torch.Tensor:
    return torch.full((3, H, W), level)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write_frames(out, count: int, level: float = 0.2) -> None:
    with open_frame_writer(out, fps=10) as writer:
        for _ in range(count):
            writer.write(frame(level))


def test_png_frames_appear_only_as_a_whole_sequence(tmp_path):
    out = tmp_path / "frames"
    write_frames(out, 3, level=0.2)
    old = {name: (out / name).read_bytes() for name in files_in(out)}
    writer = open_frame_writer(out, fps=10)
    for _ in range(2):
        writer.write(frame(0.8))
    assert {name: (out / name).read_bytes() for name in files_in(out)} == old  # nothing new visible yet
    staging = [name for name in files_in(tmp_path) if name != "frames"]
    assert len(staging) == 1 and staging[0].startswith(".frames.")  # the hidden sibling being filled
    writer.close()
    assert files_in(tmp_path) == ["frames"]
    assert files_in(out) == ["frame_00000.png", "frame_00001.png"]  # the old sequence replaced as a unit
    assert np.asarray(Image.open(out / "frame_00001.png")).min() == round(0.8 * 255)


def test_png_folder_keeps_its_permissions_when_replaced(tmp_path):
    out = tmp_path / "frames"
    write_frames(out, 1)
    out.chmod(0o750)
    write_frames(out, 2)
    assert out.stat().st_mode & 0o777 == 0o750


def test_a_folder_holding_other_files_is_refused_and_kept(tmp_path):
    out = tmp_path / "frames"
    write_frames(out, 2)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OSError) as error:
        open_frame_writer(out, fps=10)
    message = str(error.value)
    assert "\n" not in message and "notes.txt" in message and str(out) in message
    assert files_in(out) == ["frame_00000.png", "frame_00001.png", "notes.txt"]
    assert files_in(tmp_path) == ["frames"]


def test_files_put_into_the_folder_during_the_flight_are_not_deleted(tmp_path):
    out = tmp_path / "frames"
    writer = open_frame_writer(out, fps=10)
    writer.write(frame(0.5))
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match="notes.txt"):
        writer.close()
    assert files_in(out) == ["notes.txt"] and files_in(tmp_path) == ["frames"]


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "frames").write_text("mine")
    with pytest.raises(OSError, match="not a folder"):
        open_frame_writer(str(tmp_path / "frames") + "/", fps=10)
    assert (tmp_path / "frames").read_text() == "mine"


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "out"])
def test_read_only_outputs_are_refused(tmp_path, name):
    out = tmp_path / name
    write_frames(out, 1)
    before = sorted(os.walk(tmp_path))
    out.chmod(0o555 if out.is_dir() else 0o444)
    try:
        with pytest.raises(OSError, match="read-only"):
            open_frame_writer(out, fps=10)
    finally:
        out.chmod(0o755 if out.is_dir() else 0o644)
    assert sorted(os.walk(tmp_path)) == before


@pytest.mark.parametrize("name", ["out.mp4", "out.gif"])
def test_video_frame_rates_the_encoder_cannot_store_are_refused_up_front(tmp_path, name):
    with pytest.raises(ValueError, match=r"fps of a \.(mp4|gif) must be .* from 0\.01"):
        open_frame_writer(tmp_path / name, fps=1e-6)
    assert files_in(tmp_path) == []
    write_frames(tmp_path / name, 1)  # the lowest accepted rate really encodes
    with open_frame_writer(tmp_path / name, fps=0.01) as writer:
        writer.write(frame(0.1))


def test_a_full_disk_under_ffmpeg_names_the_output_and_the_cause(tmp_path, monkeypatch):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    command = mp4.Mp4Writer._command
    monkeypatch.setattr(mp4.Mp4Writer, "_command", lambda self, h, w: [*command(self, h, w)[:-1], "/dev/full"])
    out = tmp_path / "flight.mp4"
    with pytest.raises(OSError) as error:
        with open_frame_writer(out, fps=10) as writer:
            for _ in range(3):
                writer.write(frame(0.3))
    message = str(error.value)
    assert str(out) in message and "No space left on device" in message and ".partial" not in message
    assert files_in(tmp_path) == []


def test_no_room_for_ffmpeg_messages_is_one_line_naming_the_output(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/tmp/.tmpab12cd")

    monkeypatch.setattr(tempfile, "TemporaryFile", full_disk)
    out = tmp_path / "flight.mp4"
    with pytest.raises(OSError) as error:
        with open_frame_writer(out, fps=10) as writer:
            writer.write(frame(0.3))
    message = str(error.value)
    assert message.startswith(f"cannot write {out}:") and "No space left on device" in message
    assert "tmpab12cd" not in message and "Errno" not in message
    assert files_in(tmp_path) == []


def test_the_current_folder_is_not_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OSError, match="current folder"):
        open_frame_writer("./", fps=10)
    assert files_in(tmp_path) == []
