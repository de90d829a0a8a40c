"""GET /api/trackers/{id}/: one tracker with its trail; scoped (404 outside), cached per tracker."""

from datetime import timedelta

import pytest

from tests.factories import make_dataset, make_user
from trackers.models import LocationHistory
from trackers.selectors import TRAIL_LENGTH
from trackers.tests.read_helpers import api_as, assert_bad_param, queries_of

pytestmark = pytest.mark.django_db


def url(tracker_id) -> str:
    return f"/api/trackers/{tracker_id}/"


@pytest.fixture
def data(db):
    return make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=3)


def own_tracker(data):
    return next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[0].pk)


def foreign_tracker(data):
    return next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[1].pk)


class TestGoodInput:
    def test_a_member_gets_the_tracker_with_its_trail_newest_first(self, data):
        tracker = own_tracker(data)
        body = api_as(make_user("ann", clients=[data.clients[0]])).get(url(tracker.pk)).json()

        assert body["id"] == tracker.pk and body["serial"] == tracker.serial
        assert body["brand_name"] == tracker.production_run.brand.name
        assert body["production_run_name"] == tracker.production_run.name
        assert len(body["trail"]) == 3
        stamps = [point["timestamp"] for point in body["trail"]]
        assert stamps == sorted(stamps, reverse=True)
        assert body["latest_location"]["timestamp"] == stamps[0]  # unsynced: the newest report

    def test_the_trail_is_bounded_and_the_query_count_does_not_grow_with_history(self, data, staff):
        short, long = own_tracker(data), foreign_tracker(data)
        newest = long.history.order_by("-timestamp").first().timestamp
        LocationHistory.objects.bulk_create(
            LocationHistory(tracker=long, timestamp=newest + timedelta(minutes=i), latitude=50, longitude=8)
            for i in range(1, 60)
        )
        assert queries_of(api_as(staff), url(short.pk))[0] == 2
        count, response = queries_of(api_as(staff), url(long.pk))
        assert count == 2
        assert len(response.json()["trail"]) == TRAIL_LENGTH

    def test_a_second_read_is_served_from_the_cache(self, data, staff):
        tracker = own_tracker(data)
        api_as(staff).get(url(tracker.pk))
        count, response = queries_of(api_as(staff), url(tracker.pk))
        assert count == 0 and response["X-Cache"] == "l1"


class TestScope:
    def test_outside_the_callers_scope_is_a_404_even_when_cached(self, data, staff):
        tracker = foreign_tracker(data)
        assert api_as(staff).get(url(tracker.pk)).status_code == 200  # now cached
        response = api_as(make_user("ann", clients=[data.clients[0]])).get(url(tracker.pk))
        assert response.status_code == 404
        assert response.json()["detail"].startswith("tracker_id:")
        assert tracker.serial not in response.content.decode()

    def test_no_such_tracker_is_a_404(self, data, staff):
        assert api_as(staff).get(url(999_999)).status_code == 404

    def test_anonymous_is_refused(self, data):
        assert api_as(None).get(url(own_tracker(data).pk)).status_code in (401, 403)


class TestBadInput:
    @pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999999999999"])
    def test_a_malformed_id_names_the_parameter(self, data, staff, bad):
        assert_bad_param(api_as(staff).get(url(bad)), "tracker_id")

    def test_an_unknown_query_parameter_is_refused(self, data, staff):
        assert_bad_param(api_as(staff).get(url(own_tracker(data).pk), {"x": "1"}), "x")


@pytest.mark.django_db(transaction=True)  # invalidations run at a real commit
class TestInvalidation:
    def test_a_write_to_the_tracker_refreshes_its_detail_only(self, data, staff, no_debounce):
        tracker, other = own_tracker(data), foreign_tracker(data)
        client = api_as(staff)
        client.get(url(tracker.pk))
        client.get(url(other.pk))

        tracker.name = "Renamed"
        tracker.save()

        assert client.get(url(tracker.pk)).json()["name"] == "Renamed"
        assert queries_of(client, url(other.pk))[0] == 0  # another tracker's entry stays

    def test_a_new_report_appears_in_the_trail(self, data, staff, no_debounce):
        tracker = own_tracker(data)
        client = api_as(staff)
        before = client.get(url(tracker.pk)).json()["trail"]
        newest = tracker.history.order_by("-timestamp").first().timestamp
        LocationHistory.objects.create(
            tracker=tracker, timestamp=newest + timedelta(hours=1), latitude=51.5, longitude=9.5, nearest_city="X"
        )
        after = client.get(url(tracker.pk)).json()["trail"]
        assert len(after) == len(before) + 1 and after[0]["nearest_city"] == "X"
