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


def test_user_page_edits_client_memberships_inline(staff_client):
    from trackers.models import ClientMembership

    data = make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=1, history_per_tracker=0)
    user = make_user("ann", clients=[data.clients[0]])
    url = reverse("admin:auth_user_change", args=[user.pk])
    html = staff_client.get(url).content.decode()
    assert "client memberships" in html.lower()
    assert 'name="client_memberships-0-client"' in html

    form = staff_client.get(url).context["adminform"].form
    post = {k: v for k, v in form.initial.items() if isinstance(v, str | int | bool) and v is not None}
    post.update(
        {
            "username": "ann",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "client_memberships-TOTAL_FORMS": "2",
            "client_memberships-INITIAL_FORMS": "1",
            "client_memberships-0-id": str(user.client_memberships.get().pk),
            "client_memberships-0-user": str(user.pk),
            "client_memberships-0-client": str(data.clients[0].pk),
            "client_memberships-0-role": "viewer",
            "client_memberships-1-user": str(user.pk),
            "client_memberships-1-client": str(data.clients[1].pk),
            "client_memberships-1-role": "operator",
        }
    )
    response = staff_client.post(url, post)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert set(ClientMembership.objects.filter(user=user).values_list("client_id", flat=True)) == {
        c.pk for c in data.clients
    }


def test_non_staff_users_see_no_monitoring_or_admin_link(client):
    client.force_login(make_user("plain"))
    html = client.get(reverse("dashboard")).content.decode()
    assert 'href="/dashboard/"' in html
    assert 'href="/monitoring/"' not in html and 'href="/admin/"' not in html


def test_staff_see_monitoring_and_admin_links(staff_client):
    html = staff_client.get(reverse("dashboard")).content.decode()
    assert 'href="/monitoring/"' in html and 'href="/admin/"' in html


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/accounts/login/").content.decode()
