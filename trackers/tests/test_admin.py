"""The tracker admin list: latest location, status and client shown without N+1 queries."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import make_dataset
from tests.helpers import QueryCounter
from trackers.models import Tracker

pytestmark = pytest.mark.django_db
URL = "admin:trackers_tracker_changelist"


@pytest.fixture
def admin_client_(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345"))
    client.get(reverse(URL))  # the session and the user are cached from here on (accounts/)
    return client


def changelist_queries(client) -> tuple[int, str]:
    with QueryCounter() as q:
        response = client.get(reverse(URL))
    assert response.status_code == 200
    return len(q), response.content.decode()


def test_query_count_does_not_grow_with_rows(admin_client_):
    make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=3, history_per_tracker=1)
    small, _ = changelist_queries(admin_client_)
    make_dataset(clients=3, brands_per_client=2, runs_per_brand=2, trackers_per_run=5, prefix="B")  # 60 more
    Tracker.objects.update(
        latest_history_id=1,
        latest_latitude=53.55,
        latest_longitude=9.99,
        latest_nearest_city="Hamburg",
        latest_timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    )
    large, _ = changelist_queries(admin_client_)
    assert large == small


def test_shows_latest_location_status_and_client(admin_client_):
    ds = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=1)
    synced, unsynced = ds.trackers
    Tracker.objects.filter(pk=synced.pk).update(
        latest_history_id=1,
        latest_latitude=53.55,
        latest_longitude=9.99,
        latest_nearest_city="Hamburg",
        latest_timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    )
    _, html = changelist_queries(admin_client_)
    assert "Hamburg (53.5500, 9.9900) at 2026-01-02 03:04" in html
    assert "not synced yet" in html
    assert ds.clients[0].name in html
    assert synced.get_current_status_display() in html


def test_status_filter(admin_client_):
    ds = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=5, history_per_tracker=0)
    lost = [t for t in ds.trackers if t.current_status == "lost"]
    response = admin_client_.get(reverse(URL), {"current_status__exact": "lost"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == len(lost)
