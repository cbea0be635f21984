import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from viewgen.io.images import new_file_mode, read_disparity_png16, to_uint8_hwc, write_disparity_png16, write_png_atomic
from viewgen.io.video import FrameWriter, open_frame_writer

imageio = pytest.importorskip("imageio.v2")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
from PIL import Image, ImageSequence  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
H, W = 32, 48


def smooth_frame(index: int, height: int = H, width: int = W) -> torch.Tensor:
    """A smooth color field whose brightness steps with ``index`` (frames are easy to tell apart)."""
    y = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
    x = torch.linspace(0, 1, width).view(1, width).expand(height, width)
    level = 0.15 + 0.12 * index
    return torch.stack([0.5 * x + level, 0.5 * y + level * 0.8, 0.25 * (x + y) + level]).clamp(0, 1)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def decode_mp4(path: Path) -> tuple[list[np.ndarray], dict]:
    reader = imageio.get_reader(path)
    try:
        return [frame for frame in reader], reader.get_meta_data()
    finally:
        reader.close()


def mean_error(decoded: np.ndarray, frame: torch.Tensor) -> float:
    expected = to_uint8_hwc(frame).astype(np.float64)
    return float(np.abs(decoded[: expected.shape[0], : expected.shape[1]].astype(np.float64) - expected).mean())


# ------------------------------------------------------------------------------------------ mp4


def test_mp4_round_trip(tmp_path):
    out = tmp_path / "fly.mp4"
    frames = [smooth_frame(i) for i in range(5)]
    with open_frame_writer(out, fps=12, size=(H, W)) as writer:
        for index, frame in enumerate(frames):
            writer.write(frame if index % 2 else frame[None])  # [3, H, W] and [1, 3, H, W]
        assert writer.frames_written == 5
    assert files_in(tmp_path) == ["fly.mp4"]
    decoded, meta = decode_mp4(out)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == (W, H)
    assert meta["fps"] == pytest.approx(12)
    assert imageio_ffmpeg.count_frames_and_secs(str(out)) == (5, pytest.approx(5 / 12, abs=0.01))
    assert len(decoded) == 5
    for index, image in enumerate(decoded):
        errors = [mean_error(image, frame) for frame in frames]
        assert errors[index] < 4.0, errors
        assert int(np.argmin(errors)) == index


def test_mp4_odd_size_is_padded_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    frame = smooth_frame(2, 33, 47)
    with open_frame_writer(out, fps=10) as writer:
        writer.write(frame)
        writer.write(frame)
    decoded, meta = decode_mp4(out)
    assert meta["size"] == (48, 34)
    assert len(decoded) == 2
    assert mean_error(decoded[0], frame) < 4.0
    # the added column / row repeat the last one
    assert np.abs(decoded[0][:33, 47].astype(int) - decoded[0][:33, 46].astype(int)).mean() < 6


def test_mp4_is_streamed_to_ffmpeg(tmp_path):
    out = tmp_path / "stream.mp4"
    writer = open_frame_writer(out, fps=10)
    writer.write(smooth_frame(0))
    assert writer._process is not None and writer._process.poll() is None  # ffmpeg is running already
    writer.close()
    assert out.is_file()


# ------------------------------------------------------------------------------------------ gif


def test_gif_frames_duration_and_loop(tmp_path):
    out = tmp_path / "fly.gif"
    frames = [smooth_frame(i, 33, 47) for i in range(4)]  # odd sizes are fine for GIF
    with open_frame_writer(out, fps=10) as writer:
        for frame in frames:
            writer.write(frame)
    assert files_in(tmp_path) == ["fly.gif"]
    with Image.open(out) as image:
        assert image.n_frames == 4
        assert image.size == (47, 33)
        assert image.info["loop"] == 0
        for index, page in enumerate(ImageSequence.Iterator(image)):
            assert page.info["duration"] == 100
            assert mean_error(np.array(page.convert("RGB")), frames[index]) < 3.0
    assert len(imageio.mimread(out)) == 4


