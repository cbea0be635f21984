"""The weights cache (:mod:`viewgen.hub`): folder, downloads (via file:// URLs), checksums, offline mode."""

import hashlib

import pytest
import torch

from viewgen.hub import (
    DownloadChecksumError,
    WeightFile,
    WeightsDownloadError,
    WeightsFormatError,
    WeightsNotFoundError,
    download_weights,
    ensure_weights,
    find_weights,
    is_offline,
    load_state_dict_file,
    viewgen_home,
    weights_dir,
)


def test_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path / "h"))
    assert viewgen_home() == tmp_path / "h" and weights_dir() == tmp_path / "h" / "weights"
    monkeypatch.delenv("VIEWGEN_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert viewgen_home() == tmp_path / "xdg" / "viewgen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert viewgen_home() == tmp_path / "me" / ".cache" / "viewgen"


def test_offline_flags(monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert is_offline()


def _release(tmp_path, payload=b"weights" * 100):
    """A fake release asset with a torch.hub-style hash in its name, served by a file:// URL."""
    digest = hashlib.sha256(payload).hexdigest()
    asset = tmp_path / "release" / f"model-{digest[:8]}.pt"
    asset.parent.mkdir(parents=True, exist_ok=True)
    asset.write_bytes(payload)
    return asset, digest


def test_download_checks_the_hash_and_renames_into_place(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    asset, digest = _release(tmp_path)
    spec = WeightFile("m.pt", (asset.as_uri(),), sha256_prefix=digest[:8], description="Test model")
    path = download_weights(spec, tmp_path / "cache")
    assert path == tmp_path / "cache" / "m.pt" and path.read_bytes() == asset.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.pt"]  # no temporary left
    assert ensure_weights(spec, tmp_path / "cache") == path


def test_bad_checksum_and_dead_urls_leave_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    asset, _ = _release(tmp_path)
    wrong = WeightFile("m.pt", (asset.as_uri(),), sha256_prefix=asset.stem.split("-")[1][::-1])
    # the name carries a different hash than the spec: no check applies, so use a matching wrong prefix
    renamed = asset.with_name(f"model-{wrong.sha256_prefix}.pt")
    asset.rename(renamed)
    wrong = WeightFile("m.pt", (renamed.as_uri(),), sha256_prefix=wrong.sha256_prefix)
    with pytest.raises(WeightsDownloadError, match="SHA-256") as caught:
        download_weights(wrong, tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert list((tmp_path / "cache").iterdir()) == []
    dead = WeightFile("m.pt", ((tmp_path / "gone.pt").as_uri(), (tmp_path / "gone2.pt").as_uri()), description="X")
    with pytest.raises(WeightsNotFoundError) as caught:
        ensure_weights(dead, tmp_path / "cache", command="viewgen download x")
    message = str(caught.value)
    assert "\n" not in message and "gone.pt" in message and "viewgen download x" in message
    assert str(tmp_path / "cache" / "m.pt") in message


def test_a_mirror_is_used_when_the_first_url_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    asset, digest = _release(tmp_path)
    spec = WeightFile("m.pt", ((tmp_path / "gone.pt").as_uri(), asset.as_uri()), sha256_prefix=digest[:8])
    assert download_weights(spec, tmp_path / "cache").read_bytes() == asset.read_bytes()


def test_offline_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    asset, _ = _release(tmp_path)
    spec = WeightFile("m.pt", (asset.as_uri(),), description="Test model")
    with pytest.raises(WeightsNotFoundError, match="Test model weights not found .*offline"):
        ensure_weights(spec, tmp_path / "cache")
    with pytest.raises(WeightsNotFoundError):
        download_weights(spec, tmp_path / "cache")
    assert not (tmp_path / "cache" / "m.pt").exists()
    monkeypatch.setenv("VIEWGEN_OFFLINE", "0")
    with pytest.raises(WeightsNotFoundError, match="downloads disabled"):
        ensure_weights(spec, tmp_path / "cache", download=False)


def test_find_weights_accepts_aliases_and_safetensors(tmp_path):
    spec = WeightFile("a-1234abcd.pt", ("https://example.invalid/a.pt",), aliases=("b.pt",))
    assert spec.names() == ("a-1234abcd.pt", "b.pt", "a-1234abcd.safetensors", "b.safetensors")
    assert find_weights(spec, tmp_path) is None
    (tmp_path / "b.safetensors").write_bytes(b"x")
    assert find_weights(spec, tmp_path) == tmp_path / "b.safetensors"
    (tmp_path / "b.pt").write_bytes(b"x")
    assert find_weights(spec, tmp_path) == tmp_path / "b.pt"


def test_load_state_dict_file_unwraps_and_validates(tmp_path):
    state = {"module.a": torch.ones(2), "module.b": torch.zeros(1)}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "w.pt")
    loaded = load_state_dict_file(tmp_path / "w.pt")
    assert sorted(loaded) == ["a", "b"]
    torch.save({"a": torch.ones(1), "b": [1, 2]}, tmp_path / "mixed.pt")
    with pytest.raises(WeightsFormatError, match="not named tensors"):
        load_state_dict_file(tmp_path / "mixed.pt")
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsFormatError, match="expected a state dict"):
        load_state_dict_file(tmp_path / "list.pt")
    with pytest.raises(WeightsFormatError, match="is a folder"):
        load_state_dict_file(tmp_path)
    assert not issubclass(DownloadChecksumError, ValueError) and issubclass(DownloadChecksumError, OSError)
