"""Fixtures for every test: ``device`` (cpu, and cuda marked ``gpu``) and ``dtype`` (float32, float64).

Test helpers are a package (``tests.helpers``, importable because pyproject's pytest section
puts the repository root on the path); this file holds fixtures only.
"""

import os

# Before torch loads OpenMP: idle threads sleep instead of spinning, so tests that run servers,
# ffmpeg or subprocesses beside torch do not stall it (see README, Speed).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.helpers.devices import DEVICES, DTYPES, cuda_available  # noqa: E402

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

__all__ = ["DEVICES", "DTYPES", "cuda_available"]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each device a test runs on: cpu always; cuda marked ``gpu`` (``-m gpu``), skipped without one."""
    return torch.device(request.param)


@pytest.fixture(params=DTYPES)
def dtype(request) -> torch.dtype:
    """Each floating dtype a test runs in: float32 and float64."""
    return request.param


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for the module (parity with fixtures recorded on one thread), then the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def zero_fixture_generator(one_thread):
    """The Infinite Nature Zero fixture's 65M-parameter generator (the original's checkpoint), once per module."""
    from tests.helpers.shared import shared_path
    from viewgen.networks.stylegan2 import load_original_checkpoint

    return load_original_checkpoint(shared_path("fixtures", "infinite_nature_zero", "checkpoints",
                                                "inz_seed0_latest.tar"))
