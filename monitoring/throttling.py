"""Rate limiting of the health endpoint that never turns a cache outage into an error."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger("monitoring")


class HealthThrottle(ScopedRateThrottle):
    """DRF scoped throttle ("health") that lets requests through when its cache is unreachable.

    The throttle history lives in the default cache (Redis in production); the health endpoint
    is what must still answer when Redis is down, so a cache error means "allow", logged.
    """

    def get_rate(self):
        # Read the rate at request time so DEFAULT_THROTTLE_RATES overrides apply (DRF binds it at import).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        """Return whether the request is within the rate; True when the cache cannot be read."""
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - any cache backend error means "cannot throttle"
            logger.warning("health throttle skipped: the cache is unavailable (%s)", type(exc).__name__)
            return True
