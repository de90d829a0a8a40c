"""Graceful degradation: L2 unreachable or frozen, the circuit breaker, recovery; L3 missing."""

import logging

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cachecore import conf, generations, report, tiers
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock


def closed_port_caches():
    return {
        "default": settings.CACHES["default"],
        "fault": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }


class TestRedisUnreachable:
    @pytest.fixture(autouse=True)
    def closed_port(self):
        with override_settings(
            CACHES=closed_port_caches(), CACHECORE_CACHE_ALIAS="fault", CACHECORE_BREAKER_THRESHOLD=3
        ):
            yield

    def test_every_call_returns_and_attempts_stay_bounded(self, make_ns, breaker_clock, caplog):
        ns = make_ns(l1_ttl=0, l2_ttl=60)
        compute = Counter()
        with caplog.at_level(logging.WARNING, logger="cachecore"):
            values = [get_or_compute(ns.name, {"user_id": 1}, compute) for _ in range(50)]
        assert [v[0]["n"] for v in values] == list(range(1, 51))
        assert {v[1].tier for v in values} == {"miss"}
        # three failed attempts opened the breaker; the other 47 calls did not touch Redis
        assert report.stats()["errors"]["l2"] == 3
        assert tiers.l2_breaker.state == "open"
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1

    def test_half_open_allows_one_probe_per_cooldown(self, make_ns, breaker_clock):
        ns = make_ns(l1_ttl=0, l2_ttl=60)
        for _ in range(5):
            get_or_compute(ns.name, {}, Counter())
        breaker_clock.advance(5.0)  # the default cooldown
        for _ in range(5):
            get_or_compute(ns.name, {}, Counter())
        assert report.stats()["errors"]["l2"] == 4  # threshold + exactly one failed probe
        assert tiers.l2_breaker.state == "open"

    def test_l1_still_serves_while_l2_is_down(self, make_ns, breaker_clock):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        assert get_or_compute(ns.name, {}, compute)[1].tier == "l1"
        assert compute.calls == 1

    @pytest.mark.django_db
    def test_l1_copies_of_l3_rows_live_one_cooldown_while_l2_is_down(self, make_ns, breaker_clock):
        # Other processes' invalidations cannot reach this L1 during the outage (they retire the
        # row in the database): an L3 answer is kept in L1 only briefly, like a computed value.
        ns = make_ns(l1_ttl=300, l2_ttl=60, l3_ttl=3600, persistent=True)
        tiers.l1.clock = l1_clock = FakeClock()
        compute = Counter()
        get_or_compute(ns.name, {}, compute)  # computed during the outage: the row is written
        tiers.l1_clear()
        assert get_or_compute(ns.name, {}, compute)[1].tier == "l3"
        l1_clock.advance(conf.settings.CACHECORE_BREAKER_COOLDOWN + 1)  # the breaker's clock stays: still open
        assert get_or_compute(ns.name, {}, compute)[1].tier == "l3"
        assert compute.calls == 1


