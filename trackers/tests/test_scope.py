"""Data scope: memberships decide what every trackers endpoint returns, and what the cache shares."""

import pytest

from tests.factories import make_dataset, make_user
from trackers.models import Client, ClientMembership
from trackers.scope import scope_key, user_client_ids
from trackers.tests.read_helpers import api_as, assert_bad_param, assert_queries, cold_caches, queries_of

pytestmark = pytest.mark.django_db

SCOPE_URL = "/api/me/scope/"
# Every read URL with the parameters a dashboard sends; {brand}/{run} are the other client's ids.
SCOPED_URLS = [
    ("/api/clients/", {}),
    ("/api/brands/", {}),
    ("/api/production-runs/", {}),
    ("/api/trackers/", {}),
    ("/api/trackers/", {"status": "lost,in_transit"}),
    ("/api/trackers/", {"search": "tracker"}),
    ("/api/trackers/", {"include_latest_location": "false"}),
    ("/api/trackers/stats/", {}),
    (SCOPE_URL, {}),
]


@pytest.fixture
def world(db):
    """Two clients with their own users, a user of both, a user of none, and staff."""
    ds = make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=2, history_per_tracker=1)
    a, b = ds.clients
    return {
        "ds": ds,
        "a": a,
        "b": b,
        "user_a": make_user("user_a", clients=[a]),
        "user_b": make_user("user_b", clients=[b]),
        "both": make_user("both", clients=[a, b]),
        "nobody": make_user("nobody"),
        "staff": make_user("boss", staff=True),
    }


def client_ids_in(url: str, body) -> set[int]:
    """Return the client ids a response body reveals."""
    if url == "/api/clients/":
        return {row["id"] for row in body}
    if url in ("/api/brands/", "/api/production-runs/"):
        return {row["client_id"] for row in body}
    if url == "/api/trackers/":
        return {item["client_id"] for item in body["items"]}
    if url == "/api/trackers/stats/":
        return {row["client_id"] for row in body["by_brand"]}
    return set(body["client_ids"])


def brand_ids_of(client) -> set[int]:
    return {b.pk for b in client.brands.all()}


class TestMatrix:
    @pytest.mark.parametrize(("url", "params"), SCOPED_URLS)
    @pytest.mark.parametrize(
        ("who", "sees"),
        [("user_a", {"a"}), ("user_b", {"b"}), ("both", {"a", "b"}), ("staff", {"a", "b"}), ("nobody", set())],
    )
    def test_each_user_sees_exactly_their_clients(self, world, url, params, who, sees):
        response = api_as(world[who]).get(url, params)
        assert response.status_code == 200, response.content
        assert client_ids_in(url, response.json()) == {world[name].pk for name in sees}

    @pytest.mark.parametrize(("url", "params"), SCOPED_URLS)
    @pytest.mark.parametrize("order", [("user_a", "user_b"), ("user_b", "user_a")])
    def test_a_warm_cache_never_answers_another_client(self, world, url, params, order):
        first, second = order
        api_as(world[first]).get(url, params)
        api_as(world[first]).get(url, params)  # definitely warm now
        body = api_as(world[second]).get(url, params).json()
        own = world["a" if second == "user_a" else "b"].pk
        assert client_ids_in(url, body) == {own}

    @pytest.mark.parametrize("url", ["/api/trackers/", "/api/production-runs/"])
    def test_naming_the_other_clients_brand_gives_an_empty_result(self, world, url):
        foreign = sorted(brand_ids_of(world["b"]))
        params = {"brand_ids": ",".join(map(str, foreign))} if url == "/api/trackers/" else {"brand_id": foreign[0]}
        response = api_as(world["user_a"]).get(url, params)
        assert response.status_code == 200
        body = response.json()
        assert (body["items"] if url == "/api/trackers/" else body) == []

    def test_naming_the_other_clients_run_gives_an_empty_page(self, world):
        run = world["ds"].runs[-1]
        body = api_as(world["user_a"]).get("/api/trackers/", {"production_run_ids": run.pk}).json()
        assert body["total"] == 0

    def test_search_for_another_clients_serial_finds_nothing(self, world):
        foreign = world["ds"].trackers[-1]
        body = api_as(world["user_a"]).get("/api/trackers/", {"search": foreign.serial}).json()
        assert body["items"] == []

    @pytest.mark.parametrize("url", [u for u, _ in SCOPED_URLS])
    def test_anonymous_is_refused(self, world, url):
        assert api_as(None).get(url).status_code in (401, 403)


@pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
class TestMembershipChanges:
    def test_added_membership_is_visible_on_the_next_request(self, world, no_debounce):
        client = api_as(world["user_a"])
        assert client.get(SCOPE_URL).json()["client_ids"] == [world["a"].pk]
        client.get("/api/trackers/")
        ClientMembership.objects.create(user=world["user_a"], client=world["b"])
        assert client.get(SCOPE_URL).json()["client_ids"] == sorted([world["a"].pk, world["b"].pk])
        body = client.get("/api/trackers/", {"size": 500}).json()
        assert {i["client_id"] for i in body["items"]} == {world["a"].pk, world["b"].pk}

    def test_removed_membership_is_visible_on_the_next_request(self, world, no_debounce):
        client = api_as(world["both"])
        assert len(client.get("/api/brands/").json()) == 4
        ClientMembership.objects.filter(user=world["both"], client=world["b"]).get().delete()
        assert {b["client_id"] for b in client.get("/api/brands/").json()} == {world["a"].pk}
        assert client.get("/api/trackers/stats/").json()["total"] == 8

    def test_a_membership_change_leaves_other_users_cached(self, world, no_debounce):
        api_as(world["user_b"]).get("/api/brands/")
        ClientMembership.objects.create(user=world["user_a"], client=world["b"])
        with assert_queries(0):
            api_as(world["user_b"]).get("/api/brands/")

    def test_deleting_a_client_removes_it_from_its_members_scope(self, world, no_debounce):
        client = api_as(world["both"])
        client.get(SCOPE_URL)
        Client.objects.filter(pk=world["b"].pk).get().delete()
        assert client.get(SCOPE_URL).json()["client_ids"] == [world["a"].pk]

    def test_a_new_client_appears_in_the_staff_summary(self, world, no_debounce):
        client = api_as(world["staff"])
        client.get(SCOPE_URL)
        new = Client.objects.create(name="Newcomer")
        assert new.pk in client.get(SCOPE_URL).json()["client_ids"]


class TestUserClientIds:
    def test_staff_see_everything_without_sql(self, world):
        with assert_queries(0):
            assert user_client_ids(world["staff"]) is None

    def test_client_set_is_cached(self, world):
        with assert_queries(1):
            assert user_client_ids(world["both"]) == {world["a"].pk, world["b"].pk}
        with assert_queries(0):
            assert user_client_ids(world["both"]) == {world["a"].pk, world["b"].pk}

    def test_no_membership_is_an_empty_set(self, world):
        assert user_client_ids(world["nobody"]) == frozenset()

    def test_scope_key_is_stable_and_order_free(self):
        assert scope_key(frozenset({2, 1})) == scope_key(frozenset({1, 2}))
        assert scope_key(frozenset({1})) != scope_key(frozenset({2}))
        assert scope_key(None) == "all"
        assert scope_key(frozenset()) != scope_key(None)


class TestMyScope:
    def test_counts_of_a_member(self, world):
        body = api_as(world["user_a"]).get(SCOPE_URL).json()
        assert body == {
            "client_ids": [world["a"].pk],
            "all_clients": False,
            "brand_count": 2,
            "production_run_count": 4,
            "tracker_count": 8,
            "lazy_mode": False,
            "lazy_threshold": 500,
        }

    def test_counts_of_staff(self, world):
        body = api_as(world["staff"]).get(SCOPE_URL).json()
        assert body["client_ids"] == sorted([world["a"].pk, world["b"].pk])
        assert body["all_clients"] is True
        assert (body["brand_count"], body["production_run_count"], body["tracker_count"]) == (4, 8, 16)

    def test_nobody_has_an_empty_scope(self, world):
        body = api_as(world["nobody"]).get(SCOPE_URL).json()
        assert (body["client_ids"], body["brand_count"], body["tracker_count"], body["lazy_mode"]) == ([], 0, 0, False)

    @pytest.mark.parametrize(("threshold", "lazy"), [(8, False), (7, True)])
    def test_lazy_mode_on_both_sides_of_the_threshold(self, world, settings, threshold, lazy):
        settings.TRACKERS_LAZY_THRESHOLD = threshold
        body = api_as(world["user_a"]).get(SCOPE_URL).json()
        assert (body["tracker_count"], body["lazy_mode"], body["lazy_threshold"]) == (8, lazy, threshold)

    @pytest.mark.parametrize(("threshold", "lazy"), [(1000, False), (10, True)])
    def test_query_count_is_constant_on_both_sides(self, world, settings, threshold, lazy):
        settings.TRACKERS_LAZY_THRESHOLD = threshold
        client = api_as(world["both"])
        # the client set, then COUNTs of brands, runs and trackers
        count, response = queries_of(client, SCOPE_URL)
        assert count == 4
        assert response.json()["lazy_mode"] is lazy
        with assert_queries(0):
            client.get(SCOPE_URL)

    def test_query_count_does_not_grow_with_the_scope(self, db):
        small = make_dataset(clients=1, trackers_per_run=1, prefix="S")
        large = make_dataset(clients=1, brands_per_client=4, trackers_per_run=20, prefix="L")
        counts = []
        for i, d in enumerate((small, large)):
            cold_caches()
            counts.append(queries_of(api_as(make_user(f"u{i}", clients=d.clients)), SCOPE_URL)[0])
        assert counts == [4, 4]

    def test_same_client_set_shares_one_entry(self, world):
        api_as(world["user_a"]).get(SCOPE_URL)
        twin = make_user("twin", clients=[world["a"]])
        count, _ = queries_of(api_as(twin), SCOPE_URL)
        assert count == 1  # only the twin's own client set

    def test_unknown_parameter_is_rejected(self, world):
        assert_bad_param(api_as(world["user_a"]).get(SCOPE_URL, {"user_id": 1}), "user_id")


def test_schema_lists_the_stats_and_scope_endpoints(db):
    schema = api_as(make_user("reader")).get("/api/schema/", {"format": "json"}).json()
    assert schema["paths"]["/api/me/scope/"]["get"]["operationId"] == "me_scope"
    assert schema["paths"]["/api/trackers/stats/"]["get"]["operationId"] == "tracker_stats"
