import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every depth test gets an empty VIEWGEN_HOME and runs offline: nothing touches the network."""
    home = tmp_path / "viewgen_home"
    monkeypatch.setenv("VIEWGEN_HOME", str(home))
    monkeypatch.setenv("VIEWGEN_OFFLINE", "1")
    return home
