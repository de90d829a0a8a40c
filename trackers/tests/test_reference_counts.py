"""Derived counts of the reference lists: brands' production_run_count, runs' tracker_count.

Exact after every kind of write (ORM save/delete, queryset update/bulk_create/delete, raw SQL
through the NOTIFY trigger); a tracker write recomputes only the counts, never the cached list.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.factories import make_dataset, make_user
from trackers.models import Brand, ProductionRun, Tracker
from trackers.namespaces import COUNTS, REFERENCE
from trackers.tests.read_helpers import api_as, assert_bad_param, assert_queries, queries_of
from trackers.tests.test_reference_api import listener, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

BRANDS = reverse("brands")
RUNS = reverse("production-runs")


@pytest.fixture
def data(db):
    return make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=3, history_per_tracker=0)


def run_counts(client) -> dict[int, int]:
    return {run["id"]: run["tracker_count"] for run in client.get(RUNS).json()}


def brand_counts(client) -> dict[int, int]:
    return {brand["id"]: brand["production_run_count"] for brand in client.get(BRANDS).json()}


def expected_run_counts() -> dict[int, int]:
    return {run.pk: run.trackers.count() for run in ProductionRun.objects.all()}


def expected_brand_counts() -> dict[int, int]:
    return {brand.pk: brand.production_runs.count() for brand in Brand.objects.all()}


class TestValues:
    def test_every_brand_and_run_carries_its_exact_count(self, data, staff):
        client = api_as(staff)
        assert brand_counts(client) == expected_brand_counts() == {b.pk: 2 for b in data.brands}
        assert run_counts(client) == expected_run_counts() == {r.pk: 3 for r in data.runs}

    def test_a_brand_without_runs_and_a_run_without_trackers_count_zero(self, data, staff):
        brand = Brand.objects.create(client=data.clients[0], name="Empty brand")
        run = ProductionRun.objects.create(brand=data.brands[0], name="Empty run", start_date="2025-06-01")
        client = api_as(staff)
        assert brand_counts(client)[brand.pk] == 0
        assert run_counts(client)[run.pk] == 0

    def test_member_sees_the_counts_of_their_own_rows_only(self, data):
        client = api_as(make_user("a", clients=[data.clients[0]]))
        mine = {b.pk for b in data.brands if b.client_id == data.clients[0].pk}
        assert set(brand_counts(client)) == mine
        assert set(run_counts(client)) == {r.pk for r in data.runs if r.brand_id in mine}

    def test_brand_filter_keeps_the_counts(self, data, staff):
        brand = data.brands[0]
        runs = api_as(staff).get(RUNS, {"brand_id": brand.pk}).json()
        assert {r["id"]: r["tracker_count"] for r in runs} == {r.pk: 3 for r in data.runs if r.brand_id == brand.pk}

    def test_cached_list_is_not_modified_by_the_merge(self, data, staff):
        from trackers import selectors

        api_as(staff).get(BRANDS)
        rows, _ = selectors.reference_rows("brands")
        assert all("production_run_count" not in row for row in rows)


class TestQueries:
    @pytest.mark.parametrize("path", [BRANDS, RUNS])
    def test_cold_two_queries_warm_none_whatever_the_number_of_rows(self, data, staff, path):
        client = api_as(staff)
        cold, _ = queries_of(client, path)
        warm, response = queries_of(client, path)
        assert (cold, warm) == (2, 0)
        assert response["X-Cache"] == "l1"
        make_dataset(clients=3, brands_per_client=3, runs_per_brand=3, trackers_per_run=4, prefix="More")
        from trackers.tests.read_helpers import cold_caches

        cold_caches()
        assert queries_of(client, path)[0] == 2

    def test_counts_answer_from_l2_in_a_fresh_process(self, data, staff):
        from cachecore import tiers

        client = api_as(staff)
        client.get(RUNS)
        tiers.l1_clear()
        with assert_queries(0):
            response = client.get(RUNS)
        assert response["X-Cache"] == "l2"
        assert {r["tracker_count"] for r in response.json()} == {3}

    def test_a_cold_count_makes_the_response_report_the_miss(self, data, staff):
        from cachecore.api import invalidate_now

        client = api_as(staff)
        client.get(BRANDS)
        invalidate_now(COUNTS["brands"])
        count, response = queries_of(client, BRANDS)
        assert count == 1  # the counts only: the list itself is still cached
        assert response["X-Cache"] == "miss"

    def test_prewarm_cache_fills_the_counts(self, data, staff):
        args = [arg for ns in (REFERENCE["brands"], COUNTS["brands"]) for arg in ("-n", ns)]
        call_command("prewarm_cache", *args, stdout=StringIO())
        expected = expected_brand_counts()
        with assert_queries(0):
            assert brand_counts(api_as(staff)) == expected


@pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
class TestKeptExact:
    def test_orm_create_move_and_delete_of_a_tracker(self, data, staff, no_debounce):
        client = api_as(staff)
        run_counts(client)
        a, b = data.runs[0], data.runs[1]
        Tracker.objects.create(serial="NEW-1", name="new", production_run=a)
        assert run_counts(client) == expected_run_counts()
        tracker = Tracker.objects.filter(production_run=a).first()
        tracker.production_run = b
        tracker.save()
        assert run_counts(client) == expected_run_counts()
        assert run_counts(client)[b.pk] == 4
        tracker.delete()
        assert run_counts(client) == expected_run_counts()

    def test_queryset_update_bulk_create_and_delete_of_trackers(self, data, staff, no_debounce):
        client = api_as(staff)
        run_counts(client)
        a, b = data.runs[0], data.runs[1]
        Tracker.objects.filter(production_run=a).update(production_run=b)
        assert run_counts(client)[a.pk] == 0
        assert run_counts(client)[b.pk] == 6
        Tracker.objects.bulk_create([Tracker(serial=f"BULK-{i}", name="bulk", production_run=a) for i in range(5)])
        assert run_counts(client)[a.pk] == 5
        Tracker.objects.filter(production_run=b).delete()
        assert run_counts(client) == expected_run_counts()
        assert run_counts(client)[b.pk] == 0

    def test_runs_added_moved_and_deleted(self, data, staff, no_debounce):
        client = api_as(staff)
        brand_counts(client)
        first, second = data.brands[0], data.brands[1]
        ProductionRun.objects.create(brand=first, name="Extra", start_date="2025-07-01")
        assert brand_counts(client)[first.pk] == 3
        ProductionRun.objects.filter(brand=first).update(brand=second)
        assert brand_counts(client)[first.pk] == 0
        assert brand_counts(client)[second.pk] == 5
        ProductionRun.objects.filter(brand=second).first().delete()  # cascades to its trackers
        assert brand_counts(client) == expected_brand_counts()
        assert run_counts(client) == expected_run_counts()

    def test_deleting_a_brand_drops_it_and_its_runs(self, data, staff, no_debounce):
        client = api_as(staff)
        brand_counts(client)
        run_counts(client)
        gone = data.brands[0]
        gone.delete()
        assert gone.pk not in brand_counts(client)
        assert run_counts(client) == expected_run_counts()

    def test_a_tracker_write_recomputes_the_counts_not_the_run_list(self, data, staff, no_debounce):
        client = api_as(staff)
        client.get(RUNS)
        Tracker.objects.create(serial="NEW-2", name="new", production_run=data.runs[0])
        count, response = queries_of(client, RUNS)
        assert count == 1  # the GROUP BY of the counts; the serialized list is still cached
        assert {r["id"]: r["tracker_count"] for r in response.json()}[data.runs[0].pk] == 4


class TestEndpoint:
    def test_unknown_parameter_is_rejected(self, data, staff):
        assert_bad_param(api_as(staff).get(BRANDS, {"with_counts": "1"}), "with_counts")

    @pytest.mark.parametrize("path", [BRANDS, RUNS])
    def test_anonymous_is_refused(self, data, path):
        assert api_as(None).get(path).status_code in (401, 403)

    def test_schema_documents_the_counts(self, staff):
        schema = api_as(staff).get(reverse("schema"), {"format": "json"}).json()
        components = schema["components"]["schemas"]
        assert "production_run_count" in components["BrandItem"]["properties"]
        assert "tracker_count" in components["ProductionRunItem"]["properties"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_raw_sql_tracker_insert_is_counted_after_the_relays_debounce(data, staff, settings, listener):  # noqa: F811
    settings.CACHECORE_DEBOUNCE_SECONDS = 0.3
    client = api_as(staff)
    run = data.runs[0]
    run_counts(client)
    with connection.cursor() as cursor:  # bypasses the ORM: only the trigger records it
        cursor.execute(
            "INSERT INTO trackers_tracker (serial, name, production_run_id, current_status, latest_nearest_city) "
            "VALUES ('RAW-1', 'raw', %s, 'inactive', '')",
            [run.pk],
        )
    assert wait_for(lambda: run_counts(client)[run.pk] == 4)
