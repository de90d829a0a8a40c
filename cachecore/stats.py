"""Cheap counters of the cache engine and an observer hook for metrics exporters.

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
_hooks: dict[str, list] = {"on_request": [], "on_invalidation": [], "on_error": [], "on_invalidation_failure": []}


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


def add_observer(observer) -> None:
    """Register an object implementing any of on_request/on_invalidation/on_error/on_invalidation_failure."""
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


def reset() -> None:
    """Zero every counter (tests)."""
    with _registry_lock:
        _retired.clear()
        for _, counts in _all_counts:
            counts.clear()


def _rate(hits: int, misses: int) -> float | None:
    total = hits + misses
    return round(100.0 * hits / total, 2) if total else None


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


# A provider of the deployment's counters (every process's, from a shared store), registered by an
# app that keeps such a store (the monitoring app); it returns (raw totals, {"processes", "since"}).
_deployment_source = None


def set_deployment_source(source) -> None:
    """Register the callable that returns the deployment's merged raw counters and their origin."""
    global _deployment_source
    _deployment_source = source


def deployment_stats() -> dict:
    """Return ``stats()`` over every process of the deployment (this process only without a source)."""
    if _deployment_source is None:
        return {**stats(), "deployment": {"processes": 1, "since": None, "source": "this process"}}
    raw, origin = _deployment_source()
    return {**stats(raw), "deployment": origin}


def stats(raw: dict | None = None) -> dict:
    """Return the engine's counters and state as a JSON-serialisable dict (shape in docs/cachecore.md).

    ``raw`` replaces this process's counters (e.g. the deployment's, merged); the L1, breaker and
    access figures are always this process's.
    """
    from cachecore import access, conf, tiers

    raw = totals() if raw is None else raw
    namespaces: dict[str, dict] = {}
    tier_totals = {t: {"hits": 0, "misses": 0, "stale": 0} for t in TIERS}
    requests = {"hits": 0, "misses": 0}

    def ns_entry(name):
        return namespaces.setdefault(
            name,
            {
                "tiers": {t: {"hits": 0, "misses": 0} for t in TIERS},
                "hits": 0,
                "misses": 0,
                "stale": 0,
                "computes": 0,
                "coalesced": 0,
                "disabled": 0,
                "invalidations": 0,
                "invalidation_failures": 0,
                "l1_entries": 0,
            },
        )

    for key, value in raw.items():
        kind = key[0]
        if kind == "req":
            _, name, tier, result = key
            entry = ns_entry(name)
            if tier == "disabled":  # CACHE_ENABLED off: computed without looking at any tier
                entry["disabled"] += value
            elif tier == "miss":  # the request as a whole missed every tier
                entry["misses"] += value
                requests["misses"] += value
            elif tier in TIERS:
                bucket = "hits" if result == "hit" else "misses" if result == "miss" else "stale"
                if bucket == "stale":
                    entry["stale"] += value
                    tier_totals[tier]["stale"] += value
                else:
                    entry["tiers"][tier][bucket] += value
                    tier_totals[tier][bucket] += value
                if result in ("hit", "stale"):
                    entry["hits"] += value
                    requests["hits"] += value
        elif kind == "compute":
            ns_entry(key[1])["computes"] += value
        elif kind == "coalesced":
            ns_entry(key[1])["coalesced"] += value
        elif kind == "inv":
            ns_entry(key[1])["invalidations"] += value
        elif kind == "invfail":
            ns_entry(key[1])["invalidation_failures"] += value

    for name, count in tiers.l1.entries_by_namespace().items():
        ns_entry(name)["l1_entries"] = count
    for entry in namespaces.values():
        entry["hit_rate"] = _rate(entry["hits"], entry["misses"])
        for t in entry["tiers"].values():
            t["hit_rate"] = _rate(t["hits"], t["misses"])

    inv_by_source: dict[str, int] = {}
    for key, value in raw.items():
        if key[0] == "inv":
            inv_by_source[key[2]] = inv_by_source.get(key[2], 0) + value
    errors = {t: raw.get(("error", t), 0) for t in TIERS}
    return {
        "enabled": bool(conf.settings.CACHE_ENABLED),
        "hits": requests["hits"],
        "misses": requests["misses"],
        "hit_rate": _rate(requests["hits"], requests["misses"]),
        "computes": sum(v for k, v in raw.items() if k[0] == "compute"),
        "coalesced": sum(v for k, v in raw.items() if k[0] == "coalesced"),
        "tiers": {
            t: {
                **tier_totals[t],
                "errors": errors[t],
                "hit_rate": _rate(tier_totals[t]["hits"], tier_totals[t]["misses"]),
            }
            for t in TIERS
        },
        "errors": errors,
        "invalidations": {
            "total": sum(inv_by_source.values()),
            "by_source": inv_by_source,
            "failures": sum(v for k, v in raw.items() if k[0] == "invfail"),
        },
        "l1": tiers.l1.info(),
        "breakers": {name: b.info() for name, b in tiers.breakers().items()},
        "access": access.info(),
        "namespaces": dict(sorted(namespaces.items())),
    }
