"""``viewgen synth``: unusable arguments refused in one line before any rendering; OUT/<split> published whole."""

import errno
import os

import pytest

from viewgen.cli.main import main
from viewgen.errors import ViewgenRuntimeError


@pytest.mark.parametrize("args, needle", [
    (["--out", "{tmp}/file"], "it is a file, not a folder"),
    (["--out", "{tmp}/file/data"], "{tmp}/file is a file, not a folder"),
    (["--out", "{tmp}/data", "--seed", str(2**64)], "--seed"),
])
def test_unusable_arguments_are_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    (tmp_path / "file").write_text("mine")
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert main(["synth", "--clips", "1", "--frames", "1", "--size", "16x16", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle.format(tmp=tmp_path) in err, err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]
    assert (tmp_path / "file").read_text() == "mine"


SYNTH = ["synth", "--frames", "2", "--size", "16x16"]


def clip_names(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def frame_names(clip) -> list[str]:
    return sorted(path.name for path in clip.iterdir())


def test_a_rerun_with_fewer_clips_and_frames_leaves_none_of_the_old_ones(tmp_path, capsys):
    out = tmp_path / "data"
    assert main([*SYNTH, "--clips", "2", "--frames", "3", "--out", str(out), "--split", "test"]) == 0
    assert main([*SYNTH, "--clips", "2", "--out", str(out)]) == 0
    assert main([*SYNTH, "--clips", "1", "--out", str(out)]) == 0
    assert "wrote 1 clips, 2 frames of 16x16 to " + str(out / "train") in capsys.readouterr().out
    assert clip_names(out) == ["test", "train"]  # other splits are left alone, no hidden folder is left
    assert clip_names(out / "train") == ["0000-coast", "0000-coast.txt"]
    assert frame_names(out / "train" / "0000-coast") == ["0.png", "0_disparity.png", "33333.png",
                                                         "33333_disparity.png", "metadata.json"]
    assert clip_names(out / "test") == ["0000-coast", "0000-coast.txt", "0001-hills", "0001-hills.txt"]


def test_a_split_folder_with_other_files_is_refused(tmp_path, capsys):
    split = tmp_path / "data" / "train"
    split.mkdir(parents=True)
    (split / "notes.txt").write_text("mine")
    assert main([*SYNTH, "--clips", "1", "--out", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"viewgen: error: will not replace {split}: it holds files that are not synthetic clips "
                          f"(notes.txt)") and err.count("\n") == 1, err
    assert clip_names(split) == ["notes.txt"] and clip_names(tmp_path / "data") == ["train"]


def _fail_at_render(monkeypatch, call: int, error: BaseException) -> None:
    """Make the ``call``-th batch render (one per clip of 2 frames) raise ``error``."""
    from viewgen.data.synthetic import export

    real, calls = export.render_rgbd, []

    def render_rgbd(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "render_rgbd", render_rgbd)


@pytest.fixture
def older(tmp_path):
    """An earlier 3-clip dataset in ``tmp_path/data``."""
    assert main([*SYNTH, "--clips", "3", "--out", str(tmp_path / "data")]) == 0
    return tmp_path / "data"


def _disk_full(monkeypatch) -> None:
    import viewgen.io.images

    def write_png_atomic(path, image):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(viewgen.io.images, "write_png_atomic", write_png_atomic)


@pytest.mark.parametrize("fail, message", [
    (lambda monkeypatch: _fail_at_render(monkeypatch, 2, ViewgenRuntimeError("the world broke")), "the world broke"),
    (_disk_full, "cannot write the clips to {split}: No space left on device; nothing was changed there"),
])
def test_a_failing_run_leaves_the_older_dataset_whole(older, monkeypatch, capsys, fail, message):
    before = {path: path.read_bytes() for path in older.rglob("*") if path.is_file()}
    capsys.readouterr()
    fail(monkeypatch)
    assert main([*SYNTH, "--clips", "2", "--out", str(older), "--seed", "4"]) == 2
    assert capsys.readouterr().err == f"viewgen: error: {message.format(split=older / 'train')}\n"
    assert {path: path.read_bytes() for path in older.rglob("*") if path.is_file()} == before
    assert clip_names(older) == ["train"]


@pytest.mark.parametrize("call, kept, message", [
    (1, ["0000-coast", "0000-coast.txt", "0001-hills", "0001-hills.txt", "0002-mountains", "0002-mountains.txt"],
     "viewgen: interrupted before the first clip was done: nothing was written to {split}"),
    (2, ["0000-coast", "0000-coast.txt"], "viewgen: interrupted: saved the 1 clip done so far to {split}"),
])
def test_ctrl_c_keeps_the_finished_clips_only(older, monkeypatch, capsys, call, kept, message):
    capsys.readouterr()
    _fail_at_render(monkeypatch, call, KeyboardInterrupt())
    assert main([*SYNTH, "--clips", "3", "--frames", "3", "--out", str(older)]) == 130
    assert capsys.readouterr().err == message.format(split=older / "train") + "\n"
    assert clip_names(older) == ["train"] and clip_names(older / "train") == kept
    frames = 3 if call == 2 else 2
    assert len(frame_names(older / "train" / "0000-coast")) == 2 * frames + 1
