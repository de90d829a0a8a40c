"""Reference endpoints: cached serialized lists, zero SQL when warm, scope filtering, invalidation."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import make_dataset, make_user
from tests.helpers import QueryCounter
from trackers.models import DeliveryLocation, Image, ProductionRun, StorageLocation
from trackers.namespaces import COUNTED_TABLES, COUNTS, REFERENCE, REFERENCE_TABLES
from trackers.tests.read_helpers import api_as, assert_bad_param, assert_queries, queries_of

pytestmark = pytest.mark.django_db

URLS = {
    "clients": "clients",
    "brands": "brands",
    "production_runs": "production-runs",
    "storage_locations": "storage-locations",
    "delivery_locations": "delivery-locations",
    "images": "images",
}
FIELDS = {
    "clients": {"id", "name"},
    "brands": {"id", "name", "client_id", "logo", "production_run_count"},
    "production_runs": {"id", "name", "brand_id", "client_id", "start_date", "tracker_count"},
    "storage_locations": {"id", "name", "city", "latitude", "longitude"},
    "delivery_locations": {"id", "name", "city", "latitude", "longitude"},
    "images": {"id", "title", "url"},
}


@pytest.fixture
def data(db):
    ds = make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=1, history_per_tracker=0)
    StorageLocation.objects.create(name="Depot", city="Hamburg", latitude=53.5, longitude=9.9)
    DeliveryLocation.objects.create(name="Shop", city="Berlin", latitude=52.5, longitude=13.4)
    Image.objects.create(title="Crate", url="https://example.com/crate.png")
    return ds


def url(table: str) -> str:
    return reverse(URLS[table])


class TestShape:
    @pytest.mark.parametrize("table", REFERENCE_TABLES)
    def test_every_row_with_its_fields(self, data, staff, table):
        response = api_as(staff).get(url(table))
        assert response.status_code == 200
        rows = response.json()
        assert rows and all(set(row) == FIELDS[table] for row in rows)

    def test_brands_name_their_client_and_runs_their_brand_and_client(self, data, staff):
        brands = {b["id"]: b for b in api_as(staff).get(url("brands")).json()}
        runs = api_as(staff).get(url("production_runs")).json()
        assert {b.id: b.client_id for b in data.brands} == {i: b["client_id"] for i, b in brands.items()}
        for run in runs:
            assert brands[run["brand_id"]]["client_id"] == run["client_id"]
        assert len(runs) == len(data.runs)

    def test_runs_are_newest_first(self, data, staff):
        starts = [run["start_date"] for run in api_as(staff).get(url("production_runs")).json()]
        assert starts == sorted(starts, reverse=True)


class TestCaching:
    @pytest.mark.parametrize("table", REFERENCE_TABLES)
    def test_warm_request_runs_no_sql(self, data, staff, table):
        client = api_as(staff)
        cold, first = queries_of(client, url(table))
        warm, second = queries_of(client, url(table))
        assert cold == (2 if table in COUNTED_TABLES else 1)  # the list, and its derived counts
        assert warm == 0
        assert first["X-Cache"] == "miss"
        assert second["X-Cache"] == "l1"
        assert first.json() == second.json()

    def test_a_fresh_process_is_answered_from_l2_without_sql(self, data, staff):
        """Another worker (empty L1) gets the list from the shared tier, not from the database."""
        from cachecore import tiers

        client = api_as(staff)
        client.get(url("brands"))
        tiers.l1_clear()
        with assert_queries(0):
            response = client.get(url("brands"))
        assert response["X-Cache"] == "l2"

    def test_warm_request_with_scope_and_brand_filter_runs_no_sql(self, data):
        user = make_user("a", clients=[data.clients[0]])
        client = api_as(user)
        client.get(url("production_runs"))  # fills the runs list and the user's scope
        brand = data.brands[0]
        with assert_queries(0):
            response = client.get(url("production_runs"), {"brand_id": brand.id})
        assert {run["brand_id"] for run in response.json()} == {brand.id}

    def test_one_cached_list_serves_every_scope(self, data, staff):
        a = make_user("a", clients=[data.clients[0]])
        b = make_user("b", clients=[data.clients[1]])
        api_as(staff).get(url("brands"))
        api_as(a).get(url("brands"))  # warms a's scope only
        api_as(b).get(url("brands"))
        with assert_queries(0):
            assert api_as(a).get(url("brands"))["X-Cache"] == "l1"

    def test_session_request_on_a_warm_cache_runs_no_sql(self, data, client):
        """Authentication included: the session and the user are cached too (docs/accounts.md)."""
        # force_login: client.login() calls authenticate() without a request, which django-axes refuses.
        client.force_login(make_user("staff2", staff=True))
        client.get(url("brands"))
        with QueryCounter() as q:
            response = client.get(url("brands"))
        assert response.status_code == 200
        assert len(q) == 0, q.sql

    def test_prewarm_cache_fills_all_six_lists_and_their_counts(self, data, staff):
        out = StringIO()
        namespaces = [REFERENCE[t] for t in REFERENCE_TABLES] + [COUNTS[t] for t in COUNTED_TABLES]
        call_command("prewarm_cache", *[arg for ns in namespaces for arg in ("-n", ns)], stdout=out)
        client = api_as(staff)
        client.get(url("clients"))  # the staff user's own scope needs no SQL; this is just a warm-up
        with assert_queries(0):
            for table in REFERENCE_TABLES:
                assert client.get(url(table)).json()

    def test_a_prewarmer_is_registered_per_table(self):
        from cachecore import prewarm

        assert {REFERENCE[t] for t in REFERENCE_TABLES} <= set(prewarm.registered())


@pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
class TestInvalidation:
    def test_brand_rename_is_visible_next_time(self, data, staff, no_debounce):
        client = api_as(staff)
        client.get(url("brands"))
        client.get(url("production_runs"))
        brand = data.brands[0]
        brand.name = "Renamed"
        brand.save()
        names = {b["id"]: b["name"] for b in client.get(url("brands")).json()}
        assert names[brand.pk] == "Renamed"

    def test_brand_moving_to_another_client_changes_run_scope(self, data, no_debounce):
        a = make_user("a", clients=[data.clients[0]])
        client = api_as(a)
        run = ProductionRun.objects.filter(brand=data.brands[0]).first()
        assert run.pk in {r["id"] for r in client.get(url("production_runs")).json()}
        brand = data.brands[0]
        brand.client = data.clients[1]
        brand.save()
        assert run.pk not in {r["id"] for r in client.get(url("production_runs")).json()}

    @pytest.mark.parametrize(
        ("table", "create"),
        [
            ("storage_locations", lambda: StorageLocation.objects.create(name="New depot")),
            ("delivery_locations", lambda: DeliveryLocation.objects.create(name="New shop")),
            ("images", lambda: Image.objects.create(title="New", url="https://example.com/n.png")),
        ],
    )
    def test_new_row_appears(self, data, staff, no_debounce, table, create):
        client = api_as(staff)
        before = len(client.get(url(table)).json())
        create()
        assert len(client.get(url(table)).json()) == before + 1

    def test_debounced_invalidation_waits_for_the_window(self, data, staff, settings):
        """With the default debounce the change is visible once the debouncer fires, not before."""
        from cachecore.invalidation import flush_pending

        settings.CACHECORE_DEBOUNCE_SECONDS = 60
        client = api_as(staff)
        client.get(url("images"))
        Image.objects.create(title="Later", url="https://example.com/l.png")
        assert "Later" not in {i["title"] for i in client.get(url("images")).json()}
        flush_pending()
        assert "Later" in {i["title"] for i in client.get(url("images")).json()}


class TestScope:
    def test_member_sees_only_their_clients_brands_and_runs(self, data):
        mine = data.clients[0]
        client = api_as(make_user("a", clients=[mine]))
        assert [c["id"] for c in client.get(url("clients")).json()] == [mine.pk]
        assert {b["client_id"] for b in client.get(url("brands")).json()} == {mine.pk}
        assert {r["client_id"] for r in client.get(url("production_runs")).json()} == {mine.pk}

    def test_out_of_scope_brand_filter_is_empty_not_404(self, data):
        client = api_as(make_user("a", clients=[data.clients[0]]))
        foreign = data.brands[-1]
        response = client.get(url("production_runs"), {"brand_id": foreign.pk})
        assert response.status_code == 200
        assert response.json() == []

    def test_user_without_membership_sees_no_client_data(self, data):
        client = api_as(make_user("nobody"))
        for table in ("clients", "brands", "production_runs"):
            assert client.get(url(table)).json() == []

    def test_shared_tables_are_visible_to_every_member(self, data):
        client = api_as(make_user("nobody"))
        for table in ("storage_locations", "delivery_locations", "images"):
            assert len(client.get(url(table)).json()) == 1

    @pytest.mark.parametrize("table", REFERENCE_TABLES)
    def test_anonymous_is_refused(self, data, table):
        response = api_as(None).get(url(table))
        assert response.status_code in (401, 403)


class TestBadInput:
    @pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "1,2"])
    def test_bad_brand_id(self, data, staff, value):
        assert_bad_param(api_as(staff).get(url("production_runs"), {"brand_id": value}), "brand_id")

    @pytest.mark.parametrize("table", REFERENCE_TABLES)
    def test_unknown_parameter_is_rejected(self, data, staff, table):
        assert_bad_param(api_as(staff).get(url(table), {"colour": "red"}), "colour")

    def test_format_parameter_is_allowed(self, data, staff):
        assert api_as(staff).get(url("clients"), {"format": "json"}).status_code == 200


def test_schema_lists_the_reference_endpoints(staff):
    schema = api_as(staff).get(reverse("schema"), {"format": "json"}).json()
    for path in ("/api/clients/", "/api/brands/", "/api/production-runs/", "/api/images/"):
        assert path in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/production-runs/"]["get"]["parameters"]}
    assert "brand_id" in params


@pytest.fixture
def listener():
    """Run a relay thread with its NOTIFY listener, as every web process does (tests run none)."""
    from cachecore import relay

    running = relay.RelayThread(relay.Relay(), poll=5.0, listen=True).start()
    assert wait_for(lambda: running._listener is not None and running._listener.listening.is_set())
    yield running._listener
    running.stop(timeout=10)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_raw_sql_brand_update_is_served_after_the_relays_debounce(data, staff, settings, listener):
    from django.db import connection

    settings.CACHECORE_DEBOUNCE_SECONDS = 0.3
    client = api_as(staff)
    brand = data.brands[0]
    client.get(url("brands"))
    with connection.cursor() as cursor:  # bypasses the ORM: only the trigger records it
        cursor.execute("UPDATE trackers_brand SET name = 'Raw SQL name' WHERE id = %s", [brand.pk])

    def renamed() -> bool:
        return {b["id"]: b["name"] for b in client.get(url("brands")).json()}[brand.pk] == "Raw SQL name"

    assert wait_for(renamed)
    assert listener.stats.notifications >= 1
