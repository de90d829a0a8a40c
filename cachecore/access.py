"""Batched access tracking of CacheEntry rows: hits only touch memory; a flush writes in batches.

Every hit of a persistent namespace, whichever tier served it (L1, L2 or L3), calls
``record(namespace, key_hash)``: the row is addressed by its unique (namespace, key_hash), so an
L1 or L2 hit needs no database read to find it. A daemon thread flushes at most every
``CACHECORE_ACCESS_FLUSH_SECONDS`` (0 disables it), and ``flush()`` runs at process exit and
whenever called (tests, monitoring). Each process adds its own counts (``access_count + n``), so
the table sums the hits of every process.
"""

import atexit
import logging
import os
import threading
import time
from datetime import UTC, datetime

from django.db import DatabaseError, close_old_connections, models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest

from cachecore import conf

logger = logging.getLogger("cachecore")

_pending: dict[tuple[str, str], list] = {}  # (namespace, key_hash) -> [hits, last accessed (epoch s)]
_lock = threading.Lock()
_state = {"flushes": 0, "rows": 0, "background": True, "thread": None, "atexit": False}
_wake = threading.Event()


def record(namespace: str, key_hash: str, when: float | None = None) -> None:
    """Count one hit of the CacheEntry of (namespace, key_hash) at ``when`` (epoch seconds); no I/O."""
    when = time.time() if when is None else when
    key = (namespace, key_hash)
    with _lock:
        entry = _pending.get(key)
        if entry is None:
            _pending[key] = [1, when]
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
    """Write every pending hit (one UPDATE per namespace and batch); return the number of rows updated."""
    with _lock:
        batch = dict(_pending)
        _pending.clear()
    if not batch:
        return 0
    size = max(1, conf.settings.CACHECORE_ACCESS_BATCH_SIZE)
    by_namespace: dict[str, list] = {}
    for (namespace, key_hash), (hits, last) in sorted(batch.items()):
        by_namespace.setdefault(namespace, []).append((key_hash, hits, datetime.fromtimestamp(last, UTC)))
    updated = 0
    for namespace, items in by_namespace.items():
        for start in range(0, len(items), size):
            updated += _write(namespace, items[start : start + size])
    _state["flushes"] += 1
    _state["rows"] += updated
    return updated


def _write(namespace: str, chunk: list[tuple[str, int, datetime]]) -> int:
    from cachecore.models import CacheEntry

    try:
        return CacheEntry.objects.filter(namespace=namespace, key_hash__in=[key for key, _, _ in chunk]).update(
            access_count=F("access_count")
            + Case(
                *[When(key_hash=key, then=Value(hits)) for key, hits, _ in chunk],
                default=Value(0),
                output_field=models.PositiveBigIntegerField(),
            ),
            # Greatest: another process may have flushed a later access already.
            last_accessed=Greatest(
                F("last_accessed"),
                Case(
                    *[When(key_hash=key, then=Value(last)) for key, _, last in chunk],
                    default=F("last_accessed"),
                    output_field=models.DateTimeField(),
                ),
            ),
        )
    except DatabaseError as exc:
        # Access counts are statistics: losing one batch beats failing or retrying forever.
        logger.warning("cachecore: could not flush %d access counts: %s", len(chunk), exc)
        return 0


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
