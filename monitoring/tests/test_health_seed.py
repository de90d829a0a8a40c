"""Seed 003's cache fields in /api/health: total, valid, expired, ttl and one object per cache."""

import pytest

from cachecore import tiers
from cachecore.api import Namespace, all_namespaces, get_or_compute
from cachecore.namespaces import unregister_namespace
from cachecore.tests.engine_helpers import FakeClock
from monitoring.health_seed import cache_key, seed_cache_fields
from monitoring.tests.helpers import STAFF_TOKEN

URL = "/api/health"
SEED_KEYS = {"total", "valid", "expired", "ttl", "hitRate"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.MONITORING_TOKEN = STAFF_TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {STAFF_TOKEN}"}


@pytest.fixture
def seed_ns():
    from cachecore.api import register_namespace

    ns = register_namespace(Namespace("test.seed_stats", params=("user_id",), l1_ttl=300, l2_ttl=300))
    yield ns
    unregister_namespace(ns.name)


class TestCacheKey:
    @pytest.mark.parametrize(
        ("namespace", "key"),
        [
            ("trackers.stats", "trackersStatsCache"),
            ("trackers.ref.production_runs", "trackersRefProductionRunsCache"),
            ("contentplanning.user_data", "contentplanningUserDataCache"),
        ],
    )
    def test_named_the_seeds_way(self, namespace, key):
        assert cache_key(namespace) == key


class TestEndpoint:
    def test_the_detailed_view_has_the_seed_fields_and_todays(self, client, token, seed_ns):
        cache = client.get(URL, **token).json()["cache"]
        assert set(cache) >= SEED_KEYS
        assert {"namespaces", "tiers", "l1", "breakers", "invalidations"} <= set(cache)  # today's, kept
        for ns in all_namespaces():
            assert set(cache[cache_key(ns.name)]) == {"size", "hits", "misses", "ttl"}
        assert cache["trackersStatsCache"]["ttl"] == 300_000

    def test_sizes_hits_and_misses_follow_the_traffic(self, client, token, seed_ns):
        get_or_compute(seed_ns.name, {"user_id": 1}, lambda: 1)  # miss
        get_or_compute(seed_ns.name, {"user_id": 1}, lambda: 1)  # hit
        get_or_compute(seed_ns.name, {"user_id": 2}, lambda: 2)  # miss
        cache = client.get(URL, **token).json()["cache"]
        assert cache["testSeedStatsCache"] == {"size": 2, "hits": 1, "misses": 2, "ttl": 300_000}
        assert cache["total"] == cache["valid"] + cache["expired"] >= 2

    def test_expired_entries_are_counted_apart(self, client, token, seed_ns):
        tiers.l1.clock = clock = FakeClock()
        get_or_compute(seed_ns.name, {"user_id": 1}, lambda: 1)
        clock.advance(301)
        cache = client.get(URL, **token).json()["cache"]
        assert cache["expired"] >= 1
        assert cache["valid"] == cache["total"] - cache["expired"]

    def test_the_public_view_has_no_cache_section(self, client):
        assert "cache" not in client.get(URL).json()

    def test_a_wrong_token_gets_401(self, client, token):
        assert client.get(URL, HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_ttl_is_null_when_every_namespace_is_event_driven():
    fields = seed_cache_fields({"l1": {"entries": 0}}, [Namespace("a.b")])
    assert fields["ttl"] is None
    assert fields["aBCache"] == {"size": 0, "hits": 0, "misses": 0, "ttl": None}
