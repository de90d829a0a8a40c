"""GET /api/trackers/: filters, pagination, ordering, latest location, constant SQL, caching."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db.models import Count, F, Window
from django.http import QueryDict
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from rest_framework.exceptions import ValidationError

from cachecore.api import invalidate_now
from tests.factories import BASE_TIME, make_dataset, make_user
from tests.helpers import QueryCounter
from trackers.filters import parse_tracker_filters
from trackers.models import LocationHistory, Tracker, TrackerStatus
from trackers.namespaces import TRACKER_LIST
from trackers.tests.read_helpers import api_as, assert_bad_param, assert_queries, queries_of

pytestmark = pytest.mark.django_db
URL = "/api/trackers/"
ITEM_FIELDS = {
    "id",
    "serial",
    "name",
    "client_id",
    "brand_id",
    "production_run_id",
    "current_status",
    "last_report_received",
    "latest_location",
}


@pytest.fixture
def data(db):
    return make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=3, history_per_tracker=3)


def get_all(client, **params):
    response = client.get(URL, {"size": 500, **params})
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[int]:
    return [item["id"] for item in body["items"]]


def sync_latest(tracker: Tracker) -> None:
    """Fill a tracker's current state as the state sync would."""
    latest = tracker.history.order_by("-timestamp").first()
    Tracker.objects.filter(pk=tracker.pk).update(
        latest_latitude=latest.latitude,
        latest_longitude=latest.longitude,
        latest_timestamp=latest.timestamp,
        latest_nearest_city=latest.nearest_city,
        latest_confidence=latest.confidence,
        latest_history_id=latest.pk,
    )


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class TestShape:
    def test_page_envelope_and_item_fields(self, data, staff):
        body = api_as(staff).get(URL).json()
        assert set(body) == {"items", "total", "page", "size", "pages"}
        assert (body["total"], body["page"], body["size"], body["pages"]) == (24, 1, 50, 1)
        assert all(set(item) == ITEM_FIELDS for item in body["items"])

    def test_item_values(self, data, staff):
        tracker = data.trackers[1]
        item = next(i for i in get_all(api_as(staff))["items"] if i["id"] == tracker.pk)
        run = tracker.production_run
        assert item["serial"] == tracker.serial
        assert item["name"] == tracker.name
        assert (item["production_run_id"], item["brand_id"], item["client_id"]) == (
            run.pk,
            run.brand_id,
            run.brand.client_id,
        )
        assert item["current_status"] == tracker.current_status
        assert item["last_report_received"] == "2026-01-01T01:00:00Z"

    def test_ordering_last_report_first_nulls_last_then_id(self, data, staff):
        items = get_all(api_as(staff))["items"]
        reported = [i for i in items if i["last_report_received"]]
        never = [i for i in items if not i["last_report_received"]]
        assert items == reported + never
        assert [i["last_report_received"] for i in reported] == sorted(
            (i["last_report_received"] for i in reported), reverse=True
        )
        assert [i["id"] for i in never] == sorted(i["id"] for i in never)

    def test_ties_on_last_report_are_broken_by_id(self, data, staff):
        Tracker.objects.update(last_report_received=BASE_TIME)
        assert ids(get_all(api_as(staff))) == sorted(t.pk for t in data.trackers)


