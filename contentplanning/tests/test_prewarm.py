"""Prewarming warms the most recently active users, bounded, through the engine's registry."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from cachecore.models import CacheEntry
from contentplanning import selectors, services
from contentplanning.conf import NAMESPACE
from contentplanning.models import ContentStrategy, OnboardingProfile
from contentplanning.services import comprehensive_user_data
from contentplanning.tests.factories import make_content_user
from tests.factories import make_user

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def users():
    """Four users with content data, active at known times, and one without any."""
    made = [make_content_user(f"user{n}") for n in range(4)]
    # Activity: user2 (strategy, newest), user0 (login), user3 (onboarding), user1 (oldest).
    for n, user in enumerate(made):
        ContentStrategy.objects.filter(user=user).update(updated_at=T0 + timedelta(days=n if n != 2 else 30))
        OnboardingProfile.objects.filter(user=user).update(updated_at=T0 + timedelta(days=20 if n == 3 else 0))
    made[0].last_login = T0 + timedelta(days=25)
    made[0].save(update_fields=["last_login"])
    make_user("nobody")
    return made


def test_recently_active_users_orders_by_latest_activity(users):
    ordered = [u.username for u in selectors.recently_active_users(10)]
    assert ordered == ["user2", "user0", "user3", "user1"]
    assert [u.username for u in selectors.recently_active_users(2)] == ["user2", "user0"]


def test_prewarm_warms_the_most_recent_users_with_progress(users, provider):
    seen = []
    assert services.user_data_prewarm(limit=2, progress=lambda done, total: seen.append((done, total))) == 2
    assert seen == [(1, 2), (2, 2)]
    assert provider.calls == 2
    by_name = {u.username: u for u in users}
    assert comprehensive_user_data(user=by_name["user2"])[1].tier == "l1"
    assert comprehensive_user_data(user=by_name["user0"])[1].tier == "l1"
    assert comprehensive_user_data(user=by_name["user1"])[1].tier == "miss"
    assert set(CacheEntry.objects.filter(namespace=NAMESPACE).values_list("user_id", flat=True)) == {
        by_name["user2"].pk,
        by_name["user0"].pk,
        by_name["user1"].pk,
    }


@override_settings(CONTENTPLANNING_PREWARM_USERS=3, CONTENTPLANNING_PREWARM_WORKERS=1)
def test_prewarm_cache_command_runs_our_prewarmer(users, provider):
    out = StringIO()
    call_command("prewarm_cache", "--namespace", NAMESPACE, stdout=out)
    output = out.getvalue()
    assert f"OK      {NAMESPACE}: 3 entries" in output
    assert "3/3" in output
    assert CacheEntry.objects.filter(namespace=NAMESPACE).count() == 3
    assert provider.calls == 3
    # A second run finds them cached: nothing is recomputed.
    call_command("prewarm_cache", "--namespace", NAMESPACE, stdout=StringIO())
    assert provider.calls == 3


# Worker threads use their own connections, so the data must be committed; the in-memory SQLite
# test database locks whole tables across connections, so this runs on PostgreSQL.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_threaded_prewarm_reports_progress_in_order_and_computes_each_user_once(users, provider):
    seen = []
    warmed = services.user_data_prewarm(limit=4, workers=4, progress=lambda done, total: seen.append((done, total)))
    assert warmed == 4
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert provider.calls == 4
    assert all(comprehensive_user_data(user=user)[1].tier == "l1" for user in users)
