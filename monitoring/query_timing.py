"""Automatic timing of every SQL statement through Django's ``connection.execute_wrapper`` hook.

``install_wrapper`` is connected to ``connection_created`` in ``MonitoringConfig.ready()``: that
signal fires each time a ``DatabaseWrapper`` opens (or takes from the pool) a DB-API connection,
in every thread, so every connection of every request, command and test client is covered. The
wrapper lives in ``DatabaseWrapper.execute_wrappers``, which survives close/reconnect, and is
added once per wrapper object.

The wrapper itself only appends ``(sql, seconds)`` to a queue. Applying a timing (fingerprint,
tracker, Prometheus histogram) costs a few microseconds when the interpreter's caches are warm but
several times that when done one at a time between the unrelated work of a request (measured:
benchmarks/results/monitoring.md), so the queue is applied in batches: by the statement that fills
it to ``FLUSH_AT``; at the end of a request (``request_finished``) once its oldest timing is
``FLUSH_SECONDS`` old; before anyone reads the statistics (the tracker's read hook, ``/metrics``);
and at process exit. A worker that stops serving keeps fewer than ``FLUSH_AT`` timings queued
until its next request, read or exit.

Each statement is recorded under its fingerprint in ``monitoring.performance.tracker`` and
observed in ``db_query_seconds{group}``; the group label set is capped
(``MONITORING_MAX_METRIC_GROUPS``), past which statements count under ``group="other"``.
"""

import logging
import threading
import time
from collections import deque
from functools import lru_cache

from monitoring import fingerprint as fp
from monitoring.conf import app_settings
from monitoring.metrics import DB_QUERY_SECONDS
from monitoring.performance import SQL, tracker

OTHER_GROUP = "other"
FLUSH_AT = 256
FLUSH_SECONDS = 1.0
_oldest = [0.0]  # perf_counter() of the first timing queued since the last flush
_pending: deque = deque()  # append/popleft are atomic: writers need no lock
_flush_lock = threading.Lock()
_children = {}
_children_lock = threading.Lock()
_enabled = True
_failure_logged = False
logger = logging.getLogger("monitoring")


def refresh_enabled() -> None:
    """Re-read ``MONITORING_QUERY_TIMING`` (called when settings are reloaded)."""
    global _enabled
    _enabled = app_settings().query_timing


def _histogram_for(group: str):
    child = _children.get(group)
    if child is None:
        with _children_lock:
            child = _children.get(group)
            if child is None:
                if len(_children) >= app_settings().max_metric_groups:
                    group = OTHER_GROUP
                    child = _children.get(group)
                if child is None:
                    child = DB_QUERY_SECONDS.labels(group=group)
                    _children[group] = child
    return child


@lru_cache(maxsize=4096)
def _classify(sql: str):
    # One cache lookup per statement on the hot path: its fingerprint and its histogram child.
    return fp.fingerprint(sql), _histogram_for(fp.group(sql))


def record_statement(sql: str, seconds: float) -> None:
    """Record one executed statement's duration in the tracker and in Prometheus."""
    name, histogram = _classify(sql)
    tracker.record(name, seconds * 1000.0, SQL)
    histogram.observe(seconds)


def timed_execute(execute, sql, params, many, context):
    """Execute wrapper: run the statement and queue how long it took (even when it fails)."""
    if not _enabled:
        return execute(sql, params, many, context)
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        now = time.perf_counter()
        if not _pending:
            _oldest[0] = now
        _pending.append((sql, now - start))
        if len(_pending) >= FLUSH_AT:
            flush()


def flush_if_due(**kwargs) -> int:
    """Apply the queue when it is full or older than FLUSH_SECONDS (a request_finished receiver)."""
    if _pending and (len(_pending) >= FLUSH_AT or time.perf_counter() - _oldest[0] >= FLUSH_SECONDS):
        return flush()
    return 0


def flush() -> int:
    """Apply every queued statement timing now; return how many."""
    if not _pending:
        return 0
    applied = 0
    with _flush_lock:
        popleft = _pending.popleft
        while True:
            try:
                sql, seconds = popleft()
            except IndexError:
                break
            try:
                record_statement(sql, seconds)
            except Exception:  # noqa: BLE001 - measuring must never break the statement it measures
                _log_recording_failure()
            applied += 1
    return applied


def _log_recording_failure() -> None:
    global _failure_logged
    if not _failure_logged:
        _failure_logged = True
        logger.exception("monitoring could not record a SQL statement; further failures are not logged")


def install_wrapper(sender=None, connection=None, **kwargs) -> None:
    """Add ``timed_execute`` to a connection's execute wrappers once (a connection_created receiver)."""
    if connection is not None and timed_execute not in connection.execute_wrappers:
        # First in the list = outermost; and a later `with connection.execute_wrapper(...)` block
        # pops the last entry on exit, which must be its own, not ours.
        connection.execute_wrappers.insert(0, timed_execute)


def install_on_open_connections() -> None:
    """Add the wrapper to connections already opened in this thread (before ready() ran)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        install_wrapper(connection=connection)
