"""``export_mesh_ply`` / ``write_ply``: unusable destinations and failed writes are one line naming the path."""

import errno
import os

import pytest
import torch

import viewgen.io.ply
from viewgen.geometry import default_intrinsics
from viewgen.io.ply import export_mesh_ply

H, W = 4, 5


def export(path):
    return export_mesh_ply(path, torch.rand(1, 4, H, W, generator=torch.Generator().manual_seed(0)),
                           default_intrinsics(H, W))


def test_an_unusable_destination_is_one_line_and_changes_nothing(tmp_path):
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(OSError) as error:
        export(tmp_path / "afile" / "m.ply")
    assert str(error.value) == f"cannot write {tmp_path}/afile/m.ply: {tmp_path}/afile is a file, not a folder"
    kept = tmp_path / "kept.ply"
    kept.write_bytes(b"mine")
    kept.chmod(0o444)
    with pytest.raises(OSError, match="will not replace .*kept.ply: the file is read-only"):
        export(kept)
    assert kept.read_bytes() == b"mine" and (tmp_path / "afile").read_text() == "mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["afile", "kept.ply"]


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    real = viewgen.io.ply.save_atomic

    def half_then_full(path, write, suffix=""):
        def write_half(stream):
            stream.write(b"ply\n")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), stream.name)
        return real(path, write_half, suffix)

    monkeypatch.setattr(viewgen.io.ply, "save_atomic", half_then_full)
    out = tmp_path / "m.ply"
    out.write_bytes(b"old")
    with pytest.raises(OSError) as error:
        export(out)
    assert str(error.value) == f"cannot write {out}: No space left on device"
    assert out.read_bytes() == b"old" and [path.name for path in tmp_path.iterdir()] == ["m.ply"]


def test_a_link_is_followed(tmp_path):
    (tmp_path / "real.ply").write_bytes(b"old")
    (tmp_path / "m.ply").symlink_to(tmp_path / "real.ply")
    assert export(tmp_path / "m.ply").path == tmp_path / "m.ply"
    assert (tmp_path / "m.ply").is_symlink() and (tmp_path / "real.ply").read_bytes().startswith(b"ply\n")
