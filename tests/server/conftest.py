import pytest

from tests.helpers.serve import PipelineFactory, StandInDepth


@pytest.fixture
def factory():
    return PipelineFactory()


@pytest.fixture
def depth():
    return StandInDepth()