class TestLatestLocation:
    def test_before_any_sync_it_comes_from_history(self, data, staff):
        tracker = data.trackers[0]
        item = next(i for i in get_all(api_as(staff))["items"] if i["id"] == tracker.pk)
        latest = tracker.history.order_by("-timestamp").first()
        assert item["latest_location"] == {
            "latitude": latest.latitude,
            "longitude": latest.longitude,
            "timestamp": "2026-01-01T02:00:00Z",
            "nearest_city": "City 2",
            "confidence": 0.9,
        }

    def test_latest_is_by_timestamp_not_insertion_order(self, data, staff):
        tracker = data.trackers[0]
        LocationHistory.objects.create(
            tracker=tracker, timestamp=BASE_TIME - timedelta(days=3), latitude=1, longitude=2, nearest_city="Old"
        )
        item = next(i for i in get_all(api_as(staff))["items"] if i["id"] == tracker.pk)
        assert item["latest_location"]["nearest_city"] == "City 2"

    def test_synced_state_is_used_when_present(self, data, staff):
        tracker = data.trackers[0]
        sync_latest(tracker)
        Tracker.objects.filter(pk=tracker.pk).update(latest_nearest_city="Synced City")
        items = {i["id"]: i for i in get_all(api_as(staff))["items"]}
        assert items[tracker.pk]["latest_location"]["nearest_city"] == "Synced City"
        assert items[data.trackers[1].pk]["latest_location"]["nearest_city"] == "City 2"

    def test_tracker_without_history_has_null(self, db, staff):
        make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=0)
        assert [i["latest_location"] for i in get_all(api_as(staff))["items"]] == [None, None]

    def test_can_be_left_out(self, data, staff):
        items = get_all(api_as(staff), include_latest_location="false")["items"]
        assert items and all("latest_location" not in item for item in items)


class TestFilters:
    def test_brand_ids_comma_and_repeated_forms_agree(self, data, staff):
        a, b = data.brands[0].pk, data.brands[3].pk
        client = api_as(staff)
        comma = get_all(client, brand_ids=f"{a},{b}")
        repeated = client.get(URL, {"size": 500, "brand_ids": [a, b]}).json()
        assert comma == repeated
        assert {i["brand_id"] for i in comma["items"]} == {a, b}
        assert comma["total"] == 12

    def test_production_run_ids(self, data, staff):
        run = data.runs[2]
        body = get_all(api_as(staff), production_run_ids=str(run.pk))
        assert {i["production_run_id"] for i in body["items"]} == {run.pk}
        assert body["total"] == 3

    def test_brand_and_run_filters_intersect(self, data, staff):
        body = get_all(api_as(staff), brand_ids=data.brands[0].pk, production_run_ids=data.runs[-1].pk)
        assert body["total"] == 0

    def test_status_one_or_several(self, data, staff):
        client = api_as(staff)
        lost = get_all(client, status="lost")
        assert lost["total"] and {i["current_status"] for i in lost["items"]} == {"lost"}
        two = get_all(client, status="lost,delivered")
        assert {i["current_status"] for i in two["items"]} == {"lost", "delivered"}

    @pytest.mark.parametrize(("search", "expected"), [("T-000004", 1), ("t-00000", 10), ("TRACKER 1", 11)])
    def test_search_serial_or_name_case_insensitive(self, data, staff, search, expected):
        assert get_all(api_as(staff), search=search)["total"] == expected

    def test_empty_values_mean_no_filter(self, data, staff):
        assert get_all(api_as(staff), brand_ids="", search="", status="")["total"] == 24


class TestPagination:
    def test_pages_cover_everything_once(self, data, staff):
        client = api_as(staff)
        seen = []
        first = client.get(URL, {"size": 10}).json()
        assert (first["total"], first["pages"]) == (24, 3)
        for page in range(1, 4):
            seen += ids(client.get(URL, {"size": 10, "page": page}).json())
        assert seen == ids(get_all(client))

    def test_last_page_is_partial(self, data, staff):
        body = api_as(staff).get(URL, {"size": 10, "page": 3}).json()
        assert len(body["items"]) == 4

    def test_page_beyond_the_last_is_empty(self, data, staff):
        body = api_as(staff).get(URL, {"size": 10, "page": 4}).json()
        assert body == {"items": [], "total": 24, "page": 4, "size": 10, "pages": 3}

    def test_no_match_has_zero_pages(self, data, staff):
        body = api_as(staff).get(URL, {"search": "no such tracker"}).json()
        assert body == {"items": [], "total": 0, "page": 1, "size": 50, "pages": 0}

    def test_size_default_and_maximum_follow_settings(self, data, staff, settings):
        settings.TRACKERS_PAGE_SIZE = 7
        settings.TRACKERS_MAX_PAGE_SIZE = 20
        client = api_as(staff)
        assert client.get(URL).json()["size"] == 7
        assert client.get(URL, {"size": 20}).status_code == 200
        assert_bad_param(client.get(URL, {"size": 21}), "size")


