"""Reachability checks of the database and Redis, with latency, for the health endpoint.

A check never raises: it reports ``{"status": "ok"|"down"|"not configured", ...}``. Errors are
reported by exception class only (messages can carry host names or credentials).
"""

import threading
import time

from django.db import connections

from monitoring.conf import app_settings

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"
REDIS_TIMEOUT_SECONDS = 0.5

_redis_clients: dict = {}
_redis_lock = threading.Lock()


def check_database(alias: str = "default") -> dict:
    """Run ``SELECT 1`` on the database ``alias`` and report its status and latency."""
    connection = connections[alias]
    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - a probe reports failures, whatever the driver raises
        return {"status": DOWN, "error": type(exc).__name__, "vendor": connection.vendor}
    return {"status": OK, "latencyMs": _elapsed_ms(start), "vendor": connection.vendor}


def _redis_client(url: str, sentinels: tuple = ()):
    client = _redis_clients.get((url, sentinels))
    if client is None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from config.redis_sentinel import redis_client

        with _redis_lock:
            client = _redis_clients.get((url, sentinels))
            if client is None:
                # One attempt with short timeouts: a probe must answer fast when Redis is away.
                # With Sentinel, the master is asked from the Sentinels at each (re)connection.
                client = redis_client(url, sentinels, timeout=REDIS_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 0))
                _redis_clients[(url, sentinels)] = client
    return client


def check_redis(url: str | None = None) -> dict:
    """PING the Redis at ``url`` (default ``REDIS_URL``, through ``REDIS_SENTINELS`` when set) and report it."""
    sentinels = app_settings().redis_sentinels if url is None else ()
    url = app_settings().redis_url if url is None else url
    if not url:
        return {"status": NOT_CONFIGURED}
    start = time.perf_counter()
    try:
        _redis_client(url, sentinels).ping()
    except Exception as exc:  # noqa: BLE001 - a probe reports failures, whatever the client raises
        return {"status": DOWN, "error": type(exc).__name__}
    return {"status": OK, "latencyMs": _elapsed_ms(start)}


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)
