"""Every depth test runs offline in an empty VIEWGEN_HOME (tests.helpers.offline)."""

from tests.helpers.offline import isolated_cache  # noqa: F401 - pytest finds fixtures by name here
