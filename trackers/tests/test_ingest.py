"""POST /api/location-reports/: validation per row, all-or-nothing writes, auth, scope, limits, cache."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.parsers import TOO_DEEP
from tests.factories import BASE_TIME, make_dataset, make_user
from tests.helpers import QueryCounter
from trackers import ingest
from trackers import invalidation as trackers_invalidation
from trackers.ingest_views import ROLE_REQUIRED
from trackers.models import ClientMembership, LocationHistory, Tracker, TrackerStatus
from trackers.tests.read_helpers import api_as

pytestmark = pytest.mark.django_db
URL = "/api/location-reports/"


@pytest.fixture
def data(db):
    # Two clients, one brand and run each, two trackers per run, history at BASE_TIME + 0 h and 1 h.
    return make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=2)


def report(tracker, hours: float = 5, **overrides) -> dict:
    body = {
        "serial": tracker.serial,
        "timestamp": (BASE_TIME + timedelta(hours=hours)).isoformat(),
        "latitude": 52.5,
        "longitude": 13.4,
        "nearest_city": "Berlin",
        "confidence": 0.8,
    }
    body.update(overrides)
    return body


def post(client, reports):
    return client.post(URL, {"reports": reports}, format="json")


class TestGoodBatch:
    def test_stores_every_report_and_counts(self, data, staff):
        a, b = data.trackers[0], data.trackers[1]
        response = post(api_as(staff), [report(a, 5), report(a, 6), report(b, 5, confidence=None)])
        assert response.status_code == 201, response.json()
        assert response.json() == {"received": 3, "created": 3, "trackers": 2, "state_updated": 2}
        assert LocationHistory.objects.filter(tracker=a).count() == 4
        assert LocationHistory.objects.get(tracker=b, timestamp=BASE_TIME + timedelta(hours=5)).confidence is None

    def test_updates_the_current_state_to_the_newest_report(self, data, staff):
        tracker = data.trackers[0]
        post(api_as(staff), [report(tracker, 6, nearest_city="Newest"), report(tracker, 5, nearest_city="Older")])
        tracker.refresh_from_db()
        assert tracker.latest_nearest_city == "Newest"
        assert tracker.latest_timestamp == BASE_TIME + timedelta(hours=6)
        assert tracker.last_report_received >= BASE_TIME + timedelta(hours=6)
        newest = LocationHistory.objects.get(tracker=tracker, timestamp=tracker.latest_timestamp)
        assert tracker.latest_history_id == newest.pk

    def test_an_older_report_is_stored_but_never_regresses_the_state(self, data, staff):
        tracker = data.trackers[0]
        post(api_as(staff), [report(tracker, 10, nearest_city="Newer")])
        response = post(api_as(staff), [report(tracker, 3, nearest_city="Late")])
        assert response.json()["state_updated"] == 0
        tracker.refresh_from_db()
        assert tracker.latest_nearest_city == "Newer"
        assert LocationHistory.objects.filter(tracker=tracker, nearest_city="Late").exists()

    def test_a_recent_report_revives_a_lost_tracker(self, data, staff):
        tracker = data.trackers[0]
        Tracker.objects.filter(pk=tracker.pk).update(current_status=TrackerStatus.LOST)
        now = timezone.now().replace(microsecond=0)
        post(api_as(staff), [report(tracker, timestamp=now.isoformat())])
        tracker.refresh_from_db()
        assert tracker.current_status == TrackerStatus.IN_TRANSIT

    def test_a_bare_list_is_accepted_and_naive_times_are_utc(self, data, staff):
        tracker = data.trackers[0]
        response = api_as(staff).post(URL, [report(tracker, timestamp="2026-01-02 03:04:05")], format="json")
        assert response.status_code == 201, response.json()
        assert LocationHistory.objects.filter(tracker=tracker, timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    def test_numeric_strings_and_offsets_are_accepted(self, data, staff):
        tracker = data.trackers[0]
        row = report(tracker, latitude="-33.9", longitude="151.2", timestamp="2026-01-02T05:00:00+02:00")
        assert post(api_as(staff), [row]).status_code == 201
        assert LocationHistory.objects.filter(tracker=tracker, timestamp=datetime(2026, 1, 2, 3, tzinfo=UTC)).exists()

    def test_serial_lookups_are_chunked(self, data, staff, monkeypatch):
        monkeypatch.setattr(ingest, "_SERIAL_CHUNK", 1)
        rows = [report(t, 5) for t in data.trackers[:3]]
        assert post(api_as(staff), rows).json()["created"] == 3

    def test_query_count_does_not_grow_with_the_batch(self, data, staff):
        client = api_as(staff)
        counts = []
        for start, size in ((10, 2), (20, 40)):
            rows = [report(data.trackers[i % 4], start + i) for i in range(size)]
            with QueryCounter() as q:
                assert post(client, rows).status_code == 201
            counts.append(len(q))
        assert counts[0] == counts[1], counts


class TestValidation:
    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"latitude": 90.01}, "latitude", ingest.OUT_OF_RANGE.format(low=-90, high=90)),
            ({"latitude": -91}, "latitude", ingest.OUT_OF_RANGE.format(low=-90, high=90)),
            ({"longitude": 180.5}, "longitude", ingest.OUT_OF_RANGE.format(low=-180, high=180)),
            ({"latitude": "north"}, "latitude", ingest.NUMBER_INVALID),
            ({"latitude": True}, "latitude", ingest.NUMBER_INVALID),
            ({"longitude": "nan"}, "longitude", ingest.NUMBER_INVALID),
            ({"longitude": None}, "longitude", ingest.REQUIRED),
            ({"confidence": 1.01}, "confidence", ingest.OUT_OF_RANGE.format(low=0, high=1)),
            ({"confidence": -0.1}, "confidence", ingest.OUT_OF_RANGE.format(low=0, high=1)),
            ({"timestamp": "yesterday"}, "timestamp", ingest.TIMESTAMP_INVALID),
            ({"timestamp": "2026-13-01T00:00:00Z"}, "timestamp", ingest.TIMESTAMP_INVALID),
            ({"timestamp": 1767225600}, "timestamp", ingest.TIMESTAMP_INVALID),
            ({"serial": ""}, "serial", ingest.REQUIRED),
            ({"serial": 123}, "serial", ingest.SERIAL_INVALID),
            ({"serial": "NOPE-1"}, "serial", ingest.UNKNOWN_SERIAL),
            ({"nearest_city": "x" * 101}, "nearest_city", ingest.CITY_INVALID),
            # Beyond a float's range: float() raises OverflowError, not ValueError.
            ({"latitude": 2**1100}, "latitude", ingest.NUMBER_INVALID),
            ({"confidence": -(2**1100)}, "confidence", ingest.NUMBER_INVALID),
            ({"longitude": 2**64}, "longitude", ingest.OUT_OF_RANGE.format(low=-180, high=180)),
            # PostgreSQL rejects NUL in text; neither backend can store an unpaired surrogate.
            ({"nearest_city": "Ber\x00lin"}, "nearest_city", ingest.TEXT_UNSTORABLE),
            # A valid local time that falls before datetime.min in UTC (astimezone overflows).
            ({"timestamp": "0001-01-01T00:00:00+05:00"}, "timestamp", ingest.TIMESTAMP_OUT_OF_RANGE),
        ],
    )
    def test_each_rule_names_the_field(self, data, staff, overrides, field, message):
        response = post(api_as(staff), [report(data.trackers[0], 5, **overrides)])
        assert response.status_code == 400
        assert response.json()["errors"][0]["errors"] == {field: message}

    @pytest.mark.parametrize("serial", ["TRK\x00", "\ud800", "TRK-\udfff"])
    def test_an_unstorable_serial_is_400_and_not_echoed(self, data, staff, serial):
        # Raw JSON: the test client's encoder cannot write a lone surrogate, a device's can.
        body = json.dumps({"reports": [report(data.trackers[0], serial=serial)]})
        response = api_as(staff).post(URL, body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["errors"] == [{"index": 0, "serial": None, "errors": {"serial": ingest.TEXT_UNSTORABLE}}]

    def test_an_unstorable_city_is_400(self, data, staff):
        body = json.dumps({"reports": [report(data.trackers[0], nearest_city="Ber\udc80lin")]})
        response = api_as(staff).post(URL, body, content_type="application/json")
        assert response.json()["errors"][0]["errors"] == {"nearest_city": ingest.TEXT_UNSTORABLE}

    def test_a_missing_field_is_required(self, data, staff):
        row = report(data.trackers[0])
        del row["latitude"]
        assert post(api_as(staff), [row]).json()["errors"][0]["errors"] == {"latitude": ingest.REQUIRED}

    def test_a_report_that_is_not_an_object(self, data, staff):
        body = post(api_as(staff), [report(data.trackers[0]), "oops"]).json()
        assert body["errors"] == [{"index": 1, "serial": None, "errors": {"report": ingest.NOT_AN_OBJECT}}]

    def test_future_timestamps_beyond_the_tolerance(self, data, staff, settings):
        settings.TRACKERS_INGEST_FUTURE_TOLERANCE_SECONDS = 60
        soon = timezone.now() + timedelta(seconds=30)
        late = timezone.now() + timedelta(seconds=600)
        tracker = data.trackers[0]
        rejected = post(api_as(staff), [report(tracker, timestamp=late.isoformat())])
        assert rejected.json()["errors"][0]["errors"] == {"timestamp": ingest.TIMESTAMP_FUTURE.format(seconds=60)}
        assert post(api_as(staff), [report(tracker, timestamp=soon.isoformat())]).status_code == 201

    def test_duplicates_of_existing_history_and_inside_the_batch(self, data, staff):
        tracker = data.trackers[0]
        same_instant = (BASE_TIME + timedelta(hours=7)).astimezone(timezone.get_fixed_timezone(120)).isoformat()
        rows = [
            report(tracker, 1),  # BASE+1h already exists (factory history)
            report(tracker, 7),
            report(tracker, timestamp=same_instant),  # BASE+7h written with another offset
            report(data.trackers[1], 7),  # same time, other tracker: fine
        ]
        body = post(api_as(staff), rows).json()
        assert body["errors"] == [
            {"index": 0, "serial": tracker.serial, "errors": {"timestamp": ingest.DUPLICATE_EXISTING}},
            {
                "index": 2,
                "serial": tracker.serial,
                "errors": {"timestamp": ingest.DUPLICATE_IN_BATCH.format(where="index", index=1)},
            },
        ]


class TestAllOrNothing:
    def test_a_mixed_batch_is_rejected_whole_with_every_row_error(self, data, staff):
        before = LocationHistory.objects.count()
        rows = [
            report(data.trackers[0], 5),
            report(data.trackers[1], 5, latitude=123),
            report(data.trackers[2], 5),
            report(data.trackers[3], 5, serial="UNKNOWN", confidence=7),
        ]
        response = post(api_as(staff), rows)
        assert response.status_code == 400
        body = response.json()
        assert body["detail"] == (
            "reports: 2 of 4 reports are invalid; nothing was written. "
            "First: reports.1.latitude: must be between -90 and 90."
        )
        assert [(e["index"], sorted(e["errors"])) for e in body["errors"]] == [(1, ["latitude"]), (3, ["confidence"])]
        assert LocationHistory.objects.count() == before
        assert not Tracker.objects.filter(latest_history_id__isnull=False).exists()


class TestAuth:
    def test_anonymous_is_refused(self, data):
        response = post(APIClient(), [report(data.trackers[0])])
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert LocationHistory.objects.count() == 8

    def test_a_token_authenticates_an_integration(self, data):
        device = make_user("device", clients=[data.clients[0]], role=ClientMembership.Role.OPERATOR)
        token = Token.objects.create(user=device)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert post(client, [report(data.trackers[0])]).status_code == 201

    def test_a_wrong_token_is_refused(self, data):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
        assert post(client, [report(data.trackers[0])]).status_code == 401

    def test_a_staff_session_works(self, data, staff):
        client = APIClient(enforce_csrf_checks=False)
        client.force_login(staff)
        assert post(client, [report(data.trackers[3])]).status_code == 201

    def test_get_is_not_allowed(self, data, staff):
        assert api_as(staff).get(URL).status_code == 405


class TestScope:
    def test_another_clients_tracker_looks_exactly_like_an_unknown_serial(self, data):
        member_of_a = make_user("alice", clients=[data.clients[0]], role=ClientMembership.Role.OPERATOR)
        theirs = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[1].pk)
        ours = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[0].pk)
        client = api_as(member_of_a)
        foreign = post(client, [report(theirs, 5)])
        missing = post(client, [report(theirs, 5, serial="DOES-NOT-EXIST")])
        assert foreign.status_code == missing.status_code == 400
        assert foreign.json()["errors"][0]["errors"] == missing.json()["errors"][0]["errors"]
        assert foreign.json()["errors"][0]["errors"] == {"serial": ingest.UNKNOWN_SERIAL}
        assert post(client, [report(ours, 5)]).status_code == 201
        assert not LocationHistory.objects.filter(tracker=theirs, timestamp=BASE_TIME + timedelta(hours=5)).exists()

    def test_a_user_without_clients_can_ingest_nothing(self, data):
        nobody = make_user("nobody")
        response = post(api_as(nobody), [report(data.trackers[0])])
        assert response.status_code == 403
        assert response.json()["detail"] == ROLE_REQUIRED

    def test_a_viewer_reads_but_may_not_post_reports(self, data):
        viewer = make_user("viewer", clients=[data.clients[0]])
        ours = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[0].pk)
        response = post(api_as(viewer), [report(ours, 5)])
        assert response.status_code == 403
        assert "operator or admin role" in response.json()["detail"]
        assert not LocationHistory.objects.filter(tracker=ours, timestamp=BASE_TIME + timedelta(hours=5)).exists()

    def test_an_operator_of_one_client_and_viewer_of_another_writes_only_for_the_first(self, data):
        user = make_user("mixed", clients=[data.clients[0]], role=ClientMembership.Role.OPERATOR)
        ClientMembership.objects.create(user=user, client=data.clients[1], role=ClientMembership.Role.VIEWER)
        theirs = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[1].pk)
        ours = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[0].pk)
        client = api_as(user)
        rejected = post(client, [report(theirs, 5)])
        assert rejected.status_code == 400
        assert rejected.json()["errors"][0]["errors"] == {"serial": ingest.UNKNOWN_SERIAL}
        assert post(client, [report(ours, 5)]).status_code == 201


class TestLimits:
    def test_more_than_the_maximum_is_413_naming_the_setting(self, data, staff, settings):
        settings.TRACKERS_INGEST_MAX_BATCH = 3
        response = post(api_as(staff), [report(data.trackers[0], h) for h in range(10, 14)])
        assert response.status_code == 413
        assert response.json()["detail"].startswith("reports:")
        assert "TRACKERS_INGEST_MAX_BATCH" in response.json()["detail"]
        assert post(api_as(staff), [report(data.trackers[0], h) for h in range(10, 13)]).status_code == 201

    @pytest.mark.parametrize(
        "body", [{"reports": []}, {}, {"reports": "x"}, "just a string", {"report": []}, 5, None, True]
    )
    def test_a_missing_or_empty_list_is_400_naming_reports(self, data, staff, body):
        response = api_as(staff).post(URL, json.dumps(body), content_type="application/json")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("reports: ")

    @pytest.mark.parametrize(
        ("reports", "path"),
        [("[null]", "reports.0: "), ('[{"serial": "x"}, 1e999]', "reports.1: ")],
    )
    def test_an_item_the_envelope_rejects_is_named_by_its_index(self, data, staff, reports, path):
        # 1e999 parses as infinity, which is not JSON; the detail names the item, not a repr.
        body = '{"reports": ' + reports + "}"
        response = api_as(staff).post(URL, body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["detail"].startswith(path)
        assert "ErrorDetail" not in response.json()["detail"]

    def test_json_nested_too_deeply_is_400(self, data, staff):
        before = LocationHistory.objects.count()
        body = "[" * 100_000 + "]" * 100_000
        response = api_as(staff).post(URL, body, content_type="application/json")
        assert (response.status_code, response.json()["detail"]) == (400, TOO_DEEP)
        assert LocationHistory.objects.count() == before

    def test_a_form_post_is_415(self, data, staff):
        assert api_as(staff).post(URL, {"reports": "x"}).status_code == 415

    def test_malformed_json_is_400(self, data, staff):
        response = api_as(staff).post(URL, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("body: JSON parse error")


@pytest.mark.django_db(transaction=True)  # invalidation runs at a real commit
class TestCache:
    def test_the_next_tracker_list_and_stats_reflect_an_ingest(self, data, staff, no_debounce):
        tracker = data.trackers[0]
        Tracker.objects.filter(pk=tracker.pk).update(current_status=TrackerStatus.LOST)
        client = api_as(staff)
        before = client.get("/api/trackers/", {"size": 100}).json()
        stats_before = client.get("/api/trackers/stats/").json()
        assert next(i for i in before["items"] if i["id"] == tracker.pk)["latest_location"]["nearest_city"] == "City 1"

        now = timezone.now().replace(microsecond=0)
        assert post(client, [report(tracker, timestamp=now.isoformat(), nearest_city="Fresh")]).status_code == 201

        after = client.get("/api/trackers/", {"size": 100}).json()
        item = next(i for i in after["items"] if i["id"] == tracker.pk)
        assert item["latest_location"]["nearest_city"] == "Fresh"
        assert item["current_status"] == TrackerStatus.IN_TRANSIT
        stats_after = client.get("/api/trackers/stats/").json()
        assert stats_after["by_status"]["lost"] == stats_before["by_status"]["lost"] - 1

    def test_a_rejected_batch_invalidates_nothing(self, data, staff, no_debounce, monkeypatch):
        calls = []
        monkeypatch.setattr(trackers_invalidation, "invalidate", lambda name, **kw: calls.append(name))
        post(api_as(staff), [report(data.trackers[0], latitude=100)])
        assert calls == []
        post(api_as(staff), [report(data.trackers[0])])
        assert sorted(calls) == ["trackers.detail", "trackers.list", "trackers.stats"]


@pytest.mark.slow
@pytest.mark.django_db(False)
def test_concurrent_ingests_on_the_embedded_default_never_answer_500(tmp_path):
    # Four threads posting at once to a SQLite file: a deferred transaction that read first used
    # to fail at once with "database is locked" when another one was writing, and the failed
    # bulk_create then surfaced as a TransactionManagementError, answered 500. Now transactions
    # take the write lock when they begin (BEGIN IMMEDIATE) and queue.
    script = Path(__file__).with_name("concurrent_ingest.py")
    env = {**os.environ, "PROMETHEUS_MIDDLEWARE": "0"}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "db.sqlite3"), "4", "8"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}, done.stderr[-3000:]
    assert set(found["status"]) <= {"201", "400", "429"}, found  # 400: a report repeated (same instant)
    assert found["status"].get("201", 0) >= 16, found
