"""Write this process's counters to the shared ``ProcessStats`` table and read every process's.

A gunicorn worker, a relay, a management command: each keeps its counters in memory and rewrites
its own row at most every ``MONITORING_SHARED_STATS_SECONDS`` (after a finished request) and at
exit. ``cache_stats``, ``perf_report``, ``/api/health`` and ``/monitoring/`` then sum the rows of
the last ``MONITORING_SHARED_STATS_MAX_AGE`` seconds with this process's live counters
(``monitoring.deployment``), so they report the deployment, not the process that answers.
"""

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime

from django.db import DatabaseError

from monitoring.conf import app_settings

logger = logging.getLogger("monitoring")


class Clock:
    """Wall clock of the store; tests replace it."""

    now = staticmethod(time.time)


STARTED = time.time()
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{int(STARTED)}"
_state = {"last": 0.0, "failing": False, "published": False}
_lock = threading.Lock()


def _as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def collect() -> dict:
    """Return this process's counters in the stored form."""
    from cachecore.api import encode_totals, totals
    from monitoring.performance import tracker

    return {"cache": encode_totals(totals()), "performance": tracker.to_snapshot(windows=False)}


def publish() -> bool:
    """Write this process's row now and delete rows past the maximum age; return False if the database failed."""
    from monitoring.models import ProcessStats

    now = Clock.now()
    counters = collect()
    try:
        ProcessStats.objects.update_or_create(
            process=PROCESS_ID,
            defaults={
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": _as_datetime(STARTED),
                "updated_at": _as_datetime(now),
                **counters,
            },
        )
        cutoff = _as_datetime(now - app_settings().shared_stats_max_age)
        ProcessStats.objects.filter(updated_at__lt=cutoff).delete()
    except DatabaseError as exc:
        if not _state["failing"]:  # logged once per outage
            logger.warning("could not write the shared statistics: %s", exc)
        _state["failing"] = True
        return False
    _state.update(last=now, failing=False, published=True)
    return True


def publish_if_due(**_signal_kwargs) -> None:
    """Publish when the interval has passed (a request_finished receiver; 0 seconds: never)."""
    interval = app_settings().shared_stats_seconds
    if interval <= 0 or Clock.now() - _state["last"] < interval:
        return
    if not _lock.acquire(blocking=False):  # another thread of this process is publishing
        return
    try:
        publish()
    finally:
        _lock.release()


def publish_at_exit() -> None:
    """Publish once more at exit, when this process has published before or counted anything."""
    if app_settings().shared_stats_seconds <= 0:
        return
    from cachecore.api import totals

    if _state["published"] or totals():
        publish()


def other_processes() -> list:
    """Return the stored rows of the other processes updated within the maximum age."""
    from monitoring.models import ProcessStats

    cutoff = _as_datetime(Clock.now() - app_settings().shared_stats_max_age)
    rows = ProcessStats.objects.filter(updated_at__gte=cutoff).exclude(process=PROCESS_ID)
    return list(rows.only("process", "started_at", "updated_at", "cache", "performance"))
