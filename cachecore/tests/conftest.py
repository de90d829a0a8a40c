"""Fixtures of the cachecore tests (engine fixtures live in engine_helpers)."""

import pytest
from django.conf import settings
from django.test import override_settings

from cachecore.tests.engine_helpers import breaker_clock, make_ns  # noqa: F401 - re-exported as fixtures
from tests.services import PrivateRedisServer


@pytest.fixture
def fault_redis():
    """Run a private redis-server as the engine's L2 (alias ``fault``) with a quick breaker."""
    server = PrivateRedisServer().start()
    try:
        with override_settings(
            CACHES=server.cache_settings(settings.CACHES["default"]),
            CACHECORE_CACHE_ALIAS="fault",
            CACHECORE_BREAKER_THRESHOLD=2,
        ):
            yield server
    finally:
        server.stop()
