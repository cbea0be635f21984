import pytest

from tests.helpers.serve import PipelineFactory, StandInDepth
from tests.helpers.zero import tiny_zero_release


@pytest.fixture
def factory():
    return PipelineFactory()


@pytest.fixture
def depth():
    return StandInDepth()


@pytest.fixture(scope="session")
def zero_weights(tmp_path_factory):
    """A tiny Infinite Nature Zero release whose crash test never fires (it flies on and on)."""
    return tiny_zero_release(tmp_path_factory.mktemp("zero") / "flying", -3.0, crash_below=0.0, crash_above=1.0)


@pytest.fixture(scope="session")
def crashing_zero_weights(tmp_path_factory):
    """A tiny Infinite Nature Zero release whose flights crash at frame 1 (stop_on_crash, the default)."""
    return tiny_zero_release(tmp_path_factory.mktemp("zero") / "crashing", 3.0)
