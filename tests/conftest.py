import sys
from pathlib import Path

import pytest
import torch

# Make ``tests/_shared.py`` importable as ``_shared`` from every test module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def cuda_available() -> bool:
    return torch.cuda.is_available()


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
