"""The admin lists of the domain load for staff without N+1 queries."""

import pytest
from django.urls import reverse

from tests.factories import make_dataset, make_user
from tests.helpers import QueryCounter

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "admin:trackers_client_changelist",
    "admin:trackers_brand_changelist",
    "admin:trackers_productionrun_changelist",
    "admin:trackers_tracker_changelist",
    "admin:trackers_locationhistory_changelist",
    "admin:trackers_clientmembership_changelist",
    "admin:contentplanning_contentstrategy_changelist",
]


@pytest.fixture
def staff_client(client):
    client.force_login(_superuser())
    client.get(reverse("admin:index"))  # the session and the user are cached from here on (accounts/)
    return client


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")


@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelist_query_count_does_not_grow_with_rows(staff_client, name):
    make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=2)
    url = reverse(name)
    with QueryCounter() as small:
        assert staff_client.get(url).status_code == 200
    make_dataset(
        clients=2, brands_per_client=3, runs_per_brand=3, trackers_per_run=5, history_per_tracker=3, prefix="B"
    )
    with QueryCounter() as large:
        assert staff_client.get(url).status_code == 200
    assert len(large) == len(small), large.sql


def test_admin_requires_staff(client):
    client.force_login(make_user("plain"))
    response = client.get(reverse("admin:trackers_tracker_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
