"""Cheap counters of the cache engine and an observer hook for metrics exporters.

Counters only: the report that adds them up with the tiers' state is ``cachecore.report``, so this
module imports nothing of the engine (the breaker and the tiers count into it).

Counters live in one dict per thread, so an increment on the hot path takes no lock and loses
nothing under concurrency; ``stats()`` adds the per-thread dicts up when someone asks.
"""

import logging
import threading
import weakref

logger = logging.getLogger("cachecore")

TIERS = ("l1", "l2", "l3")

_local = threading.local()
# (weak reference to the owning thread, its counters); dead threads are folded into _retired so
# a server that starts a thread per request does not accumulate dicts.
_all_counts: list[tuple] = []
_retired: dict = {}
_registry_lock = threading.Lock()
_observers: list = []
# Bound methods per hook, rebuilt when observers change, so a call site loops over a plain list.
_hooks: dict[str, list] = {
    "on_request": [],
    "on_invalidation": [],
    "on_error": [],
    "on_invalidation_failure": [],
    "on_replica": [],
}


def _counts() -> dict:
    try:
        return _local.counts
    except AttributeError:
        counts = _local.counts = {}
        with _registry_lock:
            _all_counts.append((weakref.ref(threading.current_thread()), counts))
            if len(_all_counts) > 64:
                _fold_dead_threads()
        return counts


def _fold_dead_threads() -> None:
    # Called with _registry_lock held. A dead thread no longer writes to its dict.
    alive = []
    for ref, counts in _all_counts:
        thread = ref()
        if thread is not None and thread.is_alive():
            alive.append((ref, counts))
            continue
        for key, value in counts.items():
            _retired[key] = _retired.get(key, 0) + value
    _all_counts[:] = alive


def _incr(key) -> None:
    counts = _counts()
    counts[key] = counts.get(key, 0) + 1


def _notify(hook: str, *args) -> None:
    for fn in _hooks[hook]:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - an observer must never break a cache lookup
            logger.exception("cachecore stats observer %r failed in %s", fn, hook)


def record_request(namespace: str, tier: str, result: str) -> None:
    """Count one lookup of ``tier`` for ``namespace``; result is "hit", "miss" or "stale"."""
    _incr(("req", namespace, tier, result))
    if _hooks["on_request"]:
        _notify("on_request", namespace, tier, result)


def record_compute(namespace: str) -> None:
    """Count one run of a namespace's compute()."""
    _incr(("compute", namespace))


def record_coalesced(namespace: str) -> None:
    """Count a caller that got another caller's computation (single-flight)."""
    _incr(("coalesced", namespace))


def record_error(tier: str) -> None:
    """Count one error of a tier ("l1", "l2", "l3")."""
    _incr(("error", tier))
    if _hooks["on_error"]:
        _notify("on_error", tier)


def record_invalidation(namespace: str, source: str) -> None:
    """Count one invalidation of ``namespace`` triggered by ``source`` (signal, api, notify, ...)."""
    _incr(("inv", namespace, source))
    if _hooks["on_invalidation"]:
        _notify("on_invalidation", namespace, source)


def record_invalidation_failure(namespace: str) -> None:
    """Count an invalidation of ``namespace`` that could not be completed."""
    _incr(("invfail", namespace))
    if _hooks["on_invalidation_failure"]:
        _notify("on_invalidation_failure", namespace)


def record_replica(namespace: str, outcome: str) -> None:
    """Count where a computation of ``namespace`` ran: "replica", or the reason it ran on the primary.

    Reasons: "lag" (no replica had replayed the last invalidation in time), "unavailable" (no
    replica answered), "error" (the replica failed during the computation), "unknown" (the last
    invalidation's position could not be read), "transaction" (inside a transaction of the primary).
    """
    _incr(("replica", namespace, outcome))
    if _hooks["on_replica"]:
        _notify("on_replica", namespace, outcome)


def add_observer(observer) -> None:
    """Register an object implementing any of on_request/on_invalidation/on_error/on_invalidation_failure/on_replica."""
    with _registry_lock:
        if observer not in _observers:
            _observers.append(observer)
        _rebuild_hooks()


def remove_observer(observer) -> None:
    """Unregister an observer added with add_observer()."""
    with _registry_lock:
        if observer in _observers:
            _observers.remove(observer)
        _rebuild_hooks()


def observers() -> tuple:
    """Return the registered observers."""
    return tuple(_observers)


def _rebuild_hooks() -> None:
    for hook in _hooks:
        _hooks[hook] = [getattr(o, hook) for o in _observers if callable(getattr(o, hook, None))]


def totals() -> dict:
    """Return the raw counters summed over all threads (keys are tuples)."""
    with _registry_lock:
        _fold_dead_threads()
        snapshots = [_retired.copy()] + [c.copy() for _, c in _all_counts]
    total: dict = {}
    for snap in snapshots:
        for key, value in snap.items():
            total[key] = total.get(key, 0) + value
    return total


def encode_totals(raw: dict) -> list:
    """Return raw counters as JSON-serialisable ``[[key parts...], value]`` pairs (for a shared store)."""
    return [[list(key), value] for key, value in raw.items()]


def decode_totals(pairs: list) -> dict:
    """Return the raw counters written by ``encode_totals``."""
    return {tuple(key): int(value) for key, value in pairs}


def merge_totals(*raws: dict) -> dict:
    """Return the sum of several processes' raw counters."""
    merged: dict = {}
    for raw in raws:
        for key, value in raw.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def reset() -> None:
    """Zero every counter (tests)."""
    with _registry_lock:
        _retired.clear()
        for _, counts in _all_counts:
            counts.clear()
