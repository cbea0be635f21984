from pathlib import Path

import pytest

from tests.helpers.shared import infinite_nature_checkpoint


@pytest.fixture(scope="session")
def infinite_nature_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared reference TF checkpoint, decompressed once per session; returns its prefix."""
    return infinite_nature_checkpoint(tmp_path_factory.mktemp("infinite_nature_tf"))