class TestBadInput:
    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("brand_ids", "abc"),
            ("brand_ids", "1,x"),
            ("brand_ids", "0"),
            ("brand_ids", "-1"),
            ("brand_ids", "1.5"),
            ("brand_ids", "99999999999999999999"),
            ("production_run_ids", "one"),
            ("status", "bogus"),
            ("status", "lost,bogus"),
            ("page", "0"),
            ("page", "-1"),
            ("page", "x"),
            ("page", "10000001"),
            ("size", "0"),
            ("size", "501"),
            ("size", "many"),
            ("include_latest_location", "maybe"),
            ("lazy_load", "2"),
            ("search", "x" * 101),
            ("brand_id", "1"),
            ("unknown", "1"),
        ],
    )
    def test_bad_parameter_is_named(self, data, staff, param, value):
        assert_bad_param(api_as(staff).get(URL, {param: value}), param)

    def test_too_many_ids(self, data, staff):
        assert_bad_param(api_as(staff).get(URL, {"brand_ids": ",".join(map(str, range(1, 1002)))}), "brand_ids")

    def test_bad_input_runs_no_sql(self, data, staff):
        with assert_queries(0):
            api_as(staff).get(URL, {"page": "0"})

    def test_anonymous_is_refused(self, data):
        assert api_as(None).get(URL).status_code in (401, 403)


class TestLazyLoad:
    def test_lazy_without_filter_is_the_empty_page_without_sql(self, data):
        user = make_user("a", clients=[data.clients[0]])
        before = metric("empty_state_views_total")
        with assert_queries(0):
            response = api_as(user).get(URL, {"lazy_load": "true"})
        assert response.json() == {"items": [], "total": 0, "page": 1, "size": 50, "pages": 0}
        assert metric("empty_state_views_total") == before + 1

    def test_lazy_with_a_filter_loads(self, data, staff):
        before = metric("lazy_load_triggers_total")
        body = api_as(staff).get(URL, {"lazy_load": "true", "status": "lost"}).json()
        assert body["total"] > 0
        assert metric("lazy_load_triggers_total") == before + 1

    def test_filter_and_load_time_metrics(self, data, staff):
        brands = metric("filter_applications_total", filter="brand_ids")
        search = metric("filter_applications_total", filter="search")
        loads = metric("dashboard_load_seconds_count", endpoint="trackers")
        api_as(staff).get(URL, {"brand_ids": data.brands[0].pk, "search": "T"})
        assert metric("filter_applications_total", filter="brand_ids") == brands + 1
        assert metric("filter_applications_total", filter="search") == search + 1
        assert metric("dashboard_load_seconds_count", endpoint="trackers") == loads + 1


