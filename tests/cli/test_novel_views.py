"""``viewgen novel-views``: a grid of views and an orbit from a tiny model's release folder (and Apple's .pt);
identical reruns; bad options and missing weights are one line and write nothing."""

import pytest
import torch
from PIL import Image

from viewgen import devices
from viewgen.cli.main import main
from viewgen.networks.enr import ENRConfig, EquivariantRenderer

TINY = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                 encoder_3d=("res4", "down8", "up4", "res4"), projection=(16, 16))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("enr")
    torch.manual_seed(0)
    model = EquivariantRenderer(TINY)
    model.save_pretrained(root / "weights")
    torch.save({"config": TINY.to_apple(), "state_dict": model.state_dict()}, root / "apple.pt")
    pixels = (torch.rand(48, 64, 3, generator=torch.Generator().manual_seed(1)) * 255).byte().numpy()
    Image.fromarray(pixels).save(root / "object.png")
    return root


def _args(files, out, *extra):
    return ["novel-views", str(files / "object.png"), "--weights", str(files / "weights"), "--azimuth-source", "30",
            "--elevation-source", "10", "--out", str(out), *extra]


def test_a_grid_shows_the_input_and_one_view_per_shift_and_reruns_identically(files, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(_args(files, out, "--azimuth-shifts", "0,90,180", "--elevation-shifts", "0,10,-10")) == 0
    assert capsys.readouterr().out.startswith("wrote 3 view(s) of 32x32 to ")
    assert Image.open(out).size == (4 * 32 + 3 * 4, 32)
    again = tmp_path / "again.png"
    assert main(_args(files, again, "--azimuth-shifts", "0,90,180", "--elevation-shifts", "0,10,-10")) == 0
    assert out.read_bytes() == again.read_bytes()
    apple = tmp_path / "apple.png"
    args = _args(files, apple, "--azimuth-shifts", "0,90,180", "--elevation-shifts", "0,10,-10")
    args[args.index("--weights") + 1] = str(files / "apple.pt")
    assert main(args) == 0 and apple.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("name", ["orbit.gif", "frames/"])
def test_an_orbit_writes_one_frame_per_view(files, tmp_path, name, capsys):
    out = tmp_path / name
    assert main(_args(files, out, "--views", "4")) == 0
    assert "wrote 4 view(s)" in capsys.readouterr().out
    if name.endswith(".gif"):
        assert Image.open(out).n_frames == 4
    else:
        assert len(list(out.glob("frame_*.png"))) == 4


@pytest.mark.parametrize("extra, needle", [
    (["--azimuth-shifts", "a,b"], "--azimuth-shifts must be comma-separated numbers"),
    (["--azimuth-shifts", "1,2", "--elevation-shifts", "1,2,3"], "--elevation-shifts needs 1 or 2 values"),
    (["--out", "{tmp}/orbit.gif", "--views", "0"], "--views must be between 1 and"),
    (["--out", "{tmp}/orbit.gif", "--elevation-shifts", "1,2"], "an orbit takes one --elevation-shifts value"),
    (["--out", "{tmp}/grid.bmp"], "unsupported --out"),
    (["--weights", "{tmp}/none.pt"], "does not exist: download Apple's"),
])
def test_bad_options_are_one_line_and_write_nothing(files, tmp_path, capsys, extra, needle):
    (tmp_path / "out").mkdir()
    extra = [arg.replace("{tmp}", str(tmp_path / "out")) for arg in extra]
    assert main([*_args(files, tmp_path / "out" / "grid.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("viewgen: error: ") and err.count("\n") == 1 and needle in err, err
    assert list((tmp_path / "out").iterdir()) == []


def test_the_embedded_model_turns_the_example_objects_offline(tmp_path, capsys):
    from viewgen.data.objects.examples import example_object
    from viewgen.pipelines.novel_view import NovelViewPipeline

    assert main(["novel-views", "--out", str(tmp_path / "chair.png")]) == 0  # object:1 and the embedded model
    size = NovelViewPipeline.default().image_size
    assert capsys.readouterr().out.startswith(f"wrote 5 view(s) of {size[0]}x{size[1]} to ")
    assert main(["novel-views", "object:mug", "--out", str(tmp_path / "mug.gif"), "--views", "3"]) == 0
    assert Image.open(tmp_path / "mug.gif").n_frames == 3
    mug = example_object(4)
    pinned = ["novel-views", "object:4", "--azimuth-source", str(mug.azimuth_deg), "--elevation-source",
              str(mug.elevation_deg), "--out", str(tmp_path / "pinned.gif"), "--views", "3"]
    assert main(pinned) == 0 and (tmp_path / "pinned.gif").read_bytes() == (tmp_path / "mug.gif").read_bytes()


@pytest.mark.parametrize("args, needle", [
    (["{object}"], "--azimuth-source and --elevation-source are needed for an image file"),
    (["object:9"], "unknown example object 'object:9'; choose object:1 (chair)"),
])
def test_examples_and_files_say_what_they_miss(files, tmp_path, capsys, args, needle):
    args = [arg.replace("{object}", str(files / "object.png")) for arg in args]
    assert main(["novel-views", *args, "--out", str(tmp_path / "grid.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "grid.png").exists()


def test_the_fast_precision_is_refused_in_one_line_where_bfloat16_is_not_native(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(devices, "native_bfloat16", lambda device: device.type == "cuda")  # an AVX2 CPU
    (tmp_path / "out").mkdir()
    assert main([*_args(files, tmp_path / "out" / "grid.png"), "--precision", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a CUDA device or a CPU with native bfloat16" in err, err
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.skipif(not devices.native_bfloat16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_the_fast_precision_draws_the_same_grid_nearly(files, tmp_path, capsys):
    import numpy as np

    exact, fast = tmp_path / "exact.png", tmp_path / "fast.png"
    assert main(_args(files, exact, "--azimuth-shifts", "0,90")) == 0
    assert main(_args(files, fast, "--azimuth-shifts", "0,90", "--precision", "fast")) == 0
    assert "wrote 2 view(s)" in capsys.readouterr().out
    difference = np.abs(np.asarray(Image.open(fast), np.int16) - np.asarray(Image.open(exact), np.int16))
    assert difference.max() <= 13 and difference.mean() < 1.5  # 0.05 and ~0.006 of the range
