"""Downloaded weights are readable by others, like any file made under the umask."""

import os

from viewgen.hub import WeightFile, download_weights


def test_downloaded_file_follows_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    asset = tmp_path / "release" / "model.pt"
    asset.parent.mkdir()
    asset.write_bytes(b"weights" * 10)
    path = download_weights(WeightFile("m.pt", (asset.as_uri(),)), tmp_path / "cache")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
