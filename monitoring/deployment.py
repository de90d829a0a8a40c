"""The deployment's figures: this process's live counters plus every other process's stored row.

Percentiles come from merged sketches, so they are the deployment's percentiles (within the
sketch's 1 %), not an average of per-process ones. Regression detection needs each name's recent
samples in order, which only a live process has: the regressions shown are this process's.
"""

import logging

from django.db import DatabaseError

from monitoring import shared_stats
from monitoring.performance import PerformanceTracker, tracker

logger = logging.getLogger("monitoring")


def _stored_rows() -> list:
    try:
        return shared_stats.other_processes()
    except DatabaseError as exc:  # the store is part of the database: report this process alone
        logger.warning("could not read the shared statistics: %s", exc)
        return []


def origin(rows: list) -> dict:
    """Return how many processes the figures cover and since when (ISO 8601, UTC)."""
    started = [shared_stats._as_datetime(shared_stats.STARTED)] + [row.started_at for row in rows]
    return {
        "processes": 1 + len(rows),
        "since": min(started).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "source": "shared store" if rows else "this process",
    }


def cache_totals() -> tuple[dict, dict]:
    """Return the deployment's raw cache counters and their origin (cachecore's deployment source)."""
    from cachecore.api import decode_totals, merge_totals, totals

    own = totals()  # before the read, whose own query is not part of the figures asked for
    rows = _stored_rows()
    merged = merge_totals(own, *(decode_totals(row.cache) for row in rows))
    return merged, origin(rows)


def performance() -> tuple[PerformanceTracker, dict]:
    """Return a tracker holding the deployment's timings, and their origin."""
    own = tracker.to_snapshot()  # this process's, with its regression windows; before the read
    rows = _stored_rows()
    merged = PerformanceTracker()
    merged.load_snapshot(own)
    for row in rows:
        try:
            merged.load_snapshot(row.performance)
        except (KeyError, ValueError) as exc:  # a row from another version: left out, said once
            logger.warning("left out the timings of process %s: %s", row.process, exc)
    return merged, origin(rows)
