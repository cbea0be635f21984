"""Folders published whole, with the atomic exchange and with the two-rename fallback."""

import pytest

from viewgen import staging


def make(folder, files):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_publish_folder_replaces_the_old_content_whole(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(staging, "_exchange", lambda first, second: False)
    target = tmp_path / "out"
    make(target, {"old_1": "a", "old_2": "b"})
    new = staging.staging_folder(target)
    (new / "new_1").write_text("c")
    staging.publish_folder(new, target)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]
    assert sorted(path.name for path in target.iterdir()) == ["new_1"]


def test_publish_folder_into_a_new_place(tmp_path):
    target = tmp_path / "a" / "out"
    new = staging.staging_folder(target)
    (new / "x").write_text("1")
    staging.publish_folder(new, target)
    assert (target / "x").read_text() == "1" and sorted(p.name for p in target.parent.iterdir()) == ["out"]


def test_write_file_atomic_leaves_the_old_file_on_failure(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def fail(stream):
        stream.write(b"new, half")
        raise OSError(28, "No space left on device", str(tmp_path / ".f.bin.1234.partial"))

    with pytest.raises(OSError) as error:
        staging.write_file_atomic(path, fail)
    assert str(error.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
