"""DRF scoped throttling that reads its rate per request and never turns a cache outage into an error."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger("config.throttling")


class ScopedThrottle(ScopedRateThrottle):
    """A ``throttle_scope`` rate from DEFAULT_THROTTLE_RATES; lets requests through when the cache is down.

    The history lives in the default cache (Redis in production). A throttle that cannot read it
    allows the request (logged): the service must keep answering while Redis is away. The 429 it
    answers carries ``Retry-After`` (DRF's Throttled exception).
    """

    def get_rate(self):
        # Read the rate at request time so overrides apply (DRF binds THROTTLE_RATES at import).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        """Return whether the request is within the rate; True when the cache cannot be read."""
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - any cache backend error means "cannot throttle"
            logger.warning("%s throttle skipped: the cache is unavailable (%s)", self.scope, type(exc).__name__)
            return True
