"""The comprehensive user data service: its content, its query count and its cache tiers."""

from collections import Counter
from datetime import timedelta

import pytest
from django.test import override_settings

from cachecore.api import invalidate_now
from cachecore.models import CacheEntry
from contentplanning.caching import user_scope
from contentplanning.conf import NAMESPACE
from contentplanning.models import ContentStrategy
from contentplanning.providers import AnalysisUnavailable
from contentplanning.services import build_comprehensive_user_data, comprehensive_user_data
from contentplanning.tests.analysis_service import ANSWER
from contentplanning.tests.factories import make_content_user
from contentplanning.tests.tiers import drop_l1, drop_l1_and_l2_value, flush_l1_and_l2, pass_time
from tests.helpers import QueryCounter

pytestmark = pytest.mark.django_db


class TestContent:
    def test_assembles_every_part(self, alice, provider):
        data, _ = comprehensive_user_data(user=alice)
        assert set(data) >= {"onboarding", "ai_analysis", "gap_analysis", "strategy_data", "performance_data"}
        assert data["user"] == {"id": alice.pk, "username": "alice"}
        assert data["onboarding"]["completed"] is True
        assert data["onboarding"]["industry"] == "logistics"
        assert data["ai_analysis"]["status"] == "available"
        assert "case studies" in data["ai_analysis"]["recommended_pillars"]

    def test_strategy_data_holds_the_active_strategy_and_its_calendar(self, alice, provider):
        strategy = alice.content_strategies.get()
        data, _ = comprehensive_user_data(user=alice)
        sd = data["strategy_data"]
        assert sd["strategy"]["id"] == strategy.pk
        assert sd["pillars"] == strategy.pillars
        assert [e["id"] for e in sd["calendar"]["entries"]] == list(
            strategy.calendar_entries.order_by("date", "id").values_list("id", flat=True)
        )
        assert sd["calendar"]["by_channel"] == {"blog": 1, "linkedin": 1, "newsletter": 1}
        assert sd["calendar"]["by_status"] == {"planned": 2, "published": 1}

    def test_performance_is_aggregated_per_channel_and_period(self, alice, provider):
        data, _ = comprehensive_user_data(user=alice)
        perf = data["performance_data"]
        # Rows 0 and 2 are blog, 1 and 3 linkedin (see the factory).
        blog = next(row for row in perf["by_channel"] if row["channel"] == "blog")
        assert (blog["rows"], blog["impressions"], blog["clicks"]) == (2, 2002, 202)
        assert perf["totals"]["impressions"] == sum(1000 + n for n in range(4))
        assert sum(row["rows"] for row in perf["by_period"]) == 4
        assert [row["period_start"] for row in perf["by_period"]] == ["2025-12-01", "2026-01-01"]

    def test_gap_analysis_compares_targets_with_the_calendar(self, alice, provider):
        gap = comprehensive_user_data(user=alice)[0]["gap_analysis"]
        # Titles mention "Cold chain" and "pallet tracker" only.
        assert gap["pillars"] == {"covered": ["cold chain"], "missing": ["sustainability", "case studies"]}
        assert gap["keywords"] == {"covered": ["pallet tracker"], "missing": ["shipment tracking"]}
        assert gap["channels"]["planned_without_performance"] == ["newsletter"]
        assert gap["competitors"] == ["rival.example.com"]
        assert gap["coverage"] == 0.4

    def test_an_explicit_strategy_selects_its_calendar_and_performance(self, db, provider):
        carol = make_content_user("carol", strategies=2, entries=2, performance=3)
        older = ContentStrategy.objects.filter(user=carol).order_by("updated_at", "id").first()
        data, _ = comprehensive_user_data(user=carol, strategy=older)
        assert data["strategy_data"]["strategy"]["id"] == older.pk
        assert {e["id"] for e in data["strategy_data"]["calendar"]["entries"]} == set(
            older.calendar_entries.values_list("id", flat=True)
        )
        assert data["performance_data"]["strategy_id"] == older.pk
        assert data["performance_data"]["totals"]["impressions"] == 3003  # this strategy's 3 rows only
        assert len(data["strategy_data"]["strategies"]) == 2

    def test_a_user_without_any_data_gets_empty_parts(self, db, provider):
        dora = make_content_user("dora", strategies=0, onboarding=False)
        data, _ = comprehensive_user_data(user=dora)
        assert data["onboarding"]["completed"] is False
        assert data["strategy_data"]["strategy"] is None
        assert data["strategy_data"]["calendar"]["count"] == 0
        assert data["performance_data"]["totals"]["impressions"] == 0
        assert data["gap_analysis"]["coverage"] == 0.0

    def test_another_users_strategy_is_refused(self, alice, bob, provider):
        with pytest.raises(ValueError, match="does not belong"):
            comprehensive_user_data(user=alice, strategy=bob.content_strategies.get())

    def test_options_are_whitelisted_and_validated(self, alice, provider):
        with pytest.raises(TypeError, match="unknown comprehensive_user_data options: colour"):
            comprehensive_user_data(user=alice, colour="blue")
        with pytest.raises(ValueError, match="period must be one of month, week"):
            comprehensive_user_data(user=alice, period="year")
        weekly, info = comprehensive_user_data(user=alice, period="week")
        assert weekly["performance_data"]["period"] == "week"
        assert len(weekly["performance_data"]["by_period"]) == 4  # four rows a week apart
        assert info.tier == "miss"


