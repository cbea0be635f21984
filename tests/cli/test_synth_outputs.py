"""``viewgen synth``: an unusable --out or --seed is refused in one line before any rendering."""

import pytest

from viewgen.cli.main import main


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
