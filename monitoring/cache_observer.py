"""Feed cachecore's events into the project's Prometheus metrics.

cachecore calls ``on_request(namespace, tier, result)`` once per tier it looked at
(tier "l1"/"l2"/"l3", result "hit"/"miss"/"stale") and once with tier "miss" when the request
missed every tier and was computed. A request counts as a hit when some tier answered it (hit or
stale) and as a miss when it reached compute, the same rule as ``cachecore.api.stats()``.
"""

import threading

from monitoring.metrics import (
    CACHE_HIT_RATE_PERCENT,
    CACHE_INCONSISTENT_READS_TOTAL,
    CACHE_INVALIDATION_FAILURES_TOTAL,
    CACHE_INVALIDATIONS_TOTAL,
    CACHE_OUTBOX_OLDEST_AGE_SECONDS,
    CACHE_OUTBOX_PENDING,
    CACHE_REPLICA_FALLBACKS_TOTAL,
    CACHE_REPLICA_READS_TOTAL,
    CACHE_REQUESTS_TOTAL,
    CACHE_TIER_ERRORS_TOTAL,
    CACHE_VERIFIED_READS_TOTAL,
    CACHE_VERIFY_DROPPED_TOTAL,
)

HIT_RESULTS = frozenset({"hit", "stale"})
WHOLE_MISS_TIER = "miss"


class MetricsObserver:
    """A cachecore stats observer that updates the cache metrics of this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._outcomes: dict[str, list[int]] = {}  # namespace -> [hits, misses]
        # Labelled children, looked up once per label set: ``.labels()`` costs several
        # microseconds (a lock and a tuple of strings), more than the L1 hit it counts.
        self._request_children: dict[tuple[str, str, str], object] = {}
        self._rate_children: dict[str, object] = {}
        self._published_rate: dict[str, float] = {}

    def on_request(self, namespace: str, tier: str, result: str) -> None:
        """Count a tier lookup; update the namespace's hit rate when it decided the request."""
        key = (namespace, tier, result)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = CACHE_REQUESTS_TOTAL.labels(
                namespace=namespace, tier=tier, result=result
            )
        child.inc()
        if tier == WHOLE_MISS_TIER:
            self._outcome(namespace, hit=False)
        elif result in HIT_RESULTS:
            self._outcome(namespace, hit=True)

    def _outcome(self, namespace: str, *, hit: bool) -> None:
        with self._lock:
            counts = self._outcomes.setdefault(namespace, [0, 0])
            counts[0 if hit else 1] += 1
            rate = round(100.0 * counts[0] / (counts[0] + counts[1]), 2)
            if self._published_rate.get(namespace) == rate:
                return  # a long run of hits leaves the gauge unchanged: skip the write
            self._published_rate[namespace] = rate
            gauge = self._rate_children.get(namespace)
            if gauge is None:
                gauge = self._rate_children[namespace] = CACHE_HIT_RATE_PERCENT.labels(namespace=namespace)
            gauge.set(rate)  # under the lock, so a slower thread never publishes an older rate

    def hit_rate(self, namespace: str) -> float | None:
        """Return this process's hit rate (percent) of ``namespace`` since start, or None."""
        with self._lock:
            hits, misses = self._outcomes.get(namespace, (0, 0))
        return 100.0 * hits / (hits + misses) if hits + misses else None

    def on_invalidation(self, namespace: str, source: str) -> None:
        """Count an invalidation."""
        CACHE_INVALIDATIONS_TOTAL.labels(namespace=namespace, source=source).inc()

    def on_error(self, tier: str) -> None:
        """Count an error of a tier."""
        CACHE_TIER_ERRORS_TOTAL.labels(tier=tier).inc()

    def on_invalidation_failure(self, namespace: str) -> None:
        """Count an invalidation that could not be completed."""
        CACHE_INVALIDATION_FAILURES_TOTAL.labels(namespace=namespace).inc()

    def on_replica(self, namespace: str, outcome: str) -> None:
        """Count a computation on a read replica, or one that fell back to the primary (outcome = reason)."""
        if outcome == "replica":
            CACHE_REPLICA_READS_TOTAL.labels(namespace=namespace).inc()
        else:
            CACHE_REPLICA_FALLBACKS_TOTAL.labels(namespace=namespace, reason=outcome).inc()

    def on_verified(self, namespace: str, inconsistent: bool) -> None:
        """Count a verified hit, or a verified hit judged inconsistent (the sampling verifier)."""
        metric = CACHE_INCONSISTENT_READS_TOTAL if inconsistent else CACHE_VERIFIED_READS_TOTAL
        metric.labels(namespace=namespace).inc()

    def on_verify_dropped(self, namespace: str) -> None:
        """Count a sampled hit the verifier dropped."""
        CACHE_VERIFY_DROPPED_TOTAL.labels(namespace=namespace).inc()


observer = MetricsObserver()


def refresh_outbox_gauges() -> None:
    """Set the outbox gauges from the database (one query), at scrape time.

    Left unchanged when cachecore or the database cannot answer: the scrape must still succeed.
    """
    try:
        from cachecore.api import invalidation_status
    except ImportError:
        return
    found = invalidation_status()
    if found.get("pending") is None:
        return
    CACHE_OUTBOX_PENDING.set(found["pending"])
    CACHE_OUTBOX_OLDEST_AGE_SECONDS.set(found["oldest_age_seconds"])


def register() -> bool:
    """Register ``observer`` with cachecore; return False when cachecore has no stats hook."""
    try:
        from cachecore.api import add_observer
    except ImportError:
        return False
    add_observer(observer)
    return True


KNOWN_TIERS = ("l1", "l2", "l3")


def export_known_labels() -> None:
    """Create every labelled counter an alert reads at zero, so ``increase()`` sees the first failure.

    A counter child appears only when first incremented; Prometheus then sees its first sample at
    1 and ``increase()`` over a window that starts with it is 0: the first failure would never
    alert. Called before every export (``/metrics``, a command's own server); idempotent.
    """
    try:
        from cachecore.api import all_namespaces
    except ImportError:
        return
    for ns in all_namespaces():
        CACHE_INVALIDATION_FAILURES_TOTAL.labels(namespace=ns.name)
    for tier in KNOWN_TIERS:
        CACHE_TIER_ERRORS_TOTAL.labels(tier=tier)
