import pytest
import torch

from viewgen.evaluation.loop_closure import loop_closure_error

pytest.importorskip("torchmetrics")


def test_a_perfect_return_and_a_changed_one():
    first = torch.rand(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    same = loop_closure_error(first, first.clone())
    assert torch.isinf(same.psnr_db).all() and torch.equal(same.disparity_error, torch.zeros(2))
    changed = first.clone()
    changed[1, 3] += 0.1
    changed[1, :3] = (changed[1, :3] + 0.1).clamp(0, 1)
    error = loop_closure_error(first, changed)
    assert torch.isinf(error.psnr_db[0]) and 15 < error.psnr_db[1] < 30
    assert error.disparity_error[1].item() == pytest.approx(0.1, abs=1e-6)


def test_bad_input_is_one_line_value_error():
    with pytest.raises(ValueError, match=r"^returned_rgbd must be a \[B, 4, H, W\] tensor[^\n]*$"):
        loop_closure_error(torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 9))
