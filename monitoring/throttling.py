"""Rate limiting of the health endpoint that never turns a cache outage into an error."""

from config.throttling import ScopedThrottle


class HealthThrottle(ScopedThrottle):
    """DRF scoped throttle ("health") that lets requests through when its cache is unreachable.

    The throttle history lives in the default cache (Redis in production); the health endpoint
    is what must still answer when Redis is down, so a cache error means "allow", logged.
    """
