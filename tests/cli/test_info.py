"""``viewgen info``: versions, devices and the weights found in the cache."""

from viewgen.cli.main import main
from viewgen.depth.midas import MIDAS_VARIANTS


def test_info_lists_versions_and_found_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("viewgen ") and "torch " in out and "cuda" in out
    assert f"weights cache: {tmp_path}" in out and "not downloaded (viewgen download midas-v21)" in out
    assert "none converted here" in out
    assert "enr embedded model: " in out and "viewgen novel-views uses it without --weights" in out

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / MIDAS_VARIANTS["midas-v21"].weights.filename).write_bytes(b"x")
    for part in ("style_encoder", "spade_generator"):
        (tmp_path / "infinite_nature" / part).mkdir(parents=True)
        (tmp_path / "infinite_nature" / part / "config.json").write_text("{}")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"depth midas-v21: {tmp_path / 'weights'}" in out
    assert f"infinite nature weights: {tmp_path / 'infinite_nature'}" in out


def test_info_skips_unfinished_conversions(tmp_path, monkeypatch, capsys):
    """A hidden folder left by a conversion that was killed is not offered as weights."""
    monkeypatch.setenv("VIEWGEN_HOME", str(tmp_path))
    for part in ("style_encoder", "spade_generator"):
        (tmp_path / ".infinite_nature.0a1b2c3d.partial" / part).mkdir(parents=True)
        (tmp_path / ".infinite_nature.0a1b2c3d.partial" / part / "config.json").write_text("{}")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert ".partial" not in out and "none converted here" in out
