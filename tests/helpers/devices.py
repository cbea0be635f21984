"""The devices and dtypes tests run on: CUDA rows are marked ``gpu`` and skip without a GPU."""

import pytest
import torch

__all__ = ["DEVICES", "DTYPES", "cuda_available"]


def cuda_available() -> bool:
    return torch.cuda.is_available()


DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu,
                                              pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")])]
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]
