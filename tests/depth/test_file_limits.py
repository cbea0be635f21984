"""The ``file:`` backend reads disparity maps header first: text, archives and huge arrays are refused."""

import numpy as np
import pytest
import torch

from tests.helpers.bad_inputs import write_sparse_npy
from viewgen.depth import DepthError
from viewgen.depth.file import read_disparity_file
from viewgen.io.images import read_disparity_png16, write_disparity_png16


def test_a_text_file_named_npy_is_not_a_valid_npy(tmp_path):
    (tmp_path / "d.npy").write_text("0.5 0.5\n")
    with pytest.raises(DepthError) as caught:
        read_disparity_file(tmp_path / "d.npy")
    assert str(caught.value) == ("cannot read d.npy: not a valid .npy file (it holds text, not an array saved by "
                                 "numpy.save / numpy.savez)")


def test_an_npz_archive_named_npy_says_how_to_save_it(tmp_path):
    np.savez(tmp_path / "d.npz", disparity=np.ones((4, 4), np.float32))
    (tmp_path / "d.npz").rename(tmp_path / "d.npy")
    with pytest.raises(DepthError, match="numpy.save"):
        read_disparity_file(tmp_path / "d.npy")


def test_a_huge_disparity_array_is_refused_from_its_header(tmp_path):
    write_sparse_npy(tmp_path / "d.npy", (8000, 8000))
    with pytest.raises(DepthError, match=r"d.npy \[8000, 8000\] is 8000x8000 \(64 Mpx\); the limit is"):
        read_disparity_file(tmp_path / "d.npy")


def test_a_tall_disparity_png_round_trips_in_bands(tmp_path):
    disparity = torch.rand(700, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    disparity[3, 4] = float("nan")
    write_disparity_png16(tmp_path / "d.png", disparity)
    back = read_disparity_png16(tmp_path / "d.png")[0, 0].double()
    expected = torch.round(torch.nan_to_num(disparity, nan=0.0) * 65535) / 65535
    torch.testing.assert_close(back, expected, atol=1e-7, rtol=0)
