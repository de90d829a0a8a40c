"""Assemble the health report: status from the dependencies, details for operators.

Public callers get ``status``, ``timestamp`` and ``uptime``; operators (staff or the monitoring
token) also get ``performance``, ``cache``, ``consistency`` (the sampling verifier) and
``dependencies``. Every figure in the detailed view
is a count, a duration or a name chosen by the code (SQL fingerprints carry no literals), never a
value from a user's data.
"""

import logging
import re
import time
from datetime import UTC, datetime

from monitoring import dependencies, deployment
from monitoring.fingerprint import group
from monitoring.health_seed import seed_cache_fields
from monitoring.performance import SQL

logger = logging.getLogger("monitoring")

OK, DEGRADED, DOWN = "ok", "degraded", "down"
HTTP_STATUS = {OK: 200, DEGRADED: 200, DOWN: 503}
TOP_SLOWEST = 10
_CAMEL = re.compile(r"_([a-z])")


class Clock:
    """Wall clock for timestamps and monotonic clock for uptime; tests replace the attributes."""

    wall = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)
    started = time.monotonic()


def mark_started() -> None:
    """Record the process start (called from MonitoringConfig.ready())."""
    Clock.started = Clock.monotonic()


def uptime_seconds() -> float:
    """Return the seconds since this process started."""
    return round(Clock.monotonic() - Clock.started, 1)


def overall_status(deps: dict) -> str:
    """Return ``down`` when the database is down, ``degraded`` when Redis is, else ``ok``."""
    if deps["database"]["status"] == dependencies.DOWN:
        return DOWN
    if deps["redis"]["status"] == dependencies.DOWN:
        return DEGRADED
    return OK


def cache_report() -> dict:
    """Return cachecore's statistics of the deployment in the health contract's shape (empty when unavailable)."""
    try:
        from cachecore.api import all_namespaces, deployment_stats
    except ImportError:
        return {"available": False}
    try:
        raw = deployment_stats()
        seed_fields = seed_cache_fields(raw, all_namespaces())
    except Exception:  # noqa: BLE001 - statistics must never make the health check fail
        logger.exception("cachecore stats() failed; the health report leaves the cache section out")
        return {"available": False}
    return {
        "available": True,
        "enabled": raw.get("enabled", True),
        "hitRate": raw.get("hit_rate"),
        "hits": raw.get("hits", 0),
        "misses": raw.get("misses", 0),
        "tiers": {
            tier: {
                "hits": data.get("hits", 0),
                "misses": data.get("misses", 0),
                "stale": data.get("stale", 0),
                "errors": data.get("errors", 0),
                "hitRate": data.get("hit_rate"),
            }
            for tier, data in raw.get("tiers", {}).items()
        },
        "namespaces": {name: _namespace_report(data) for name, data in raw.get("namespaces", {}).items()},
        "l1": _camel(raw.get("l1", {})),
        "breakers": {name: _camel(info) for name, info in raw.get("breakers", {}).items()},
        "invalidations": {
            "total": raw.get("invalidations", {}).get("total", 0),
            "failures": raw.get("invalidations", {}).get("failures", 0),
            "bySource": raw.get("invalidations", {}).get("by_source", {}),
        },
        **seed_fields,  # seed 003's total/valid/expired/ttl and one "<name>Cache" object per namespace
        "outbox": outbox_report(),
        **({"replicas": raw["replicas"]} if "replicas" in raw else {}),  # docs/read-replicas.md
    }


def outbox_report() -> dict:
    """Return the invalidation outbox, this process's relay and its L1 coherence (camelCase)."""
    try:
        from cachecore.api import invalidation_status
    except ImportError:
        return {}
    found = invalidation_status()
    return {
        "pending": found.get("pending"),
        "oldestAgeSeconds": found.get("oldest_age_seconds"),
        "relay": _camel(found.get("relay", {})),
        "coherence": _camel(found.get("coherence", {})),
    }


def consistency_report() -> dict:
    """Return the sampling verifier's counts per namespace in the health contract's shape."""
    try:
        from cachecore.api import consistency_report as verifier_report
    except ImportError:
        return {"available": False}
    try:
        raw = verifier_report()
    except Exception:  # noqa: BLE001 - statistics must never make the health check fail
        logger.exception("cachecore consistency_report() failed; the health report leaves it out")
        return {"available": False}
    return {
        "available": True,
        "queue": raw["queue"],
        "namespaces": {name: _camel(row) for name, row in raw["namespaces"].items()},
    }


def _camel(data: dict) -> dict:
    """Return ``data`` with snake_case keys in the contract's camelCase (``max_entries`` -> ``maxEntries``)."""
    return {_CAMEL.sub(lambda m: m.group(1).upper(), key): value for key, value in data.items()}


def _namespace_report(data: dict) -> dict:
    return {
        "hitRate": data.get("hit_rate"),
        "hits": data.get("hits", 0),
        "misses": data.get("misses", 0),
        "stale": data.get("stale", 0),
        "computes": data.get("computes", 0),
        "invalidations": data.get("invalidations", 0),
        "size": {"l1": data.get("l1_entries", 0)},
        "tiers": {
            tier: {"hits": t.get("hits", 0), "misses": t.get("misses", 0), "hitRate": t.get("hit_rate")}
            for tier, t in data.get("tiers", {}).items()
        },
    }


def without_sql_text(performance: dict) -> dict:
    """Return ``performance`` with each SQL fingerprint replaced by its group (``select trackers_tracker``).

    The token holder (a scraper) gets the same coarse labels as /metrics; only staff see SQL text.
    """
    redacted = dict(performance)
    for key in ("topSlowest", "regressions"):
        redacted[key] = [
            {**entry, "name": group(entry["name"])} if entry.get("kind") == SQL else entry
            for entry in performance.get(key, [])
        ]
    return redacted


def build_health(*, detailed: bool, show_sql: bool = True) -> tuple[int, dict]:
    """Return the HTTP status and body of the health report (SQL text only with ``show_sql``)."""
    deps = {"database": dependencies.check_database(), "redis": dependencies.check_redis()}
    status = overall_status(deps)
    body = {
        "status": status,
        "timestamp": datetime.fromtimestamp(Clock.wall(), tz=UTC).isoformat().replace("+00:00", "Z"),
        "uptime": uptime_seconds(),
    }
    if detailed:
        performance, origin = deployment.performance()  # every process's timings (shared store)
        report = performance.report(top=TOP_SLOWEST)
        body["performance"] = report if show_sql else without_sql_text(report)
        body["cache"] = cache_report()
        body["consistency"] = consistency_report()
        body["dependencies"] = deps
        body["deployment"] = origin
    return HTTP_STATUS[status], body
