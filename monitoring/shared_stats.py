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

from django.db import DatabaseError, transaction

from monitoring import history
from monitoring.conf import app_settings

logger = logging.getLogger("monitoring")


class Clock:
    """Wall clock of the store; tests replace it."""

    now = staticmethod(time.time)


STARTED = time.time()
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{int(STARTED)}"
# "bucket": the history bucket being written; "base_*": the totals when it began, so every publish
# within a bucket rewrites that bucket's sample with the deltas since its start.
_state = {"last": 0.0, "failing": False, "published": False, "bucket": None, "base_cache": {}, "base_sql": None}
_lock = threading.Lock()


def forget() -> None:
    """Forget what this process published (tests, whose counters are reset between them)."""
    _state.update(last=0.0, failing=False, published=False, bucket=None, base_cache={}, base_sql=None)


def _as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def collect() -> tuple[dict, dict, object]:
    """Return this process's counters in the stored form, and its raw cache totals and SQL sketch."""
    from cachecore.api import encode_totals, totals
    from monitoring.performance import SQL, tracker

    raw = totals()
    stored = {"cache": encode_totals(raw), "performance": tracker.to_snapshot(windows=False)}
    return stored, raw, tracker.merged_sketch(SQL)


def _history_sample(now: float, raw: dict, sql) -> dict:
    """Return this process's sample of the current history bucket (deltas since the bucket began)."""
    from cachecore.api import encode_totals

    resolution = max(1, int(app_settings().history_resolution))
    bucket = int(now // resolution * resolution)
    if _state["bucket"] != bucket:
        if _state["bucket"] is not None:  # the totals at the last publish start the new bucket
            _state["base_cache"], _state["base_sql"] = _state["last_cache"], _state["last_sql"]
        _state["bucket"] = bucket
    _state["last_cache"], _state["last_sql"] = raw, sql
    cache = encode_totals(history.counter_delta(raw, _state["base_cache"]))
    sql_delta = history.sketch_delta(sql, _state["base_sql"]).to_dict()
    return {"bucket": bucket, "cache": cache, "sql": sql_delta, "outbox_age": _outbox_age()}


def _outbox_age() -> float | None:
    """Return the age in seconds of the oldest pending invalidation (None when unknown)."""
    from cachecore.api import invalidation_status

    return invalidation_status().get("oldest_age_seconds")


def publish() -> bool:
    """Write this process's row now and delete rows past the maximum age; return False if the database failed."""
    from monitoring.models import MetricSample, ProcessStats

    now = Clock.now()
    counters, raw, sql = collect()
    sample = _history_sample(now, raw, sql)
    config = app_settings()
    try:
        # One transaction (a savepoint inside a caller's): written whole or not at all, and a
        # failure never aborts a transaction around it.
        with transaction.atomic():
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
            cutoff = _as_datetime(now - config.shared_stats_max_age)
            ProcessStats.objects.filter(updated_at__lt=cutoff).delete()
            MetricSample.objects.update_or_create(
                bucket=sample["bucket"],
                process=PROCESS_ID,
                defaults={"cache": sample["cache"], "sql": sample["sql"], "outbox_age": sample["outbox_age"]},
            )
            MetricSample.objects.filter(bucket__lt=now - config.history_window).delete()
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


def history_series() -> dict:
    """Return the chart data of the last ``MONITORING_HISTORY_WINDOW`` seconds, every process summed."""
    from cachecore.api import decode_totals
    from monitoring.models import MetricSample

    config = app_settings()
    resolution = max(1, int(config.history_resolution))
    end = int(Clock.now() // resolution * resolution)
    start = end - int(config.history_window) + resolution
    rows = MetricSample.objects.filter(bucket__gte=start).values_list("bucket", "cache", "sql", "outbox_age")
    samples = [(bucket, decode_totals(cache), sql, age) for bucket, cache, sql, age in rows]
    return history.series(samples, start=start, end=end, resolution=resolution)
