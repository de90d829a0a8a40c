"""A warm authenticated request runs no SQL, and revoking access holds on the next request.

These tests use real sessions (``Client.login``), not ``force_authenticate``: the session and the
user lookup are exactly what is cached. Invalidations fire at commit, so the revocation tests run
with real commits (``transaction=True``), as a server in autocommit does.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from tests.factories import make_dataset, make_user
from tests.helpers import QueryCounter, RedisRoundTrips
from trackers.models import ClientMembership

pytestmark = pytest.mark.django_db

TRACKERS = "/api/trackers/?size=100&include_latest_location=true"
WARM_URLS = [TRACKERS, "/api/brands/", "/api/me/scope/", "/api/trackers/stats/"]


@pytest.fixture
def world(db):
    ds = make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=3, history_per_tracker=1)
    a, b = ds.clients
    return {"a": a, "b": b, "user": make_user("alice", clients=[a, b]), "staff": make_user("boss", staff=True)}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)  # django-axes refuses authenticate() without a request
    return client


def get(client: Client, url: str):
    """Return (response, query count) of one GET."""
    with QueryCounter() as q:
        response = client.get(url)
    return response, q


def client_ids(body) -> set[int]:
    return {item["client_id"] for item in body["items"]}


class TestZeroSql:
    @pytest.mark.parametrize("url", WARM_URLS)
    @pytest.mark.parametrize("who", ["user", "staff"])
    def test_a_warm_request_runs_no_sql_session_and_user_included(self, world, url, who):
        client = logged_in(world[who])
        first, _ = get(client, url)
        assert first.status_code == 200, first.content
        response, q = get(client, url)
        assert response.status_code == 200
        assert len(q) == 0, q.sql
        assert response.content == first.content

    @pytest.mark.redis
    @pytest.mark.parametrize("url", WARM_URLS)
    @pytest.mark.parametrize("who", ["user", "staff"])
    def test_a_warm_request_checks_all_its_auth_data_in_one_redis_round_trip(self, world, url, who):
        # Session, user and client set are L1 copies checked against L2's generations, which
        # PrefetchAuth reads for all three in one MGET (without it: one round trip each, values included).
        client = logged_in(world[who])
        get(client, url)
        with RedisRoundTrips() as trips:
            response, q = get(client, url)
        assert response.status_code == 200
        assert len(q) == 0, q.sql
        assert trips.commands == ["MGET"]

    def test_the_cold_request_reads_session_and_user_once(self, world):
        client = logged_in(world["user"])
        get(client, TRACKERS)
        from cachecore.testing import reset

        reset()  # drop L1 and generations knowledge; L2 keeps the session and the user
        from django.core.cache import cache

        cache.clear()  # now every tier is empty
        _, q = get(client, TRACKERS)
        tables = " ".join(entry["sql"] for entry in q.captured_queries)
        assert "django_session" in tables and "auth_user" in tables
        _, q = get(client, TRACKERS)
        assert len(q) == 0, q.sql


@pytest.mark.django_db(transaction=True)
class TestRevocation:
    def test_logout_holds_on_the_next_request(self, world):
        client = logged_in(world["user"])
        stolen = Client()
        stolen.cookies["sessionid"] = client.cookies["sessionid"].value  # a second tab, a copied cookie
        get(client, TRACKERS)
        assert get(stolen, TRACKERS)[0].status_code == 200
        client.logout()
        assert get(stolen, TRACKERS)[0].status_code == 403

    def test_deactivation_holds_on_the_next_request(self, world):
        client = logged_in(world["user"])
        assert get(client, TRACKERS)[0].status_code == 200
        user = get_user_model().objects.get(pk=world["user"].pk)
        user.is_active = False
        user.save()
        assert get(client, TRACKERS)[0].status_code == 403

    def test_a_password_change_ends_other_sessions(self, world):
        client = logged_in(world["user"])
        assert get(client, TRACKERS)[0].status_code == 200
        user = get_user_model().objects.get(pk=world["user"].pk)
        user.set_password("a new password 123")
        user.save()
        assert get(client, TRACKERS)[0].status_code == 403

    def test_membership_removal_holds_on_the_next_request(self, world):
        client = logged_in(world["user"])
        before, _ = get(client, TRACKERS)
        assert client_ids(before.json()) == {world["a"].pk, world["b"].pk}
        ClientMembership.objects.filter(user=world["user"], client=world["b"]).delete()
        after, _ = get(client, TRACKERS)
        assert client_ids(after.json()) == {world["a"].pk}

    def test_a_staff_flag_removed_narrows_the_scope_at_once(self, world):
        boss = world["staff"]
        ClientMembership.objects.create(user=boss, client=world["a"])
        client = logged_in(boss)
        assert client_ids(get(client, TRACKERS)[0].json()) == {world["a"].pk, world["b"].pk}
        user = get_user_model().objects.get(pk=boss.pk)
        user.is_staff = False
        user.save()
        assert client_ids(get(client, TRACKERS)[0].json()) == {world["a"].pk}

    def test_a_group_change_retires_the_cached_user(self, world):
        client = logged_in(world["user"])
        get(client, TRACKERS)
        group = Group.objects.create(name="ops")
        group.user_set.add(world["user"])  # from the group's side: the user is known by pk only
        _, q = get(client, TRACKERS)
        assert "auth_user" in q.sql  # the user row was read again