class TestRedisOutageAndRecovery:
    def test_recovery_serves_no_pre_outage_value(self, make_ns, fault_redis, breaker_clock):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        tiers.l1.clock = l1_clock = FakeClock()
        source = {"v": "before"}
        assert get_or_compute(ns.name, {}, lambda: dict(source))[0] == {"v": "before"}
        tiers.l1_clear()
        assert get_or_compute(ns.name, {}, lambda: dict(source))[1].tier == "l2"

        fault_redis.freeze()  # Redis stops answering but keeps the pre-outage value
        source["v"] = "during"
        with pytest.raises(generations.BumpFailed):  # the relay keeps its row and retries
            generations.bump_generation(ns.name)
        for _ in range(4):
            value, info = get_or_compute(ns.name, {}, lambda: dict(source))
            assert value == {"v": "during"}
        assert tiers.l2_breaker.state == "open"

        fault_redis.thaw()
        source["v"] = "after"
        breaker_clock.advance(10)
        l1_clock.advance(10)  # values computed during the outage live in L1 only one cooldown
        value, info = get_or_compute(ns.name, {}, lambda: dict(source))
        assert (value, info.tier) == ({"v": "after"}, "miss")
        assert tiers.l2_breaker.state == "closed"
        tiers.l1_clear()
        assert get_or_compute(ns.name, {}, lambda: dict(source))[0] == {"v": "after"}

    def test_outage_with_no_lost_invalidation_also_retires_l1(self, make_ns, fault_redis, breaker_clock):
        ns = make_ns(l1_ttl=600, l2_ttl=300)
        get_or_compute(ns.name, {}, lambda: "old")
        fault_redis.freeze()
        other = make_ns(l1_ttl=0, l2_ttl=60)
        for _ in range(3):
            get_or_compute(other.name, {}, lambda: "x")
        fault_redis.thaw()
        breaker_clock.advance(10)
        get_or_compute(other.name, {}, lambda: "x")  # the probe succeeds: recovery runs
        assert len(tiers.l1) == 0
        assert get_or_compute(ns.name, {}, lambda: "new")[0] == "new"

    def test_killed_and_restarted_server(self, make_ns, fault_redis, breaker_clock):
        ns = make_ns(l1_ttl=0, l2_ttl=300)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        fault_redis.stop()
        for _ in range(5):
            get_or_compute(ns.name, {}, compute)
        assert compute.calls == 6
        fault_redis.start()
        breaker_clock.advance(10)
        assert get_or_compute(ns.name, {}, compute)[1].tier == "miss"
        assert get_or_compute(ns.name, {}, compute)[1].tier == "l2"
        assert compute.calls == 7


@pytest.mark.django_db(transaction=True)
class TestL3Missing:
    def test_missing_table_is_skipped_and_counted(self, make_ns, monkeypatch):
        monkeypatch.setattr(CacheEntry._meta, "db_table", "cachecore_no_such_table")
        ns = make_ns(l1_ttl=0, l2_ttl=0, persistent=True)
        compute = Counter()
        values = [get_or_compute(ns.name, {}, compute)[0]["n"] for _ in range(5)]
        assert values == [1, 2, 3, 4, 5]
        assert report.stats()["errors"]["l3"] >= 3
        assert tiers.l3_breaker.state == "open"
        assert tiers.l3_delete(ns.name) == 0

    @pytest.mark.django_db(transaction=True)
    def test_a_failed_l3_call_leaves_the_callers_transaction_usable(self, make_ns, monkeypatch):
        # A cached read inside a caller's transaction (the ingest validates reports through cached
        # reference data) whose L3 statement fails must cost only the L3 tier, not the caller's
        # transaction: PostgreSQL aborts a transaction at its first failed statement, and Django
        # refuses further queries after a failed ORM write inside an atomic block.
        ns = make_ns(l1_ttl=0, l2_ttl=0, persistent=True)
        get_or_compute(ns.name, {"user_id": 2}, Counter())
        with transaction.atomic(), CaptureQueriesContext(connection) as hit:
            assert get_or_compute(ns.name, {"user_id": 2}, Counter())[1].tier == "l3"
        # The price inside a transaction: the L3 read in a savepoint of its own.
        assert [q["sql"].split()[0].upper() for q in hit.captured_queries] == ["SAVEPOINT", "SELECT", "RELEASE"]
        with transaction.atomic():
            monkeypatch.setattr(CacheEntry._meta, "db_table", "cachecore_no_such_table")
            assert get_or_compute(ns.name, {}, Counter())[0]["n"] == 1
            monkeypatch.undo()
            CacheGeneration.objects.create(
                namespace="caller", scope="", token="t", updated_at=timezone.now()
            )  # the caller's own write
        assert CacheGeneration.objects.filter(namespace="caller").exists()
