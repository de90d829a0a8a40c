"""The cache fields of seed 003's health contract, next to the richer ones of ``health.cache_report``.

Seed 003's scripts and dashboards read ``cache.total``, ``cache.valid``, ``cache.expired``,
``cache.ttl`` (milliseconds) and one object per cache with ``size``, ``hits`` and ``misses``
(its ``statsCache``, ``awardCache``). Here a "cache" is a cachecore namespace, named the seed's
way: ``trackers.stats`` -> ``trackersStatsCache``. Entry counts are this process's L1 (the
in-memory tier, as in the seed); pure functions of ``stats()`` and the namespace declarations.
"""

import re

_WORD = re.compile(r"[^A-Za-z0-9]+")


def cache_key(namespace: str) -> str:
    """Return the seed-style key of a namespace's object (``trackers.ref.brands`` -> ``trackersRefBrandsCache``)."""
    words = [w for w in _WORD.split(namespace) if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:]) + "Cache"


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def seed_cache_fields(raw: dict, declared: list) -> dict:
    """Return seed 003's cache fields from cachecore ``stats()`` and the declared namespaces."""
    l1 = raw.get("l1", {})
    total = l1.get("entries", 0)
    expired = min(l1.get("expired", 0), total)
    finite = [ns.l1_ttl for ns in declared if ns.l1_ttl]
    fields = {
        "total": total,
        "valid": total - expired,
        "expired": expired,
        # The shortest finite L1 lifetime in ms (the seed had one TTL; null: every cache is event-driven).
        "ttl": _ms(min(finite)) if finite else None,
    }
    counters = raw.get("namespaces", {})
    for ns in declared:
        data = counters.get(ns.name, {})
        fields[cache_key(ns.name)] = {
            "size": data.get("l1_entries", 0),
            "hits": data.get("hits", 0),
            "misses": data.get("misses", 0),
            "ttl": _ms(ns.l1_ttl),
        }
    return fields
