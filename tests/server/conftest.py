import sys
from pathlib import Path

import pytest

# Make ``_serve_helpers`` importable from the test modules of this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serve_helpers import PipelineFactory, StandInDepth  # noqa: E402


@pytest.fixture
def factory():
    return PipelineFactory()


@pytest.fixture
def depth():
    return StandInDepth()