class TestQueryCount:
    def _cold_count(self, client, brand_ids) -> int:
        count, response = queries_of(client, URL, brand_ids=",".join(map(str, brand_ids)), size=50)
        assert response.status_code == 200
        return count

    def test_constant_for_a_dataset_twenty_times_larger(self, db, staff):
        small = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=10, prefix="S")
        large = make_dataset(
            clients=1, brands_per_client=1, runs_per_brand=2, trackers_per_run=100, history_per_tracker=60, prefix="L"
        )
        client = api_as(staff)
        small_count = self._cold_count(client, [b.pk for b in small.brands])
        large_count = self._cold_count(client, [b.pk for b in large.brands])
        assert small_count == large_count == 2  # page with its count, latest locations of the page

    def test_constant_for_a_scoped_user(self, db):
        small = make_dataset(clients=1, trackers_per_run=2, prefix="S")
        large = make_dataset(clients=1, trackers_per_run=40, history_per_tracker=20, prefix="L")
        small_user = make_user("s", clients=small.clients)
        large_user = make_user("l", clients=large.clients)
        counts = [queries_of(api_as(u), URL)[0] for u in (small_user, large_user)]
        assert counts == [3, 3]  # the user's client set, page with its count, latest locations

    def test_synced_trackers_need_no_history_query(self, data, staff):
        Tracker.objects.update(
            latest_history_id=1, latest_latitude=1.0, latest_longitude=2.0, latest_timestamp=F("last_report_received")
        )
        count, _ = queries_of(api_as(staff), URL)
        assert count == 1  # the page with its count

    def test_history_is_read_in_one_query_whatever_the_page_size(self, data, staff):
        with QueryCounter() as q:
            api_as(staff).get(URL, {"size": 48})
        history_queries = [x for x in q.captured_queries if "trackers_locationhistory" in x["sql"]]
        assert len(history_queries) == 1

    def test_total_is_the_filtered_scope_on_every_page(self, data):
        user = make_user("t", clients=[data.clients[0]])
        client = api_as(user)
        brand = data.brands[0]
        Tracker.objects.filter(pk=data.trackers[0].pk).update(current_status="lost")  # not every row matches
        expected = Tracker.objects.filter(
            production_run__brand__client=data.clients[0], production_run__brand=brand
        ).exclude(current_status="lost")
        statuses = sorted(set(expected.values_list("current_status", flat=True)))
        assert statuses
        for page in (1, 2):
            count, response = queries_of(client, URL, brand_ids=brand.pk, status=",".join(statuses), size=2, page=page)
            body = response.json()
            assert body["total"] == expected.count() > 2
            assert (
                ids(body)
                == list(
                    expected.order_by(F("last_report_received").desc(nulls_last=True), "id").values_list(
                        "id", flat=True
                    )
                )[(page - 1) * 2 : page * 2]
            )

    def test_the_total_is_one_scalar_subquery_not_a_window(self, data, staff):
        # A window (COUNT(*) OVER ()) joins every matching row to run and brand before LIMIT;
        # the scalar subquery lets the page stop after its rows.
        with QueryCounter() as q:
            body = api_as(staff).get(URL, {"size": 5}).json()
        (page_sql,) = [x["sql"] for x in q.captured_queries if "full_count" in x["sql"]]
        assert "OVER" not in page_sql.upper()
        assert page_sql.upper().count("COUNT(") == 1
        assert body["total"] == len(data.trackers) and len(body["items"]) == 5

    def test_page_beyond_the_last_counts_apart(self, data, staff):
        count, response = queries_of(api_as(staff), URL, page=99)
        assert count == 2  # the empty page carries no count: one COUNT apart
        assert response.json()["items"] == [] and response.json()["total"] == len(data.trackers)