class TestQueryCount:
    def test_constant_in_calendar_entries_and_performance_rows(self, db, provider):
        small = make_content_user("small", entries=2, performance=2)
        large = make_content_user("large", entries=60, performance=80)
        with QueryCounter() as q_small:
            build_comprehensive_user_data(user=small)
        with QueryCounter() as q_large:
            build_comprehensive_user_data(user=large)
        # onboarding, strategies, calendar entries, performance per channel, performance per period
        assert len(q_small) == len(q_large) == 5, q_large.sql
        assert len(build_comprehensive_user_data(user=large)["strategy_data"]["calendar"]["entries"]) == 60


class TestCaching:
    def test_first_call_computes_once_then_l1_hits(self, alice, provider):
        data, info = comprehensive_user_data(user=alice)
        assert (info.tier, info.is_cached) == ("miss", False)
        assert provider.calls == 1
        with QueryCounter() as q:
            again, info = comprehensive_user_data(user=alice)
        assert (info.tier, info.is_cached) == ("l1", True)
        assert again == data
        assert provider.calls == 1
        assert len(q) == 0, q.sql

    def test_l2_answers_after_l1_is_dropped(self, alice, provider):
        data, _ = comprehensive_user_data(user=alice)
        drop_l1()
        again, info = comprehensive_user_data(user=alice)
        assert (info.tier, info.is_cached) == ("l2", True)
        assert again == data
        assert comprehensive_user_data(user=alice)[1].tier == "l1"  # written back to L1
        assert provider.calls == 1

    def test_l3_answers_from_the_cache_table_after_l1_and_l2_are_dropped(self, alice, provider):
        data, _ = comprehensive_user_data(user=alice)
        row = CacheEntry.objects.get(namespace=NAMESPACE)
        assert (row.user_id, row.strategy_id, row.scope) == (alice.pk, None, f"user:{alice.pk}")
        assert row.expires_at - row.created_at == timedelta(hours=1)
        drop_l1_and_l2_value(alice.pk)
        again, info = comprehensive_user_data(user=alice)
        assert (info.tier, info.is_cached) == ("l3", True)
        assert again == data
        assert comprehensive_user_data(user=alice)[1].tier == "l1"  # written back up
        assert provider.calls == 1

    def test_a_full_redis_flush_keeps_the_l3_row_valid(self, alice, provider):
        # The row is checked against the durable generation in the database (docs/cachecore.md),
        # so losing every L2 value and generation still leaves an L3 hit.
        data, _ = comprehensive_user_data(user=alice)
        flush_l1_and_l2()
        again, info = comprehensive_user_data(user=alice)
        assert (info.tier, info.is_cached) == ("l3", True)
        assert again == data
        assert comprehensive_user_data(user=alice)[1].tier == "l1"  # written back up
        assert provider.calls == 1
        assert CacheEntry.objects.filter(namespace=NAMESPACE).count() == 1

    def test_an_invalidation_before_a_full_redis_flush_still_retires_the_l3_row(self, alice, provider):
        comprehensive_user_data(user=alice)
        invalidate_now(NAMESPACE, user_scope(alice.pk))
        flush_l1_and_l2()
        _, info = comprehensive_user_data(user=alice)
        assert info.tier == "miss"
        assert provider.calls == 2

    def test_entries_expire_after_their_ttl(self, alice, provider):
        comprehensive_user_data(user=alice)
        pass_time(5 * 60 + 1)
        assert comprehensive_user_data(user=alice)[1].tier == "l2"  # L1 lives 5 minutes
        pass_time(60 * 60 + 1, alice.pk)
        assert comprehensive_user_data(user=alice)[1].tier == "miss"  # L2 and L3 live an hour
        assert provider.calls == 2

    def test_force_refresh_recomputes_and_replaces(self, alice, provider):
        first, _ = comprehensive_user_data(user=alice)
        refreshed, info = comprehensive_user_data(user=alice, force_refresh=True)
        assert (info.tier, info.is_cached, info.force_refresh) == ("miss", False, True)
        assert provider.calls == 2
        assert refreshed["generated_at"] >= first["generated_at"]
        after, info = comprehensive_user_data(user=alice)
        assert info.tier == "l1"
        assert after["generated_at"] == refreshed["generated_at"]
        assert CacheEntry.objects.filter(namespace=NAMESPACE).count() == 1

    def test_keys_differ_per_user_strategy_and_option(self, alice, bob, provider):
        strategy = alice.content_strategies.get()
        comprehensive_user_data(user=alice)
        assert comprehensive_user_data(user=bob)[1].tier == "miss"
        assert comprehensive_user_data(user=alice, strategy=strategy)[1].tier == "miss"
        assert comprehensive_user_data(user=alice, period="week")[1].tier == "miss"
        assert comprehensive_user_data(user=alice, period="month")[1].tier == "l1"  # the default, spelt out
        rows = CacheEntry.objects.filter(namespace=NAMESPACE)
        assert Counter(rows.values_list("user_id", "strategy_id")) == Counter(
            [(alice.pk, None), (bob.pk, None), (alice.pk, strategy.pk), (alice.pk, None)]
        )


