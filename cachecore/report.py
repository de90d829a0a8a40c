"""The engine's statistics report: the counters of ``cachecore.stats`` with the tiers' state.

Reads the counters and asks L1, the breakers and the access tracker for their state; nothing
here is on the hot path (health pages, ``cache_stats``, the admin).
"""

from cachecore import access, conf, replicas, tiers
from cachecore.stats import TIERS, totals


def _rate(hits: int, misses: int) -> float | None:
    total = hits + misses
    return round(100.0 * hits / total, 2) if total else None


# A provider of the deployment's counters (every process's, from a shared store), registered by an
# app that keeps such a store (the monitoring app); it returns (raw totals, {"processes", "since", "source"}).
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

    ``raw`` replaces this process's counters (e.g. the deployment's, merged); the L1, breaker,
    access and outbox figures are always this process's view.
    """
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
        elif kind == "replica":  # where computations ran (read replicas configured)
            _, name, outcome = key
            where = ns_entry(name).setdefault("replica", {"reads": 0, "fallbacks": {}})
            if outcome == replicas.REPLICA:
                where["reads"] += value
            else:
                where["fallbacks"][outcome] = where["fallbacks"].get(outcome, 0) + value

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
    replica_summary = replicas.summary(raw)
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
        **({"replicas": replica_summary} if replica_summary is not None else {}),
    }