class TestCaching:
    def test_second_request_runs_no_sql(self, data, staff):
        client = api_as(staff)
        first = client.get(URL, {"status": "lost"})
        with assert_queries(0):
            second = client.get(URL, {"status": "lost"})
        assert first.json() == second.json()
        assert (first["X-Cache"], second["X-Cache"]) == ("miss", "l1")

    def test_a_members_second_request_runs_no_sql(self, data):
        client = api_as(make_user("a", clients=[data.clients[0]]))
        client.get(URL)
        with assert_queries(0):
            assert client.get(URL).json()["total"] == 12

    def test_id_order_and_form_do_not_change_the_key(self, data, staff):
        a, b = data.brands[0].pk, data.brands[1].pk
        client = api_as(staff)
        client.get(URL, {"brand_ids": f"{a},{b}", "status": "lost,delivered"})
        with assert_queries(0):
            client.get(URL, {"brand_ids": f"{b},{a}", "status": "delivered,lost"})
            client.get(URL, {"brand_ids": [b, a, b], "status": ["delivered", "lost"]})

    def test_different_pages_are_different_entries(self, data, staff):
        client = api_as(staff)
        first = client.get(URL, {"size": 10}).json()
        second = client.get(URL, {"size": 10, "page": 2}).json()
        assert ids(first) != ids(second)

    @pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
    def test_tracker_write_is_reflected(self, data, staff, no_debounce):
        client = api_as(staff)
        tracker = data.trackers[0]
        client.get(URL, {"size": 500})
        tracker.current_status = TrackerStatus.LOST
        tracker.name = "Renamed tracker"
        tracker.save()
        item = next(i for i in get_all(client)["items"] if i["id"] == tracker.pk)
        assert (item["name"], item["current_status"]) == ("Renamed tracker", "lost")

    @pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
    def test_location_history_write_is_reflected(self, data, staff, no_debounce):
        client = api_as(staff)
        tracker = data.trackers[0]
        get_all(client)
        LocationHistory.objects.create(
            tracker=tracker,
            timestamp=BASE_TIME + timedelta(days=1),
            latitude=1.5,
            longitude=2.5,
            nearest_city="New",
        )
        item = next(i for i in get_all(client)["items"] if i["id"] == tracker.pk)
        assert item["latest_location"]["nearest_city"] == "New"

    @pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
    def test_a_location_ingest_is_reflected(self, data, staff, no_debounce):
        client = api_as(staff)
        tracker = data.trackers[0]
        get_all(client)
        report = {
            "serial": tracker.serial,
            "timestamp": "2026-01-05T12:00:00Z",
            "latitude": 48.1,
            "longitude": 11.6,
            "nearest_city": "Munich",
        }
        assert client.post("/api/location-reports/", {"reports": [report]}, format="json").status_code == 201
        item = next(i for i in get_all(client)["items"] if i["id"] == tracker.pk)
        assert item["latest_location"]["nearest_city"] == "Munich"

    @pytest.mark.django_db(transaction=True)
    def test_a_state_sync_is_reflected_and_then_needs_no_history_query(self, data, staff, no_debounce):
        from trackers.sync import sync_tracker_state

        client = api_as(staff)
        before = get_all(client)
        sync_tracker_state()
        count, response = queries_of(client, URL, size=500)
        assert count == 1  # the page with its count: every tracker now has its current state
        after = response.json()
        assert [i["latest_location"] for i in after["items"]] == [
            next(b for b in before["items"] if b["id"] == i["id"])["latest_location"] for i in after["items"]
        ]

    def test_explicit_invalidation_after_a_bulk_write(self, data, staff):
        """What the ingest and the sync do after update()/bulk_create(), which send no signals."""
        client = api_as(staff)
        get_all(client)
        Tracker.objects.update(current_status=TrackerStatus.DELIVERED)
        assert {i["current_status"] for i in get_all(client)["items"]} != {"delivered"}
        invalidate_now(TRACKER_LIST)
        assert {i["current_status"] for i in get_all(client)["items"]} == {"delivered"}


@pytest.mark.postgres
def test_postgresql_reads_latest_locations_with_a_lateral_join(data, staff):
    with QueryCounter() as q:
        body = api_as(staff).get(URL).json()
    lateral = [x["sql"] for x in q.captured_queries if "LATERAL" in x["sql"]]
    assert len(lateral) == 1
    assert all(item["latest_location"]["nearest_city"] == "City 2" for item in body["items"])


@pytest.mark.postgres
def test_a_cold_page_leaves_raw_writes_invalidating_cachalot(data, staff):
    # The page's compiled statement skips cachalot's raw-SQL scan while it runs (it is the ORM's
    # read); raw SQL run afterwards on the same connection is scanned again: a write to a table
    # cachalot caches invalidates its copy.
    from cachalot.api import get_last_invalidation
    from django.db import connection

    with QueryCounter() as q:
        assert api_as(staff).get(URL).status_code == 200
    assert any("full_count" in x["sql"] for x in q.captured_queries)  # the compiled page ran here
    before = get_last_invalidation("trackers_brand")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE trackers_brand SET name = name")
    assert get_last_invalidation("trackers_brand") > before


def test_schema_documents_the_parameters(staff):
    schema = api_as(staff).get(reverse("schema"), {"format": "json"}).json()
    params = {p["name"] for p in schema["paths"]["/api/trackers/"]["get"]["parameters"]}
    assert {"brand_ids", "production_run_ids", "status", "search", "include_latest_location"} <= params
    assert {"lazy_load", "page", "size"} <= params