@pytest.mark.parametrize("fps, duration_ms", [(25, 40), (30, 30), (100, 20), (0.5, 2000)])
def test_gif_frame_delay_from_fps(tmp_path, fps, duration_ms):
    out = tmp_path / "a.gif"
    with open_frame_writer(out, fps=fps) as writer:
        writer.write(smooth_frame(0, 8, 8))
        writer.write(smooth_frame(1, 8, 8))
    with Image.open(out) as image:
        assert image.info["duration"] == duration_ms


# ----------------------------------------------------------------------------------- png folder


def test_png_folder_with_disparity(tmp_path):
    out = tmp_path / "frames"
    frames = [torch.rand(3, 5, 7) for _ in range(3)]
    disparities = [torch.rand(1, 5, 7) for _ in range(3)]
    disparities[0][0, 0, :2] = torch.tensor([0.0, 1.0])
    with open_frame_writer(str(out) + "/", fps=10, save_disparity=True) as writer:
        for frame, disparity in zip(frames, disparities):
            writer.write(frame, disparity[None])
    assert files_in(out) == [f"{kind}_{i:05d}.png" for kind in ("disparity", "frame") for i in range(3)]
    for index in range(3):
        rgb = np.array(Image.open(out / f"frame_{index:05d}.png"))
        np.testing.assert_array_equal(rgb, to_uint8_hwc(frames[index]))
        with Image.open(out / f"disparity_{index:05d}.png") as image:
            assert image.mode.startswith("I")  # 16-bit grayscale
            raw = np.array(image).astype(np.int64)
        np.testing.assert_array_equal(raw, np.round(disparities[index][0].double().numpy() * 65535))
        back = read_disparity_png16(out / f"disparity_{index:05d}.png")
        assert back.shape == (1, 1, 5, 7) and back.dtype == torch.float32
        assert (back[0] - disparities[index]).abs().max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize("name", ["frames", "frames/", "existing.mp4/"])
def test_folder_is_chosen_for_slash_no_suffix_or_existing_dir(tmp_path, name):
    (tmp_path / "existing.mp4").mkdir()
    with open_frame_writer(tmp_path / name if not name.endswith("/") else f"{tmp_path}/{name}", fps=5) as writer:
        writer.write(smooth_frame(0, 4, 6))
    assert (tmp_path / name.rstrip("/") / "frame_00000.png").is_file()


def test_a_video_name_on_an_existing_folder_is_ambiguous_and_refused(tmp_path):
    (tmp_path / "existing.mp4").mkdir()
    with pytest.raises(ValueError, match="existing folder"):
        open_frame_writer(tmp_path / "existing.mp4", fps=5)


def test_png_folder_drops_stale_frames_of_a_longer_run(tmp_path):
    out = tmp_path / "frames"
    for count in (4, 2):
        with open_frame_writer(out, fps=5) as writer:
            for index in range(count):
                writer.write(smooth_frame(index, 4, 6))
    (out / "notes.txt").write_text("mine")
    assert files_in(out) == ["frame_00000.png", "frame_00001.png", "notes.txt"]


def test_png_folder_without_frames_leaves_nothing(tmp_path):
    with open_frame_writer(tmp_path / "frames", fps=5):
        pass
    assert files_in(tmp_path) == []


def test_disparity_png16_helpers(tmp_path):
    disparity = torch.tensor([[0.0, 1.0, 0.5, 1.5], [-0.2, float("nan"), 1 / 65535, 0.25]])
    write_disparity_png16(tmp_path / "sub" / "d.png", disparity[None, None])
    back = read_disparity_png16(tmp_path / "sub" / "d.png")
    expected = torch.tensor([[0.0, 1.0, round(0.5 * 65535) / 65535, 1.0], [0.0, 0.0, 1 / 65535, 16384 / 65535]])
    torch.testing.assert_close(back[0, 0], expected, atol=1e-7, rtol=0)
    assert files_in(tmp_path / "sub") == ["d.png"]
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "eight.png")
    torch.testing.assert_close(read_disparity_png16(tmp_path / "eight.png")[0, 0], torch.tensor([[0.0, 1.0]]))
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="grayscale"):
        read_disparity_png16(tmp_path / "rgb.png")
    with pytest.raises(OSError):
        read_disparity_png16(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="disparity must be"):
        write_disparity_png16(tmp_path / "bad.png", torch.zeros(2, 3, 4))


