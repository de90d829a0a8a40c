"""The cachecore observer feeds cache_requests_total, the hit-rate gauge, invalidations and errors."""

import pytest
from prometheus_client import REGISTRY

from cachecore import stats as cachecore_stats
from cachecore.api import Namespace, get_or_compute, register_namespace
from monitoring.cache_observer import MetricsObserver, observer

NS = "h6.monitoring_observer"


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class TestUnit:
    def test_requests_are_counted_by_namespace_tier_and_result(self):
        before = sample("cache_requests_total", namespace="h6.unit", tier="l2", result="stale")
        MetricsObserver().on_request("h6.unit", "l2", "stale")
        assert sample("cache_requests_total", namespace="h6.unit", tier="l2", result="stale") == before + 1

    def test_hit_rate_counts_requests_not_tier_lookups(self):
        obs = MetricsObserver()
        # Request 1: L1 miss, L2 hit -> one hit. Request 2: misses every tier -> one miss.
        for tier, result in [("l1", "miss"), ("l2", "hit"), ("l1", "miss"), ("l2", "miss"), ("l3", "miss")]:
            obs.on_request("h6.rate", tier, result)
        obs.on_request("h6.rate", "miss", "miss")
        assert obs.hit_rate("h6.rate") == 50.0
        assert sample("cache_hit_rate_percent", namespace="h6.rate") == 50.0

    def test_a_disabled_cache_is_neither_hit_nor_miss(self):
        obs = MetricsObserver()
        obs.on_request("h6.off", "disabled", "miss")
        assert obs.hit_rate("h6.off") is None

    def test_invalidations_failures_and_tier_errors(self):
        obs = MetricsObserver()
        inv = sample("cache_invalidations_total", namespace="h6.inv", source="signal")
        fail = sample("cache_invalidation_failures_total", namespace="h6.inv")
        err = sample("cache_tier_errors_total", tier="l2")
        obs.on_invalidation("h6.inv", "signal")
        obs.on_invalidation_failure("h6.inv")
        obs.on_error("l2")
        assert sample("cache_invalidations_total", namespace="h6.inv", source="signal") == inv + 1
        assert sample("cache_invalidation_failures_total", namespace="h6.inv") == fail + 1
        assert sample("cache_tier_errors_total", tier="l2") == err + 1


@pytest.mark.django_db
class TestRegisteredWithCachecore:
    def test_the_app_registered_the_observer(self):
        assert observer in cachecore_stats._observers

    def test_real_lookups_reach_the_metrics(self):
        register_namespace(Namespace(name=NS, params=("x",), l1_ttl=60, l2_ttl=60))
        misses = sample("cache_requests_total", namespace=NS, tier="miss", result="miss")
        hits = sample("cache_requests_total", namespace=NS, tier="l1", result="hit")
        get_or_compute(NS, {"x": 1}, lambda: {"v": 1})
        get_or_compute(NS, {"x": 1}, lambda: {"v": 1})
        assert sample("cache_requests_total", namespace=NS, tier="miss", result="miss") == misses + 1
        assert sample("cache_requests_total", namespace=NS, tier="l1", result="hit") == hits + 1
        assert 0 < sample("cache_hit_rate_percent", namespace=NS) < 100
