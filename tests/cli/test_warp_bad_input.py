"""`viewgen warp` with a pose that is not a number ends with one line and exit 2, at once."""

import pytest

from viewgen.cli.main import main


@pytest.mark.parametrize("option, value", [("--forward", "nan"), ("--right", "inf"), ("--up=-inf", None)])
def test_non_finite_move_is_one_line_error(tmp_path, capsys, option, value):
    out = tmp_path / "warp.png"
    assert main(["warp", option, *([value] if value else []), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: tgt_cam_from_world contains NaN or infinite values")
    assert err.count("\n") == 1
    assert not out.exists()