def test_write_png_atomic_still_works(tmp_path):
    path = write_png_atomic(tmp_path / "a" / "x.png", torch.full((3, 2, 2), 0.5))
    assert np.array(Image.open(path)).tolist() == [[[128] * 3] * 2] * 2
    assert files_in(tmp_path / "a") == ["x.png"]
    assert path.stat().st_mode & 0o777 == new_file_mode()  # like open(path, "w"), not mkstemp's 0o600


# ------------------------------------------------------------------------------ shared behaviour

SINKS = ["out.mp4", "out.gif", "out/"]


def target(tmp_path: Path, name: str) -> str:
    return str(tmp_path / name) + ("/" if name.endswith("/") else "")


def output_of(tmp_path: Path, name: str) -> Path:
    return tmp_path / name.rstrip("/")


def count_frames(path: Path) -> int:
    if path.suffix == ".mp4":
        return imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    if path.suffix == ".gif":
        with Image.open(path) as image:
            return image.n_frames
    return len(list(path.glob("frame_*.png")))


@pytest.mark.parametrize("name", SINKS)
def test_keyboard_interrupt_keeps_the_frames_written(tmp_path, name):
    with pytest.raises(KeyboardInterrupt):
        with open_frame_writer(target(tmp_path, name), fps=10) as writer:
            for index in range(3):
                writer.write(smooth_frame(index))
            raise KeyboardInterrupt
    assert writer.closed and writer.frames_written == 3
    assert files_in(tmp_path) == [output_of(tmp_path, name).name]
    assert count_frames(output_of(tmp_path, name)) == 3


@pytest.mark.parametrize("name", SINKS)
def test_error_after_frames_discards_them_and_keeps_the_existing_output(tmp_path, name):
    with open_frame_writer(target(tmp_path, name), fps=10) as writer:
        for index in range(4):
            writer.write(smooth_frame(index))
    with pytest.raises(ValueError, match="frame 2 is 16x48"):
        with open_frame_writer(target(tmp_path, name), fps=10) as writer:
            writer.write(smooth_frame(0))
            writer.write(smooth_frame(1))
            writer.write(smooth_frame(2, 16, 48))  # size changed: refused
    assert writer.closed
    assert files_in(tmp_path) == [output_of(tmp_path, name).name]
    assert count_frames(output_of(tmp_path, name)) == 4  # the complete output, untouched


@pytest.mark.parametrize("name", ["out.mp4", "out.gif"])
def test_early_failure_keeps_a_preexisting_file(tmp_path, name):
    existing = tmp_path / name
    existing.write_bytes(b"precious")
    with pytest.raises(ValueError, match=r"\[3, H, W\]"):
        with open_frame_writer(existing, fps=10) as writer:
            writer.write(torch.rand(4, H, W))
    assert existing.read_bytes() == b"precious"
    assert files_in(tmp_path) == [name]
    with open_frame_writer(existing, fps=10):  # no frames at all: nothing replaced either
        pass
    assert existing.read_bytes() == b"precious"
    assert files_in(tmp_path) == [name]


@pytest.mark.parametrize("name", ["out.mp4", "out.gif"])
def test_temporary_file_sits_beside_the_output_until_close(tmp_path, name):
    writer = open_frame_writer(tmp_path / name, fps=10)
    writer.write(smooth_frame(0))
    partial = [n for n in files_in(tmp_path) if n.startswith(f".{name}.") and ".partial" in n]
    assert len(partial) == 1 and not (tmp_path / name).exists()
    assert writer.close() == tmp_path / name
    assert files_in(tmp_path) == [name]
    assert (tmp_path / name).stat().st_mode & 0o777 == new_file_mode()  # not mkstemp's private 0o600
    assert writer.close() == tmp_path / name  # idempotent


