"""The monitoring page's time series: pure functions over per-bucket samples of every process.

A sample holds what one process counted during one bucket: cache counter deltas (cachecore's raw
keys) and a sketch of its SQL timings. ``series()`` sums the buckets of all processes and returns
hit rates per tier and per namespace, query P50/P95/P99 and invalidations per second, one point
per bucket (None where nothing was counted, so a chart shows a gap, not a false zero), and the
age of the relay's oldest pending invalidation (the largest any process saw in the bucket).
"""

from monitoring.sketch import QuantileSketch

TIERS = ("l1", "l2", "l3")
TOP_NAMESPACES = 6


def counter_delta(current: dict, previous: dict) -> dict:
    """Return ``current - previous`` for raw counters (keys absent before count from zero).

    A counter below its previous value was reset (``cachecore`` tests, an operator): it counts
    from zero again.
    """
    delta = {}
    for key, value in current.items():
        before = previous.get(key, 0)
        change = value - before if value >= before else value
        if change > 0:
            delta[key] = change
    return delta


def sketch_delta(current: QuantileSketch, previous: QuantileSketch | None) -> QuantileSketch:
    """Return a sketch of the samples added to ``current`` since ``previous`` (min/max: current's)."""
    delta = QuantileSketch()
    if previous is None or current.count < previous.count:  # none yet, or the tracker was reset
        delta.merge(current)
        return delta
    for i, n in enumerate(current.counts):
        change = n - previous.counts[i]
        if change > 0:
            delta.counts[i] = change
    delta.zero_count = max(current.zero_count - previous.zero_count, 0)
    delta.count = sum(delta.counts) + delta.zero_count
    if delta.count:
        delta.min, delta.max = current.min, current.max
    return delta


def _rate(hits: int, misses: int) -> float | None:
    return round(100.0 * hits / (hits + misses), 1) if hits + misses else None


def series(samples: list[tuple], *, start: int, end: int, resolution: int) -> dict:
    """Return the chart data of ``samples``: (bucket, raw counter delta, sql sketch dict[, outbox age])."""
    buckets = list(range(start, end + 1, resolution))
    index = {bucket: i for i, bucket in enumerate(buckets)}
    size = len(buckets)
    tier_counts = {tier: [[0, 0] for _ in buckets] for tier in TIERS}
    ns_counts: dict[str, list[list[int]]] = {}
    invalidations = [0] * size
    sketches = [QuantileSketch() for _ in buckets]
    outbox_age: list[float | None] = [None] * size
    for bucket, raw, sql, *rest in samples:
        i = index.get(bucket)
        if i is None:
            continue
        age = rest[0] if rest else None
        if age is not None:
            outbox_age[i] = max(age, outbox_age[i] or 0.0)
        for key, value in raw.items():
            if key[0] == "req":
                _, namespace, tier, result = key
                slot = 0 if result in ("hit", "stale") else 1
                if tier in TIERS:
                    tier_counts[tier][i][slot] += value
                if tier == "miss" or result in ("hit", "stale"):  # the request as a whole
                    ns_counts.setdefault(namespace, [[0, 0] for _ in buckets])[i][slot] += value
            elif key[0] == "inv":
                invalidations[i] += value
        if sql:
            sketches[i].merge(QuantileSketch.from_dict(sql))
    busiest = sorted(ns_counts, key=lambda name: -sum(h + m for h, m in ns_counts[name]))[:TOP_NAMESPACES]
    quantiles = [sketch.quantiles(0.5, 0.95, 0.99) for sketch in sketches]
    return {
        "resolution": resolution,
        "start": start,
        "end": end,
        "times": buckets,
        "hitRateByTier": {tier: [_rate(h, m) for h, m in tier_counts[tier]] for tier in TIERS},
        "hitRateByNamespace": {name: [_rate(h, m) for h, m in ns_counts[name]] for name in sorted(busiest)},
        "queryMs": {
            label: [None if q[n] is None else round(q[n], 3) for q in quantiles]
            for n, label in enumerate(("p50", "p95", "p99"))
        },
        "queries": [sketch.count for sketch in sketches],
        "invalidationsPerSecond": [round(n / resolution, 3) for n in invalidations],
        "outboxAgeSeconds": outbox_age,
    }
