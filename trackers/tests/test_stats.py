"""GET /api/trackers/stats/: counts by status, brand and run; stale trackers; cached per scope."""

from datetime import timedelta

import pytest

from tests.factories import BASE_TIME, STATUSES, make_dataset, make_user
from trackers.models import TrackerStatus
from trackers.namespaces import TRACKER_STATS
from trackers.tests.read_helpers import api_as, assert_bad_param, assert_queries, queries_of
from trackers.views import TrackerStatsApi

pytestmark = pytest.mark.django_db
URL = "/api/trackers/stats/"


@pytest.fixture
def data(db):
    return make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=6, history_per_tracker=0)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the view's clock one day after the newest report of the dataset."""
    now = {"value": BASE_TIME + timedelta(hours=47 + 24)}
    monkeypatch.setattr(TrackerStatsApi, "clock", staticmethod(lambda: now["value"]))
    return now


def expected_status_counts(trackers) -> dict:
    counts = dict.fromkeys(STATUSES, 0)
    for tracker in trackers:
        counts[tracker.current_status] += 1
    return counts


class TestCounts:
    def test_by_status_brand_and_run(self, data, staff, clock):
        body = api_as(staff).get(URL).json()
        assert body["total"] == 48
        assert body["by_status"] == expected_status_counts(data.trackers)
        assert {b["brand_id"]: b["count"] for b in body["by_brand"]} == {b.pk: 12 for b in data.brands}
        assert {r["production_run_id"]: r["count"] for r in body["by_production_run"]} == {r.pk: 6 for r in data.runs}
        brand = data.brands[0]
        row = next(b for b in body["by_brand"] if b["brand_id"] == brand.pk)
        assert (row["brand_name"], row["client_id"]) == (brand.name, brand.client_id)
        run = next(r for r in body["by_production_run"] if r["production_run_id"] == data.runs[0].pk)
        assert (run["production_run_name"], run["brand_id"]) == (data.runs[0].name, data.runs[0].brand_id)

    def test_every_status_is_listed_even_at_zero(self, db, staff, clock):
        body = api_as(staff).get(URL).json()
        assert body["by_status"] == dict.fromkeys(TrackerStatus.values, 0)
        assert (body["total"], body["by_brand"], body["by_production_run"]) == (0, [], [])

    def test_no_report_in_24h_uses_the_injected_clock(self, data, staff, clock):
        # Trackers n (n % 4 != 0) last reported at BASE + n h; n % 4 == 0 never reported (12 of 48).
        # At BASE + 71 h, reports older than BASE + 47 h are stale: n in 1..46 with n % 4 != 0 -> 35.
        body = api_as(staff).get(URL).json()
        assert body["no_report_24h"] == 12 + 35
        assert body["stale_after_hours"] == 24
        assert body["computed_at"] == "2026-01-03T23:00:00Z"

    def test_staleness_window_follows_the_setting(self, data, staff, clock, settings):
        settings.TRACKERS_STALE_AFTER_HOURS = 1000
        assert api_as(staff).get(URL).json()["no_report_24h"] == 12


class TestQueries:
    def test_one_query_cold_and_none_warm(self, data, staff, clock):
        client = api_as(staff)
        assert queries_of(client, URL)[0] == 1
        with assert_queries(0):
            response = client.get(URL)
        assert response["X-Cache"] == "l1"

    def test_constant_for_a_dataset_twenty_times_larger(self, db, clock):
        small = make_dataset(clients=1, trackers_per_run=2, prefix="S")
        large = make_dataset(clients=1, trackers_per_run=40, prefix="L")
        counts = [
            queries_of(api_as(make_user(f"u{i}", clients=ds.clients)), URL)[0] for i, ds in enumerate((small, large))
        ]
        assert counts == [2, 2]  # the user's client set, the grouped counts


