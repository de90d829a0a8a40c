"""Fixtures of the cachecore tests (engine fixtures live in engine_helpers)."""

from cachecore.tests.engine_helpers import make_ns  # noqa: F401 - re-exported as a fixture
