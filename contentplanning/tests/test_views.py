"""The content-planning API: envelopes, authorisation matrix, bad input, cache management."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cachecore import access
from cachecore.models import CacheEntry
from contentplanning.access import NOT_YOUR_DATA
from contentplanning.conf import NAMESPACE
from contentplanning.services import comprehensive_user_data
from contentplanning.tests.factories import make_content_user
from tests.helpers import QueryCounter

pytestmark = pytest.mark.django_db

DATA = reverse("comprehensive-user-data")
STATS = reverse("user-data-cache-stats")
CLEANUP = reverse("user-data-cache-cleanup")


def invalidate_url(user_id) -> str:
    return reverse("user-data-cache-invalidate", args=[user_id])


class TestComprehensiveUserData:
    def test_miss_then_hit_with_the_envelope(self, api, alice, provider):
        api.force_authenticate(alice)
        first = api.get(DATA, {"user_id": alice.pk})
        assert first.status_code == 200
        body = first.json()
        assert body["status"] == "success"
        assert body["message"].endswith("(cache: MISS)")
        assert body["cache_info"]["tier"] == "miss"
        assert body["cache_info"]["is_cached"] is False
        assert body["cache_info"]["force_refresh"] is False
        assert set(body["data"]) >= {"onboarding", "ai_analysis", "gap_analysis", "strategy_data", "performance_data"}
        second = api.get(DATA, {"user_id": alice.pk}).json()
        assert second["message"].endswith("(cache: HIT)")
        assert (second["cache_info"]["tier"], second["cache_info"]["is_cached"]) == ("l1", True)
        assert second["cache_info"]["timestamp"] == body["cache_info"]["timestamp"]  # when it was computed
        assert second["data"] == body["data"]
        assert provider.calls == 1

    def test_user_id_defaults_to_the_caller(self, api, alice, provider):
        api.force_authenticate(alice)
        assert api.get(DATA).json()["data"]["user"]["id"] == alice.pk
        assert api.get(DATA, {"user_id": ""}).json()["cache_info"]["tier"] == "l1"  # same key

    def test_force_refresh_recomputes(self, api, alice, provider):
        api.force_authenticate(alice)
        api.get(DATA)
        body = api.get(DATA, {"force_refresh": "true"}).json()
        assert body["cache_info"] == {**body["cache_info"], "tier": "miss", "is_cached": False, "force_refresh": True}
        assert body["message"].endswith("(cache: MISS)")
        assert provider.calls == 2

    def test_strategy_id_selects_that_strategy(self, api, alice, provider):
        strategy = alice.content_strategies.get()
        api.force_authenticate(alice)
        body = api.get(DATA, {"strategy_id": strategy.pk}).json()
        assert body["data"]["strategy_data"]["strategy"]["id"] == strategy.pk
        assert CacheEntry.objects.get(namespace=NAMESPACE).strategy_id == strategy.pk

    def test_a_hit_reads_no_content_tables(self, api, alice, provider):
        api.force_authenticate(alice)
        api.get(DATA)
        with QueryCounter() as q:
            assert api.get(DATA).json()["cache_info"]["tier"] == "l1"
        assert len(q) == 0, q.sql  # force_authenticate: no session or token lookup either

    def test_degraded_analysis_is_a_success_with_unavailable_ai(self, api, alice, provider):
        from contentplanning.providers import AnalysisUnavailable

        provider.failure = AnalysisUnavailable("analysis service timed out after 10.0 s")
        api.force_authenticate(alice)
        body = api.get(DATA).json()
        assert body["status"] == "success"
        assert body["data"]["ai_analysis"] == {
            "status": "unavailable",
            "provider": "local",
            "reason": "analysis service timed out after 10.0 s",
        }


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "name"),
        [
            ({"user_id": "abc"}, "user_id"),
            ({"user_id": "0"}, "user_id"),
            ({"user_id": "-3"}, "user_id"),
            ({"strategy_id": "x"}, "strategy_id"),
            ({"force_refresh": "maybe"}, "force_refresh"),
            # int() would take these; an id is plain ASCII digits.
            ({"user_id": "1_0"}, "user_id"),
            ({"user_id": "\u0663"}, "user_id"),
            ({"user_id": "+1"}, "user_id"),
            ({"strategy_id": "9" * 5000}, "strategy_id"),
            ({"strategy_id": "1\x00"}, "strategy_id"),
        ],
    )
    def test_malformed_parameters_are_400_naming_the_parameter(self, api, alice, params, name):
        api.force_authenticate(alice)
        response = api.get(DATA, params)
        assert response.status_code == 400
        assert response.json()["detail"].startswith(f"{name}: must be")

    def test_unknown_user_is_404_for_staff(self, api, staff):
        api.force_authenticate(staff)
        response = api.get(DATA, {"user_id": 999999})
        assert response.status_code == 404
        assert response.json() == {"detail": "user_id: no user with id 999999."}

    def test_another_users_strategy_is_404(self, api, alice, bob):
        api.force_authenticate(alice)
        foreign = bob.content_strategies.get().pk
        response = api.get(DATA, {"strategy_id": foreign})
        assert response.status_code == 404
        assert response.json() == {"detail": f"strategy_id: user {alice.pk} has no strategy with id {foreign}."}

    @pytest.mark.parametrize(
        ("url", "params", "name"),
        [
            ("calendar-draft", {"weeks": "0"}, "weeks"),
            ("calendar-draft", {"weeks": "many"}, "weeks"),
            ("calendar-draft", {"start": "next monday"}, "start"),
            ("calendar-draft", {"weeks": "2" + "0" * 30}, "weeks"),
            ("calendar-draft", {"weeks": "\u0662"}, "weeks"),
            # The last planned week would fall after date.max: a 400, not an OverflowError.
            ("calendar-draft", {"start": "9999-12-31"}, "start"),
            ("calendar-draft", {"start": "9999-12-20", "weeks": "3"}, "start"),
        ],
    )
    def test_workflow_parameters(self, api, alice, url, params, name):
        api.force_authenticate(alice)
        response = api.get(reverse(url), params)
        assert response.status_code == 400
        assert response.json()["detail"].startswith(f"{name}: must be")

    def test_the_last_week_that_fits_the_calendar_is_planned(self, api, alice, provider):
        api.force_authenticate(alice)
        response = api.get(reverse("calendar-draft"), {"start": "9999-12-17", "weeks": "3"})
        assert response.status_code == 200
        assert max(slot["date"] for slot in response.json()["data"]["slots"]) <= "9999-12-31"

    def test_unknown_wizard_step(self, api, alice):
        api.force_authenticate(alice)
        response = api.get(reverse("calendar-wizard-step", args=["launch"]))
        assert response.status_code == 400
        assert response.json()["detail"] == "step: must be one of goals, pillars, channels, schedule, review."

    def test_invalidate_with_bad_ids(self, api, staff):
        api.force_authenticate(staff)
        response = api.delete(invalidate_url("abc"))
        assert (response.status_code, response.json()["detail"]) == (400, "user_id: must be a positive integer.")
        response = api.delete(invalidate_url(staff.pk) + "?strategy_id=x")
        assert (response.status_code, response.json()["detail"]) == (400, "strategy_id: must be a positive integer.")
        response = api.delete(invalidate_url(999999))
        assert (response.status_code, response.json()["detail"]) == (404, "user_id: no user with id 999999.")


def _data_endpoints(owner):
    return [
        ("get", DATA, {"user_id": owner.pk}),
        ("get", reverse("strategy-draft"), {"user_id": owner.pk}),
        ("get", reverse("calendar-draft"), {"user_id": owner.pk, "start": "2026-01-05"}),
        ("get", reverse("calendar-wizard-step", args=["goals"]), {"user_id": owner.pk}),
        ("get", reverse("content-framework"), {"user_id": owner.pk}),
    ]


def _management_endpoints(owner):
    return [
        ("get", STATS, {}),
        ("delete", invalidate_url(owner.pk), {}),
        ("post", CLEANUP, {}),
    ]


class TestUnknownParameters:
    """Like the trackers endpoints: a parameter an endpoint does not take is a 400 naming it."""

    @pytest.mark.parametrize(
        ("url", "params", "name"),
        [
            ("comprehensive-user-data", {"bogus": "1"}, "bogus"),
            ("comprehensive-user-data", {"force_refesh": "true"}, "force_refesh"),  # misspelt option
            ("comprehensive-user-data", {"userid": "1"}, "userid"),
            ("strategy-draft", {"weeks": "2"}, "weeks"),  # an option of another endpoint
            ("calendar-draft", {"week": "2"}, "week"),
            ("content-framework", {"force_refresh": "true"}, "force_refresh"),
        ],
    )
    def test_data_endpoints(self, api, alice, provider, url, params, name):
        api.force_authenticate(alice)
        response = api.get(reverse(url), params)
        assert response.status_code == 400, response.content
        assert response.json()["detail"].startswith(f"{name}: unknown parameter; allowed: ")

    def test_the_wizard_step(self, api, alice, provider):
        api.force_authenticate(alice)
        response = api.get(reverse("calendar-wizard-step", args=["goals"]), {"bogus": "1"})
        assert response.status_code == 400
        assert response.json()["detail"] == "bogus: unknown parameter; allowed: strategy_id, user_id."

    def test_not_answered_from_the_cache(self, api, alice, provider):
        api.force_authenticate(alice)
        assert api.get(DATA).status_code == 200  # cached now
        assert api.get(DATA, {"bogus": "1"}).status_code == 400

    def test_format_and_known_parameters_are_accepted(self, api, alice, provider):
        api.force_authenticate(alice)
        assert api.get(DATA, {"format": "json", "force_refresh": "false"}).status_code == 200

    def test_management_endpoints(self, api, alice, staff):
        api.force_authenticate(staff)
        assert api.get(STATS, {"limit": "5"}).json()["detail"] == "limit: unknown parameter; allowed: none."
        assert api.post(CLEANUP + "?dry_run=1").json()["detail"].startswith("dry_run: unknown parameter")
        response = api.delete(invalidate_url(alice.pk) + "?strategy=1")
        assert response.status_code == 400
        assert response.json()["detail"] == "strategy: unknown parameter; allowed: strategy_id."

    def test_authorisation_comes_before_the_parameter_check(self, api, alice, bob):
        assert api.get(DATA, {"bogus": "1"}).status_code == 403  # anonymous
        api.force_authenticate(alice)
        assert api.get(STATS, {"bogus": "1"}).status_code == 403  # not staff


class TestAuthorisation:
    """Anonymous: 403; the owner: 200; another user: 403; staff: 200. Management: staff only."""

    @pytest.mark.parametrize("index", range(5))
    @pytest.mark.parametrize(("caller", "expected"), [(None, 403), ("alice", 200), ("bob", 403), ("staff", 200)])
    def test_data_endpoints(self, api, alice, bob, staff, provider, index, caller, expected):
        method, url, params = _data_endpoints(alice)[index]
        if caller:
            api.force_authenticate({"alice": alice, "bob": bob, "staff": staff}[caller])
        response = getattr(api, method)(url, params)
        assert response.status_code == expected, response.content
        if caller == "bob":
            assert response.json() == {"detail": NOT_YOUR_DATA}
        if expected == 200:
            assert response.json()["status"] == "success"

    @pytest.mark.parametrize("index", range(3))
    @pytest.mark.parametrize(("caller", "expected"), [(None, 403), ("alice", 403), ("bob", 403), ("staff", 200)])
    def test_management_endpoints(self, api, alice, bob, staff, provider, index, caller, expected):
        method, url, params = _management_endpoints(alice)[index]
        if caller:
            api.force_authenticate({"alice": alice, "bob": bob, "staff": staff}[caller])
        response = getattr(api, method)(url, params) if params else getattr(api, method)(url)
        assert response.status_code == expected, response.content

    def test_another_users_id_is_403_whether_or_not_it_exists(self, api, bob):
        api.force_authenticate(bob)
        assert api.get(DATA, {"user_id": 999999}).status_code == 403

    def test_token_authentication_works(self, alice, provider):
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        client = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
        assert client.get(DATA).status_code == 200


def _entry_row(user_id, *, expired: bool, access_count: int = 0, namespace: str = NAMESPACE, strategy_id=None):
    now = timezone.now()
    return CacheEntry.objects.create(
        namespace=namespace,
        key_hash=f"{namespace}-{user_id}-{strategy_id}-{expired}-{access_count}",
        user_id=user_id,
        strategy_id=strategy_id,
        scope=f"user:{user_id}",
        data_hash="x",
        payload={},
        created_at=now - timedelta(hours=2),
        expires_at=now - timedelta(minutes=1) if expired else now + timedelta(minutes=30),
        last_accessed=now - timedelta(minutes=access_count),
        access_count=access_count,
    )


class TestCacheStats:
    def test_numbers_match_the_cache_table(self, api, alice, bob, staff, provider):
        comprehensive_user_data(user=alice)
        comprehensive_user_data(user=bob)
        comprehensive_user_data(user=alice, strategy=alice.content_strategies.get())
        _entry_row(41, expired=True, access_count=9)
        _entry_row(42, expired=True)
        _entry_row(43, expired=False, namespace="other.namespace")  # not ours
        # Two hits on Alice's entry from L3, flushed to the table as the engine does in batches.
        from contentplanning.tests.tiers import drop_l1_and_l2_value

        for _ in range(2):
            drop_l1_and_l2_value(alice.pk)
            assert comprehensive_user_data(user=alice)[1].tier == "l3"
        access.flush()

        api.force_authenticate(staff)
        body = api.get(STATS).json()
        now = timezone.now()
        ours = CacheEntry.objects.filter(namespace=NAMESPACE)
        assert body["namespace"] == NAMESPACE
        assert body["total_entries"] == ours.count() == 5
        assert body["expired_entries"] == ours.filter(expires_at__lte=now).count() == 2
        assert body["valid_entries"] == ours.filter(expires_at__gt=now).count() == 3
        top = body["most_accessed"][:2]
        assert [(r["user_id"], r["access_count"]) for r in top] == [(41, 9), (alice.pk, 2)]
        assert set(top[1]) == {"user_id", "strategy_id", "access_count", "last_accessed", "expires_at"}
        assert len(body["most_accessed"]) == 5

    def test_most_accessed_counts_hits_served_by_l1_and_l2(self, api, alice, staff, provider):
        """An entry in constant use is answered from memory: its hits are counted all the same."""
        from contentplanning.tests.tiers import drop_l1

        comprehensive_user_data(user=alice)  # computed: written to every tier, 0 accesses
        for _ in range(4):
            assert comprehensive_user_data(user=alice)[1].tier == "l1"
        drop_l1()
        assert comprehensive_user_data(user=alice)[1].tier == "l2"
        access.flush()
        api.force_authenticate(staff)
        top = api.get(STATS).json()["most_accessed"][0]
        assert (top["user_id"], top["access_count"]) == (alice.pk, 5)

    def test_hit_rates_per_tier(self, api, alice, staff, provider):
        from contentplanning.tests.tiers import drop_l1, drop_l1_and_l2_value

        comprehensive_user_data(user=alice)  # l1 miss, l2 miss, l3 miss, computed
        comprehensive_user_data(user=alice)  # l1 hit
        drop_l1()
        comprehensive_user_data(user=alice)  # l1 miss, l2 hit
        drop_l1_and_l2_value(alice.pk)
        comprehensive_user_data(user=alice)  # l1 miss, l2 miss, l3 hit
        api.force_authenticate(staff)
        body = api.get(STATS).json()
        assert body["hit_rates"] == {"overall": 75.0, "l1": 25.0, "l2": 33.33, "l3": 50.0}
        assert body["requests"]["hits"] == 3
        assert body["requests"]["misses"] == 1
        assert body["requests"]["computes"] == 1


class TestInvalidateEndpoint:
    def test_retires_that_users_entries_only(self, api, alice, bob, staff, provider):
        strategy = alice.content_strategies.get()
        comprehensive_user_data(user=alice)
        comprehensive_user_data(user=alice, strategy=strategy)
        comprehensive_user_data(user=bob)
        api.force_authenticate(staff)
        response = api.delete(invalidate_url(alice.pk) + f"?strategy_id={strategy.pk}")
        assert response.status_code == 200
        assert response.json()["invalidated"] == {
            "namespace": NAMESPACE,
            "scope": f"user:{alice.pk}",
            "user_id": alice.pk,
            "strategy_id": strategy.pk,
            "persistent_entries_removed": 2,
            "strategy_entries_removed": 1,
        }
        assert list(CacheEntry.objects.values_list("user_id", flat=True)) == [bob.pk]
        assert comprehensive_user_data(user=alice)[1].tier == "miss"
        assert comprehensive_user_data(user=alice, strategy=strategy)[1].tier == "miss"
        assert comprehensive_user_data(user=bob)[1].tier == "l1"


class TestCleanupEndpoint:
    def test_removes_expired_rows_only(self, api, alice, staff, provider):
        comprehensive_user_data(user=alice)
        expired = [_entry_row(50 + n, expired=True) for n in range(3)]
        valid = _entry_row(60, expired=False)
        foreign = _entry_row(61, expired=True, namespace="other.namespace")
        api.force_authenticate(staff)
        response = api.post(CLEANUP)
        assert response.status_code == 200
        assert response.json() == {"status": "success", "removed": 3, "message": "Removed 3 expired entries"}
        remaining = set(CacheEntry.objects.values_list("pk", flat=True))
        assert not remaining & {row.pk for row in expired}
        assert {valid.pk, foreign.pk} <= remaining
        assert CacheEntry.objects.filter(namespace=NAMESPACE, user_id=alice.pk).exists()
        assert comprehensive_user_data(user=alice)[1].tier == "l1"
        assert api.post(CLEANUP).json()["removed"] == 0

    def test_cleanup_works_in_batches(self, alice, provider, monkeypatch):
        from contentplanning import services

        monkeypatch.setattr(services, "CLEANUP_BATCH", 2)
        for n in range(5):
            _entry_row(70 + n, expired=True)
        assert services.user_data_cleanup() == 5
        assert not CacheEntry.objects.filter(namespace=NAMESPACE).exists()


def test_calendar_draft_endpoint_returns_slots(api, alice, provider):
    api.force_authenticate(alice)
    body = api.get(reverse("calendar-draft"), {"start": "2026-02-02", "weeks": 2}).json()
    assert body["data"]["start"] == "2026-02-02"
    assert {slot["date"] for slot in body["data"]["slots"]} == {"2026-02-02", "2026-02-09"}


def test_staff_reads_another_users_data(api, staff, provider):
    carol = make_content_user("carol")
    api.force_authenticate(staff)
    body = api.get(DATA, {"user_id": carol.pk}).json()
    assert body["data"]["user"]["username"] == "carol"


@pytest.mark.parametrize(("raw", "refresh"), [("1", True), ("YES", True), ("on", True), ("0", False), ("False", False)])
def test_force_refresh_spellings(api, alice, provider, raw, refresh):
    api.force_authenticate(alice)
    api.get(DATA)
    body = api.get(DATA, {"force_refresh": raw}).json()
    assert body["cache_info"]["force_refresh"] is refresh
    assert body["cache_info"]["tier"] == ("miss" if refresh else "l1")


def test_with_the_cache_switched_off_every_call_computes(api, alice, provider):
    from django.test import override_settings

    api.force_authenticate(alice)
    with override_settings(CACHE_ENABLED=False):
        first = api.get(DATA).json()
        second = api.get(DATA).json()
    assert first["cache_info"]["tier"] == second["cache_info"]["tier"] == "disabled"
    assert second["message"].endswith("(cache: MISS)")
    assert provider.calls == 2
    assert not CacheEntry.objects.exists()
