"""An autouse fixture for tests of model downloads and caches: an empty VIEWGEN_HOME, offline.

conftest.py files of such test folders (depth backends, sky segmentation) import :func:`isolated_cache`, so
that no test there touches the network or the user's weights.
"""

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """An empty VIEWGEN_HOME (returned) and VIEWGEN_OFFLINE=1 for the test."""
    home = tmp_path / "viewgen_home"
    monkeypatch.setenv("VIEWGEN_HOME", str(home))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    return home
