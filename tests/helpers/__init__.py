"""Helpers shared by the tests: scenes, tiny models, reference data, server stand-ins. Not tests themselves."""