class TestDegradedAnalysis:
    @pytest.mark.parametrize(
        "failure",
        [AnalysisUnavailable("analysis service timed out after 10 s"), RuntimeError("provider bug")],
        ids=["unavailable", "provider-bug"],
    )
    def test_a_provider_failure_degrades_and_is_cached_briefly(self, alice, provider, failure):
        provider.failure = failure
        data, info = comprehensive_user_data(user=alice)
        assert info.tier == "miss"
        assert data["ai_analysis"]["status"] == "unavailable"
        assert data["ai_analysis"]["provider"] == "local"
        assert str(failure) in data["ai_analysis"]["reason"]
        # Everything else is still there.
        assert data["strategy_data"]["calendar"]["count"] == 3
        row = CacheEntry.objects.get(namespace=NAMESPACE)
        assert row.expires_at - row.created_at <= timedelta(seconds=60)
        # Within the short TTL the degraded result is served without asking the provider again.
        assert comprehensive_user_data(user=alice)[1].tier == "l1"
        assert provider.calls == 1

    def test_recovery_gives_full_data_once_the_short_ttl_has_passed(self, alice, provider):
        provider.failure = AnalysisUnavailable("down")
        comprehensive_user_data(user=alice)
        provider.failure = None
        pass_time(59, alice.pk)
        assert comprehensive_user_data(user=alice)[0]["ai_analysis"]["status"] == "unavailable"
        pass_time(61, alice.pk)
        data, info = comprehensive_user_data(user=alice)
        assert info.tier == "miss"
        assert data["ai_analysis"]["status"] == "available"
        assert provider.calls == 2
        pass_time(0)
        row = CacheEntry.objects.get(namespace=NAMESPACE)
        assert row.expires_at - row.created_at == timedelta(hours=1)  # a full result gets the full TTL

    def test_force_refresh_retries_the_provider_at_once(self, alice, provider):
        provider.failure = AnalysisUnavailable("down")
        comprehensive_user_data(user=alice)
        provider.failure = None
        data, _ = comprehensive_user_data(user=alice, force_refresh=True)
        assert data["ai_analysis"]["status"] == "available"
        assert comprehensive_user_data(user=alice)[0]["ai_analysis"]["status"] == "available"


class TestHttpProviderEndToEnd:
    """The HTTP provider against a real local service: timeout -> degraded, short cache, recovery."""

    def test_timeout_degrades_then_recovers(self, alice, analysis_service):
        analysis_service.mode = "slow"
        with override_settings(AI_ANALYSIS_URL=analysis_service.url + "analyse", AI_ANALYSIS_TIMEOUT=0.2):
            data, _ = comprehensive_user_data(user=alice)
            assert data["ai_analysis"] == {
                "status": "unavailable",
                "provider": "http",
                "reason": "analysis service timed out after 0.2 s",
            }
            analysis_service.release.set()
            analysis_service.mode = "ok"
            assert comprehensive_user_data(user=alice)[0]["ai_analysis"]["status"] == "unavailable"  # cached
            pass_time(61, alice.pk)
            data, info = comprehensive_user_data(user=alice)
        assert info.tier == "miss"
        assert data["ai_analysis"] == {**ANSWER, "status": "available", "provider": "http"}
        assert analysis_service.requests[-1]["industry"] == "logistics"

    def test_service_errors_degrade(self, alice, analysis_service):
        analysis_service.mode = "error"
        with override_settings(AI_ANALYSIS_URL=analysis_service.url + "analyse"):
            data, _ = comprehensive_user_data(user=alice)
        assert data["ai_analysis"]["reason"] == "analysis service answered HTTP 503"
        assert data["strategy_data"]["calendar"]["count"] == 3
