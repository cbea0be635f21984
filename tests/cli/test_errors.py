"""One-line errors are for our own failures: a real torch ``RuntimeError`` keeps its traceback."""

import pytest
import torch

from viewgen.cli import info as info_command
from viewgen.cli.main import main
from viewgen.errors import InputError, OutputError, ViewgenRuntimeError, WeightsError


def _info_raises(monkeypatch, error: BaseException) -> None:
    def run(args):
        raise error

    monkeypatch.setattr(info_command, "run", run)


@pytest.mark.parametrize("error", [
    ViewgenRuntimeError("the refiner\n  broke"), InputError("the refiner broke"), OutputError("the refiner broke"),
    ValueError("the refiner broke"), OSError("the refiner broke"),
])
def test_our_errors_are_one_line_and_exit_2(monkeypatch, capsys, error):
    _info_raises(monkeypatch, error)
    assert main(["info"]) == 2
    assert capsys.readouterr().err.replace("the refiner broke", "X") == "viewgen: error: X\n"


def test_a_torch_runtime_error_is_not_turned_into_one_line(monkeypatch, capsys):
    def run(args):
        return torch.ones(2, 3) @ torch.ones(2, 3)  # a genuine torch RuntimeError (shapes cannot be multiplied)

    monkeypatch.setattr(info_command, "run", run)
    with pytest.raises(RuntimeError, match="cannot be multiplied") as raised:
        main(["info"])
    assert not isinstance(raised.value, (ViewgenRuntimeError, ValueError, OSError))
    assert "viewgen: error" not in capsys.readouterr().err


def test_a_plain_runtime_error_propagates(monkeypatch):
    _info_raises(monkeypatch, RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["info"])


def test_weights_errors_are_one_line(monkeypatch, capsys):
    from viewgen.hub import WeightsFormatError, WeightsNotFoundError

    for error in (WeightsFormatError("bad weights"), WeightsNotFoundError("bad weights")):
        assert isinstance(error, WeightsError)
        _info_raises(monkeypatch, error)
        assert main(["info"]) == 2
        assert capsys.readouterr().err == "viewgen: error: bad weights\n"


def test_importing_the_command_line_does_not_load_torch():
    # The command modules import torch where they work (main.py shows Ctrl-C handling before the heavy imports).
    import subprocess
    import sys

    code = "import sys, viewgen.cli.main, viewgen.cli.fly_folder; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
