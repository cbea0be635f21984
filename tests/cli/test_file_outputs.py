"""``viewgen depth --out/--preview`` and ``viewgen export-mesh --out``: files published whole.

An unusable destination (under a file, read-only, a folder) is refused in one line before any
work; a write that fails (a full disk) or is interrupted leaves the existing files as they were
and no hidden file behind; a link is followed (its target replaced, the link kept).
"""

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import viewgen.io.images
import viewgen.io.ply
from viewgen.cli.main import main
from viewgen.io.rgbd_files import save_rgbd_npz


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """A photo, a disparity file for it (``--backend file:``) and an RGBD file, in ``tmp_path`` (the cwd)."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save("photo.png")
    np.save("given.npy", np.linspace(0, 1, 12 * 16, dtype=np.float32).reshape(12, 16))
    save_rgbd_npz("scene.npz", torch.rand(1, 4, 6, 9, generator=torch.Generator().manual_seed(0)))
    Path("afile").write_text("mine")
    return tmp_path


def depth(*args: str) -> int:
    return main(["depth", "photo.png", "--backend", "file:given.npy", *args])


def export_mesh(*args: str) -> int:
    return main(["export-mesh", "scene.npz", *args])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1, err
    return err


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


INPUTS = ["afile", "given.npy", "photo.png", "scene.npz"]


@pytest.mark.parametrize("run, args, named", [
    (depth, ["--out", "afile/d.png"], "afile/d.png"),
    (depth, ["--out", "d.png", "--preview", "afile/p.png"], "afile/p.png"),
    (export_mesh, ["--out", "afile/m.ply"], "afile/m.ply"),
])
def test_an_output_under_a_file_is_one_line_naming_the_file(inputs, capsys, run, args, named):
    assert run(*args) == 2
    err = one_line_error(capsys)
    assert f"cannot write {named}: {inputs / 'afile'} is a file, not a folder" in err and "Errno" not in err, err
    assert names(inputs) == INPUTS


@pytest.mark.parametrize("run, args", [
    (depth, ["--out", "kept.png"]),
    (depth, ["--out", "d.png", "--preview", "kept.png"]),
    (export_mesh, ["--out", "kept.ply"]),
])
def test_a_read_only_output_is_not_replaced(inputs, capsys, run, args):
    kept = Path(args[-1])
    kept.write_bytes(b"mine")
    kept.chmod(0o444)
    assert run(*args) == 2
    assert f"will not replace {kept}: the file is read-only" in one_line_error(capsys)
    assert kept.read_bytes() == b"mine"
    assert names(inputs) == sorted([*INPUTS, kept.name])


def test_the_same_file_for_out_and_preview_is_refused(inputs, capsys):
    assert depth("--out", "d.png", "--preview", "./d.png") == 2
    assert "--out and --preview name the same file" in one_line_error(capsys)
    assert names(inputs) == INPUTS


def _fail_writes_to(monkeypatch, module, name: str, error: BaseException) -> None:
    """Make ``module.save_atomic`` of a file whose name contains ``name`` stop halfway with ``error``."""
    real = module.save_atomic

    def save_atomic(path, write, suffix=""):
        if name not in Path(path).name:
            return real(path, write, suffix)

        def half_then_fail(stream):
            stream.write(b"half a file")
            raise error

        return real(path, half_then_fail, suffix)

    monkeypatch.setattr(module, "save_atomic", save_atomic)


DISK_FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("run, args, module, failing", [
    (depth, ["--out", "d.png", "--preview", "p.png"], viewgen.io.images, "d.png"),
    (depth, ["--out", "d.png", "--preview", "p.png"], viewgen.io.images, "p.png"),
    (export_mesh, ["--out", "m.ply"], viewgen.io.ply, "m.ply"),
])
def test_a_full_disk_keeps_every_existing_output(inputs, capsys, monkeypatch, run, args, module, failing):
    outputs = [Path(arg) for arg in args if arg.endswith((".png", ".ply"))]
    for output in outputs:
        output.write_bytes(b"old " + output.name.encode())
    _fail_writes_to(monkeypatch, module, failing, DISK_FULL)
    assert run(*args) == 2
    assert one_line_error(capsys) == f"viewgen: error: cannot write {failing}: No space left on device\n"
    assert all(output.read_bytes() == b"old " + output.name.encode() for output in outputs)
    assert names(inputs) == sorted([*INPUTS, *(output.name for output in outputs)])  # no hidden files


@pytest.mark.parametrize("run, args, module", [
    (depth, ["--out", "d.png", "--preview", "p.png"], viewgen.io.images),
    (export_mesh, ["--out", "m.ply"], viewgen.io.ply),
])
def test_ctrl_c_while_writing_leaves_nothing_behind(inputs, capsys, monkeypatch, run, args, module):
    _fail_writes_to(monkeypatch, module, args[-1], KeyboardInterrupt())
    assert run(*args) == 130
    assert capsys.readouterr().err == "viewgen: interrupted\n"
    assert names(inputs) == INPUTS


@pytest.mark.parametrize("run, name", [(depth, "d.npy"), (export_mesh, "m.ply")])
def test_a_link_is_followed_and_kept(inputs, run, name):
    Path("real").mkdir()
    Path("real", name).write_bytes(b"old")
    Path(name).symlink_to(Path("real", name))
    assert run("--out", name) == 0
    assert Path(name).is_symlink() and Path("real", name).read_bytes() != b"old"
    assert names(Path("real")) == [name]
