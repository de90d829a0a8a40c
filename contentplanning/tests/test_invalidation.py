"""Each kind of change to a user's content data invalidates exactly that user's cached data."""

from datetime import date

import pytest
from django.db import transaction
from django.db.models.signals import post_delete

from cachecore.models import CacheEntry
from contentplanning import services
from contentplanning.conf import NAMESPACE
from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile
from contentplanning.services import comprehensive_user_data
from contentplanning.tests.factories import make_content_user
from contentplanning.tests.tiers import flush_l1_and_l2
from tests.helpers import QueryCounter

# Real commits: the invalidations run from transaction.on_commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def update_onboarding(user):
    profile = OnboardingProfile.objects.get(user=user)
    profile.industry = "pharma"
    profile.save()
    return lambda data: data["onboarding"]["industry"] == "pharma"


def create_onboarding(user):
    OnboardingProfile.objects.filter(user=user).delete()
    OnboardingProfile.objects.create(user=user, industry="wine")
    return lambda data: data["onboarding"]["industry"] == "wine"


def rename_strategy(user):
    strategy = ContentStrategy.objects.get(user=user)
    strategy.name = "Renamed"
    strategy.save()
    return lambda data: data["strategy_data"]["strategy"]["name"] == "Renamed"


def add_strategy(user):
    ContentStrategy.objects.create(user=user, name="Brand new", pillars=["x"])
    return lambda data: data["strategy_data"]["strategy"]["name"] == "Brand new"


def delete_strategy(user):
    ContentStrategy.objects.get(user=user).delete()  # cascades to its calendar entries
    return lambda data: data["strategy_data"]["strategy"] is None


def add_calendar_entry(user):
    strategy = ContentStrategy.objects.get(user=user)
    CalendarEntry.objects.create(strategy=strategy, date=date(2026, 2, 1), channel="youtube", title="New video")
    return lambda data: data["strategy_data"]["calendar"]["count"] == 4


def edit_calendar_entry(user):
    entry = CalendarEntry.objects.filter(strategy__user=user).first()
    entry.title = "Sustainability in practice"
    entry.save()
    return lambda data: "sustainability" in data["gap_analysis"]["pillars"]["covered"]


def delete_calendar_entry(user):
    CalendarEntry.objects.filter(strategy__user=user).first().delete()
    return lambda data: data["strategy_data"]["calendar"]["count"] == 2


def add_performance(user):
    ContentPerformance.objects.create(user=user, date=date(2026, 1, 9), channel="youtube", impressions=7)
    return lambda data: data["performance_data"]["totals"]["impressions"] == 4013


def delete_performance(user):
    ContentPerformance.objects.filter(user=user).first().delete()
    return lambda data: data["performance_data"]["totals"]["impressions"] < 4006


def bulk_import_performance(user):
    rows = [{"date": date(2026, 1, 9), "channel": "youtube", "impressions": 10} for _ in range(3)]
    services.performance_import(user=user, rows=rows)
    return lambda data: data["performance_data"]["totals"]["impressions"] == 4036


def bulk_add_calendar_entries(user):
    strategy = ContentStrategy.objects.get(user=user)
    entries = [{"date": date(2026, 3, d), "channel": "blog", "title": f"Bulk {d}"} for d in range(1, 6)]
    services.calendar_entries_add(strategy=strategy, entries=entries)
    return lambda data: data["strategy_data"]["calendar"]["count"] == 8


def bulk_reschedule_calendar(user):
    services.calendar_entries_reschedule(strategy=ContentStrategy.objects.get(user=user), days=7)
    return lambda data: data["strategy_data"]["calendar"]["first_date"] == "2026-01-12"


CHANGES = [
    update_onboarding,
    create_onboarding,
    rename_strategy,
    add_strategy,
    delete_strategy,
    add_calendar_entry,
    edit_calendar_entry,
    delete_calendar_entry,
    add_performance,
    delete_performance,
    bulk_import_performance,
    bulk_add_calendar_entries,
    bulk_reschedule_calendar,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_a_change_invalidates_that_user_only(alice, bob, provider, change):
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=bob)
    assert provider.calls == 2
    shows_change = change(alice)
    # Alice's L3 rows are gone with her entries; Bob's row stays.
    assert list(CacheEntry.objects.filter(namespace=NAMESPACE).values_list("user_id", flat=True)) == [bob.pk]
    data, info = comprehensive_user_data(user=alice)
    assert info.tier == "miss"
    assert shows_change(data)
    assert comprehensive_user_data(user=bob)[1].tier == "l1"
    assert provider.calls == 3


def test_a_change_then_a_full_redis_flush_serves_the_new_data(alice, bob, provider):
    # The change replaced Alice's durable generation in the database, so losing L2 cannot revive
    # her old value; Bob's row is still valid under his and answers from L3.
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=bob)
    shows_change = update_onboarding(alice)
    flush_l1_and_l2()
    data, info = comprehensive_user_data(user=alice)
    assert info.tier == "miss" and shows_change(data)
    assert comprehensive_user_data(user=bob)[1].tier == "l3"
    assert provider.calls == 3


