"""Batched L3 access tracking: hits only touch memory; a flush writes one UPDATE per batch.

An L3 hit calls ``record(pk)``; a daemon thread flushes at most every
``CACHECORE_ACCESS_FLUSH_SECONDS`` (0 disables it), and ``flush()`` runs at process exit and
whenever called (tests, monitoring).
"""

import atexit
import logging
import os
import threading
from datetime import datetime

from django.db import DatabaseError, close_old_connections, models
from django.db.models import Case, F, Value, When
from django.utils import timezone

from cachecore import conf

logger = logging.getLogger("cachecore")

_pending: dict[int, list] = {}  # pk -> [hits, last accessed]
_lock = threading.Lock()
_state = {"flushes": 0, "rows": 0, "background": True, "thread": None, "atexit": False}
_wake = threading.Event()


def record(pk: int, when: datetime | None = None) -> None:
    """Count one hit of the CacheEntry ``pk`` (no database access)."""
    when = when or timezone.now()
    with _lock:
        entry = _pending.get(pk)
        if entry is None:
            _pending[pk] = [1, when]
        else:
            entry[0] += 1
            if when > entry[1]:
                entry[1] = when
    if _state["thread"] is None or not _state["atexit"]:
        _start()


def pending() -> int:
    """Return how many rows have unflushed hits."""
    return len(_pending)


def flush() -> int:
    """Write every pending hit (one UPDATE per batch of rows); return the number of rows updated."""
    from cachecore.models import CacheEntry

    with _lock:
        batch = dict(_pending)
        _pending.clear()
    if not batch:
        return 0
    size = max(1, conf.settings.CACHECORE_ACCESS_BATCH_SIZE)
    items = sorted(batch.items())
    updated = 0
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        try:
            updated += CacheEntry.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
                access_count=F("access_count")
                + Case(
                    *[When(pk=pk, then=Value(hits)) for pk, (hits, _) in chunk],
                    default=Value(0),
                    output_field=models.PositiveBigIntegerField(),
                ),
                last_accessed=Case(
                    *[When(pk=pk, then=Value(last)) for pk, (_, last) in chunk],
                    default=F("last_accessed"),
                    output_field=models.DateTimeField(),
                ),
            )
        except DatabaseError as exc:
            # Access counts are statistics: losing one batch beats failing or retrying forever.
            logger.warning("cachecore: could not flush %d access counts: %s", len(chunk), exc)
    _state["flushes"] += 1
    _state["rows"] += updated
    return updated


def info() -> dict:
    """Return pending and flushed counts for stats()."""
    return {"pending": len(_pending), "flushes": _state["flushes"], "rows_flushed": _state["rows"]}


def set_background(enabled: bool) -> None:
    """Enable or disable the background flusher (tests disable it and call flush())."""
    _state["background"] = enabled


def reset() -> None:
    """Drop pending hits and counters and stop background flushing (tests)."""
    with _lock:
        _pending.clear()
    _state.update(flushes=0, rows=0, background=False)


def _start() -> None:
    with _lock:
        if not _state["atexit"]:
            atexit.register(_flush_at_exit)
            _state["atexit"] = True
        if _state["thread"] is not None:
            return
        thread = threading.Thread(target=_run, name="cachecore-access-flush", daemon=True)
        _state["thread"] = thread
    thread.start()


def _run() -> None:
    while True:
        interval = conf.settings.CACHECORE_ACCESS_FLUSH_SECONDS
        _wake.wait(interval if interval > 0 else 60)
        _wake.clear()
        if interval <= 0 or not _state["background"] or not _pending:
            continue
        try:
            flush()
        except Exception:  # noqa: BLE001 - the flusher thread must survive anything
            logger.exception("cachecore: access flush failed")
        finally:
            close_old_connections()


def _after_fork_in_child() -> None:
    # A forked worker (gunicorn --preload) inherits the parent's thread object but not the thread,
    # and the parent's pending hits, which the parent flushes itself: start empty, so the first
    # hit starts this process's own flusher (otherwise hits pile up until exit).
    global _lock, _wake
    _lock, _wake = threading.Lock(), threading.Event()
    _pending.clear()
    _state.update(flushes=0, rows=0, thread=None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:  # noqa: BLE001 - nothing useful to do at exit but log
        logger.exception("cachecore: access flush at exit failed")
