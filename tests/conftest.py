import os
import sys
from pathlib import Path

# Before torch loads OpenMP: idle threads sleep instead of spinning, so tests that run servers,
# ffmpeg or subprocesses beside torch do not stall it (see README, Speed).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

# Make ``tests/_shared.py`` importable as ``_shared`` from every test module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def cuda_available() -> bool:
    return torch.cuda.is_available()


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