class Rollback(Exception):
    pass


def test_a_rolled_back_change_invalidates_nothing(alice, provider):
    comprehensive_user_data(user=alice)
    with pytest.raises(Rollback), transaction.atomic():
        update_onboarding(alice)
        raise Rollback
    assert comprehensive_user_data(user=alice)[1].tier == "l1"


def test_a_change_inside_a_transaction_invalidates_at_commit(alice, provider):
    comprehensive_user_data(user=alice)
    with transaction.atomic():
        update_onboarding(alice)
        add_performance(alice)
        # Not yet committed: another reader would still see the old rows, so the entry stays.
        assert comprehensive_user_data(user=alice)[1].tier == "l1"
    data, info = comprehensive_user_data(user=alice)
    assert info.tier == "miss"
    assert data["onboarding"]["industry"] == "pharma"


def test_every_strategy_and_option_of_the_user_is_invalidated(alice, provider):
    strategy = ContentStrategy.objects.get(user=alice)
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=alice, strategy=strategy)
    comprehensive_user_data(user=alice, period="week")
    add_performance(alice)
    assert not CacheEntry.objects.filter(namespace=NAMESPACE).exists()
    assert comprehensive_user_data(user=alice, strategy=strategy)[1].tier == "miss"
    assert comprehensive_user_data(user=alice, period="week")[1].tier == "miss"


def test_bulk_import_refuses_another_users_strategy(alice, bob, provider):
    foreign = ContentStrategy.objects.get(user=bob)
    with pytest.raises(ValueError, match="not user"):
        services.performance_import(user=alice, rows=[{"date": date(2026, 1, 1), "channel": "x", "strategy": foreign}])
    assert not ContentPerformance.objects.filter(channel="x").exists()


def test_moving_a_strategy_to_another_user_invalidates_both(alice, bob, provider):
    carol = make_content_user("carol")
    for user in (alice, bob, carol):
        comprehensive_user_data(user=user)
    strategy = ContentStrategy.objects.get(user=alice)
    strategy.user = bob
    strategy.save()
    assert comprehensive_user_data(user=alice)[0]["strategy_data"]["strategy"] is None
    assert len(comprehensive_user_data(user=bob)[0]["strategy_data"]["strategies"]) == 2
    assert comprehensive_user_data(user=carol)[1].tier == "l1"
    assert provider.calls == 5


def test_moving_a_calendar_entry_to_another_users_strategy_invalidates_both(alice, bob, provider):
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=bob)
    entry = CalendarEntry.objects.filter(strategy__user=alice).first()
    entry.strategy = ContentStrategy.objects.get(user=bob)
    entry.save()
    assert comprehensive_user_data(user=alice)[0]["strategy_data"]["calendar"]["count"] == 2
    assert comprehensive_user_data(user=bob)[0]["strategy_data"]["calendar"]["count"] == 4


def test_moving_performance_to_another_user_invalidates_both(alice, bob, provider):
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=bob)
    row = ContentPerformance.objects.filter(user=alice).first()
    row.user, row.strategy = bob, None
    row.save()
    assert comprehensive_user_data(user=alice)[0]["performance_data"]["totals"]["impressions"] < 4006
    assert comprehensive_user_data(user=bob)[0]["performance_data"]["totals"]["impressions"] > 4006


def test_deleting_the_user_retires_their_entries(alice, bob, provider):
    comprehensive_user_data(user=alice)
    comprehensive_user_data(user=bob)
    alice.delete()  # cascades to onboarding, strategies, entries, performance
    assert list(CacheEntry.objects.filter(namespace=NAMESPACE).values_list("user_id", flat=True)) == [bob.pk]


def test_deleting_a_strategy_costs_no_query_per_calendar_entry(provider):
    counts = []
    for entries in (2, 12):
        user = make_content_user(f"owner{entries}", entries=entries)
        comprehensive_user_data(user=user)
        strategy = ContentStrategy.objects.get(user=user)
        with QueryCounter() as q:
            strategy.delete()
        counts.append(len(q))
        assert not CacheEntry.objects.filter(namespace=NAMESPACE, user_id=user.pk).exists()
    assert counts[0] == counts[1], counts


def test_a_failed_strategy_delete_leaves_no_stale_owner(alice, bob, provider):
    strategy = ContentStrategy.objects.get(user=alice)
    pk = strategy.pk

    def fail(**kwargs):
        raise Rollback  # the delete fails after the strategy's pre_delete, before its post_delete

    post_delete.connect(fail, sender=CalendarEntry, dispatch_uid="test.fail")
    try:
        with pytest.raises(Rollback):
            strategy.delete()
    finally:
        post_delete.disconnect(dispatch_uid="test.fail", sender=CalendarEntry)
    strategy = ContentStrategy.objects.get(pk=pk)
    strategy.user = bob
    strategy.save()
    comprehensive_user_data(user=bob)
    CalendarEntry.objects.filter(strategy=strategy).first().delete()  # loaded without its strategy
    assert comprehensive_user_data(user=bob)[1].tier == "miss"