class TestFilters:
    def test_the_counts_follow_the_brand_run_and_search_filters(self, data, staff, clock):
        brand = data.brands[0]
        in_brand = [t for t in data.trackers if t.production_run.brand_id == brand.pk]
        body = api_as(staff).get(URL, {"brand_ids": str(brand.pk)}).json()
        assert body["total"] == len(in_brand) == 12
        assert body["by_status"] == expected_status_counts(in_brand)
        assert [b["brand_id"] for b in body["by_brand"]] == [brand.pk]

        two_runs = f"{data.runs[0].pk},{data.runs[3].pk}"
        assert api_as(staff).get(URL, {"production_run_ids": two_runs}).json()["total"] == 12
        target = data.trackers[5]
        assert api_as(staff).get(URL, {"search": target.serial}).json()["total"] == 1

    def test_a_filter_cannot_reach_outside_the_scope(self, data, clock):
        foreign = next(b for b in data.brands if b.client_id == data.clients[1].pk)
        user = make_user("a", clients=[data.clients[0]])
        assert api_as(user).get(URL, {"brand_ids": str(foreign.pk)}).json()["total"] == 0

    def test_filtered_counts_are_one_query_and_cached_per_filter_set(self, data, staff, clock):
        client = api_as(staff)
        ids = f"{data.brands[0].pk},{data.brands[1].pk}"
        assert queries_of(client, URL, brand_ids=ids)[0] == 1
        reordered = f"{data.brands[1].pk},{data.brands[0].pk}"
        assert queries_of(client, URL, brand_ids=reordered)[0] == 0  # same key, any order


class TestScopeAndCache:
    def test_a_member_counts_only_their_clients(self, data, clock):
        mine = data.clients[0]
        body = api_as(make_user("a", clients=[mine])).get(URL).json()
        assert body["total"] == 24
        assert {b["client_id"] for b in body["by_brand"]} == {mine.pk}

    def test_no_membership_counts_nothing_without_sql_for_trackers(self, data, clock):
        user = make_user("nobody")
        count, response = queries_of(api_as(user), URL)
        assert response.json()["total"] == 0
        assert count == 1  # only the (empty) client set

    @pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
    def test_tracker_write_is_reflected(self, data, staff, clock, no_debounce):
        client = api_as(staff)
        before = client.get(URL).json()["by_status"]["lost"]
        tracker = next(t for t in data.trackers if t.current_status != TrackerStatus.LOST)
        tracker.current_status = TrackerStatus.LOST
        tracker.save()
        assert client.get(URL).json()["by_status"]["lost"] == before + 1

    @pytest.mark.django_db(transaction=True)
    def test_a_state_sync_recomputes_them(self, db, staff, clock, no_debounce):
        from trackers.sync import sync_tracker_state

        make_dataset(clients=1, trackers_per_run=2, history_per_tracker=2)
        client = api_as(staff)
        client.get(URL)
        assert queries_of(client, URL)[0] == 0
        assert sync_tracker_state().rows
        count, response = queries_of(client, URL)
        assert count == 1
        assert response.json()["total"] == 8

    def test_declared_with_the_ttl_setting(self):
        """The TTL bounds staleness when no event arrives (update() sends no signal)."""
        from cachecore.api import get_namespace

        ns = get_namespace(TRACKER_STATS)
        assert ns.l1_ttl == ns.l2_ttl == 300


class TestInput:
    def test_unknown_parameter_is_rejected(self, data, staff):
        # status is not a filter here: the statistics count by status.
        assert_bad_param(api_as(staff).get(URL, {"status": "lost"}), "status")

    def test_a_malformed_brand_id_names_the_parameter(self, data, staff):
        assert_bad_param(api_as(staff).get(URL, {"brand_ids": "x"}), "brand_ids")

    def test_anonymous_is_refused(self, data):
        assert api_as(None).get(URL).status_code in (401, 403)

    def test_load_time_is_recorded(self, data, staff, clock):
        from prometheus_client import REGISTRY

        def loads():
            return REGISTRY.get_sample_value("dashboard_load_seconds_count", {"endpoint": "tracker_stats"}) or 0

        before = loads()
        api_as(staff).get(URL)
        assert loads() == before + 1