@given(
    ids=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=8),
    statuses=st.lists(st.sampled_from(TrackerStatus.values), min_size=1, max_size=5),
    data=st.data(),
)
def test_any_order_duplicates_and_form_give_one_canonical_filter_set(ids, statuses, data):
    """Comma lists, repeated parameters, order and duplicates all canonicalise to the same key."""
    shuffled = data.draw(st.permutations(ids + ids[:2]))
    comma = QueryDict(mutable=True)
    comma["brand_ids"] = ",".join(map(str, ids))
    comma["status"] = ",".join(statuses)
    repeated = QueryDict(mutable=True)
    repeated.setlist("brand_ids", [str(i) for i in shuffled])
    repeated.setlist("status", list(reversed(statuses)))
    a, b = parse_tracker_filters(comma), parse_tracker_filters(repeated)
    assert a == b
    assert a.cache_params() == b.cache_params()
    assert list(a.brand_ids) == sorted(set(ids))


def test_remembered_filters_follow_the_page_size_settings_and_never_remember_an_error(settings):
    """parse_tracker_filters keeps valid results per query string; settings are part of the key."""
    query = QueryDict("size=300&brand_ids=2,1")
    assert parse_tracker_filters(query) == parse_tracker_filters(QueryDict("brand_ids=1&brand_ids=2&size=300"))
    assert parse_tracker_filters(query).size == 300
    settings.TRACKERS_MAX_PAGE_SIZE = 200
    for _ in range(2):  # refused each time: an error is not remembered, and the old result is not served
        with pytest.raises(ValidationError):
            parse_tracker_filters(query)
    settings.TRACKERS_PAGE_SIZE = 7
    assert parse_tracker_filters(QueryDict("brand_ids=1")).size == 7


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5))),
        None,
    ],
)
def test_the_fast_datetime_text_is_drfs(value):
    from trackers import selectors

    assert selectors.iso_formatter() is selectors._utc_iso  # the project renders UTC
    assert selectors._utc_iso(value) == selectors._iso(value)


def test_page_rows_are_the_orms_rows(data):
    from trackers.selectors import TRACKER_COLUMNS, iso_formatter, page_rows

    first, second, third = data.trackers[:3]
    Tracker.objects.filter(pk=first.pk).update(last_report_received=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    Tracker.objects.filter(pk=second.pk).update(
        last_report_received=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
    )
    Tracker.objects.filter(pk=third.pk).update(last_report_received=None)
    queryset = Tracker.objects.order_by("id").values(
        *TRACKER_COLUMNS, brand_id=F("production_run__brand_id"), full_count=Window(Count("id"))
    )
    rows = page_rows(queryset)
    assert rows == list(queryset) and len(rows) == len(data.trackers)
    iso = iso_formatter()
    texts = {row["id"]: iso(row["last_report_received"]) for row in rows}
    assert texts[first.pk] == "2026-03-01T12:00:00Z"
    assert texts[second.pk] == "2026-03-01T07:00:00.123456Z"
    assert texts[third.pk] is None
    assert page_rows(Tracker.objects.filter(pk__in=[]).values("id")) == []


@pytest.mark.postgres
def test_a_pages_statement_is_compiled_once_and_its_rows_read_every_time(data):
    from trackers import selectors

    filters = parse_tracker_filters(QueryDict("size=5"))
    member = frozenset({data.clients[0].pk})
    selectors._tracker_page_statement.cache_clear()
    first = selectors._compute_tracker_page(filters, None)
    tracker_id = first["items"][0]["id"]
    Tracker.objects.filter(pk=tracker_id).update(name="Renamed")
    again = selectors._compute_tracker_page(filters, None)
    assert selectors._tracker_page_statement.cache_info().hits == 1
    assert next(i for i in again["items"] if i["id"] == tracker_id)["name"] == "Renamed"
    scoped = selectors._compute_tracker_page(filters, set(member))  # another scope: its own statement
    assert selectors._tracker_page_statement.cache_info().misses == 2
    assert scoped["total"] == Tracker.objects.filter(production_run__brand__client__in=member).count()
    assert scoped["total"] < again["total"] == len(data.trackers)
    page_two = selectors._compute_tracker_page(parse_tracker_filters(QueryDict("size=5&page=2")), None)
    assert not {i["id"] for i in page_two["items"]} & {i["id"] for i in again["items"]}
