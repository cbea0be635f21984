"""viewgen's tests (a package, so test helpers import as ``tests.helpers.<module>``)."""