@pytest.mark.parametrize("name", ["out.mp4", "out.gif"])
def test_writer_dropped_without_close_leaves_no_temporary(tmp_path, name):
    writer = open_frame_writer(tmp_path / name, fps=10)
    writer.write(smooth_frame(0))
    del writer
    import gc

    gc.collect()
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("name", SINKS)
def test_parent_folders_are_created(tmp_path, name):
    with open_frame_writer(target(tmp_path / "a" / "b", name), fps=10) as writer:
        writer.write(smooth_frame(0))
    assert count_frames(output_of(tmp_path / "a" / "b", name)) == 1


@pytest.mark.parametrize("name", SINKS)
def test_unwritable_destination_is_a_one_line_oserror(tmp_path, name):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as error:
        open_frame_writer(target(tmp_path / "file", name), fps=10)
    assert "\n" not in str(error.value) and "file" in str(error.value)
    assert files_in(tmp_path) == ["file"]


@pytest.mark.parametrize("name", SINKS)
def test_bad_frames_are_refused(tmp_path, name):
    with open_frame_writer(target(tmp_path, name), fps=10, size=(H, W)) as writer:
        for bad, message in [(torch.rand(H, W), r"\[3, H, W\]"), (torch.rand(2, 3, H, W), r"\[3, H, W\]"),
                             (torch.rand(3, 0, W), "empty"), (torch.zeros(3, H, W, dtype=torch.uint8), "floating"),
                             (torch.rand(3, H, W + 2), f"is {H}x{W + 2}")]:
            with pytest.raises(ValueError, match=message):
                writer.write(bad)
        with pytest.raises(TypeError):
            writer.write(np.zeros((3, H, W)))
        writer.write(smooth_frame(0))
    with pytest.raises(ValueError, match="closed"):
        writer.write(smooth_frame(0))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"\.mp4, \.gif, or a directory"):
        open_frame_writer(tmp_path / "out.avi", fps=10)
    with pytest.raises(ValueError, match="fps"):
        open_frame_writer(tmp_path / "out.gif", fps=0)
    with pytest.raises(ValueError, match="fps"):
        open_frame_writer(tmp_path / "out.gif", fps=float("nan"))
    with pytest.raises(ValueError, match="size"):
        open_frame_writer(tmp_path / "out.gif", fps=10, size=(0, 4))
    with pytest.raises(ValueError, match="folder output"):
        open_frame_writer(tmp_path / "out.mp4", fps=10, save_disparity=True)
    with pytest.raises(ValueError, match="crf"):
        open_frame_writer(tmp_path / "out.mp4", fps=10, crf=60)
    assert files_in(tmp_path) == []
    with open_frame_writer(tmp_path / "frames", fps=10, save_disparity=True) as writer:
        with pytest.raises(ValueError, match="needs a disparity"):
            writer.write(smooth_frame(0))
        with pytest.raises(ValueError, match="disparity must be"):
            writer.write(smooth_frame(0), torch.rand(1, H, W + 1))
    assert isinstance(writer, FrameWriter)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX process groups")
def test_terminal_ctrl_c_does_not_kill_ffmpeg(tmp_path):
    """SIGINT to the whole process group (what a terminal Ctrl-C does) still yields a playable mp4."""
    out = tmp_path / "interrupted.mp4"
    script = textwrap.dedent(f"""
        import os, signal, time, torch
        from viewgen.io.video import open_frame_writer
        with open_frame_writer({str(out)!r}, fps=10) as writer:
            for index in range(3):
                writer.write(torch.full((3, 32, 48), index / 4))
            os.killpg(0, signal.SIGINT)
            time.sleep(5)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            start_new_session=True, timeout=120)
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert files_in(tmp_path) == ["interrupted.mp4"]
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 3

