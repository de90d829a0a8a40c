"""The state sync service: incremental watermark, ordering, crash safety, memory, gaps, lock, cache."""

import gc
import threading
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from prometheus_client import REGISTRY

from monitoring.query_timing import flush as flush_query_timings
from tests.factories import BASE_TIME, make_dataset
from tests.helpers import QueryCounter
from trackers import invalidation as trackers_invalidation
from trackers import sync
from trackers.models import LocationHistory, SyncWatermark, Tracker, TrackerStatus
from trackers.sync import SyncAlreadyRunning, sync_lock, sync_tracker_state
from trackers.tests.read_helpers import api_as

pytestmark = pytest.mark.django_db


def clock_at(when):
    return lambda: when


NOW = BASE_TIME + timedelta(hours=10)  # one hour after the newest factory report (BASE + 9 h max)


@pytest.fixture
def data(db):
    # 8 trackers with 3 reports each at BASE + 0, 1, 2 h.
    return make_dataset(clients=2, brands_per_client=1, runs_per_brand=2, trackers_per_run=2, history_per_tracker=3)


def add(tracker, hours: float, city: str = "Added") -> LocationHistory:
    return LocationHistory.objects.create(
        tracker=tracker, timestamp=BASE_TIME + timedelta(hours=hours), latitude=1.0, longitude=2.0, nearest_city=city
    )


def newest_city(tracker) -> str:
    return Tracker.objects.get(pk=tracker.pk).latest_nearest_city


def watermark() -> int:
    return SyncWatermark.objects.get(name=sync.WATERMARK_NAME).last_history_id


def max_history_id() -> int:
    return LocationHistory.objects.order_by("-pk").values_list("pk", flat=True).first()


class TestIncremental:
    def test_first_run_applies_the_newest_report_of_every_tracker(self, data):
        result = sync_tracker_state(batch_size=5, clock=clock_at(NOW))
        assert (result.rows, result.trackers, result.batches) == (24, 8, 5)
        assert watermark() == max_history_id() == result.watermark_to
        for tracker in Tracker.objects.all():
            newest = LocationHistory.objects.filter(tracker=tracker).order_by("-timestamp").first()
            assert (tracker.latest_timestamp, tracker.latest_history_id) == (newest.timestamp, newest.pk)
            assert (tracker.latest_latitude, tracker.latest_nearest_city) == (newest.latitude, "City 2")
            assert tracker.last_report_received >= newest.timestamp

    def test_a_later_run_reads_only_rows_added_since(self, data):
        sync_tracker_state(batch_size=100, clock=clock_at(NOW))
        add(data.trackers[0], 5, "Later")
        add(data.trackers[1], 6, "Later")
        result = sync_tracker_state(batch_size=100, clock=clock_at(NOW))
        assert (result.rows, result.trackers) == (2, 2)
        assert newest_city(data.trackers[0]) == newest_city(data.trackers[1]) == "Later"
        assert newest_city(data.trackers[2]) == "City 2"

    def test_a_run_with_nothing_new_is_one_query(self, data):
        sync_tracker_state(clock=clock_at(NOW))
        with QueryCounter() as q:
            result = sync_tracker_state(clock=clock_at(NOW))
        assert len(q) == 1, q.sql  # on PostgreSQL the lock is tried in that same statement
        assert result.summary().startswith("no changes")
        assert not result.changed

    def test_the_watermark_row_records_the_last_run(self, data):
        sync_tracker_state(batch_size=10, clock=clock_at(NOW))
        mark = SyncWatermark.objects.get(name=sync.WATERMARK_NAME)
        assert (mark.last_run_rows, mark.last_run_trackers) == (24, 8)
        assert mark.last_run_seconds > 0

    def test_metrics_count_rows_and_runs(self, data):
        rows_before = REGISTRY.get_sample_value("sync_rows_total") or 0
        runs_before = REGISTRY.get_sample_value("sync_duration_seconds_count") or 0
        sync_tracker_state(clock=clock_at(NOW))
        sync_tracker_state(clock=clock_at(NOW))
        assert REGISTRY.get_sample_value("sync_rows_total") - rows_before == 24
        assert REGISTRY.get_sample_value("sync_duration_seconds_count") - runs_before == 2


class TestOrdering:
    def test_an_older_report_arriving_later_never_overwrites_a_newer_one(self, data):
        tracker = data.trackers[0]
        add(tracker, 8, "Newest")
        sync_tracker_state(clock=clock_at(NOW))
        late = add(tracker, 4, "Late")  # higher id, older timestamp
        result = sync_tracker_state(clock=clock_at(NOW))
        assert (result.rows, result.trackers) == (1, 0)
        assert newest_city(tracker) == "Newest"
        assert watermark() == late.pk

    def test_inside_one_batch_the_newest_timestamp_wins_not_the_highest_id(self, data):
        tracker = data.trackers[0]
        add(tracker, 8, "Newest")
        add(tracker, 6, "Older but inserted last")
        sync_tracker_state(batch_size=1000, clock=clock_at(NOW))
        assert newest_city(tracker) == "Newest"


class TestDerivedStatus:
    def test_no_report_for_too_long_turns_transit_lost_and_storage_inactive(self, data, settings):
        settings.TRACKERS_LOST_AFTER_HOURS = 48
        by_status = {}
        for tracker, status in zip(data.trackers, TrackerStatus.values, strict=False):
            Tracker.objects.filter(pk=tracker.pk).update(current_status=status)
            by_status[status] = tracker
        much_later = BASE_TIME + timedelta(days=5)
        result = sync_tracker_state(clock=clock_at(much_later))
        statuses = {s: Tracker.objects.get(pk=t.pk).current_status for s, t in by_status.items()}
        assert statuses == {
            "in_storage": "inactive",
            "in_transit": "lost",
            "delivered": "delivered",
            "lost": "lost",
            "inactive": "inactive",
        }
        assert result.stale_marked >= 2

    def test_a_fresh_report_revives_lost_and_inactive(self, data, settings):
        settings.TRACKERS_LOST_AFTER_HOURS = 48
        lost, inactive, delivered = data.trackers[:3]
        for tracker, status in ((lost, "lost"), (inactive, "inactive"), (delivered, "delivered")):
            Tracker.objects.filter(pk=tracker.pk).update(current_status=status)
        sync_tracker_state(clock=clock_at(BASE_TIME + timedelta(days=5)))  # nothing fresh: statuses kept
        assert Tracker.objects.get(pk=lost.pk).current_status == "lost"
        for tracker in (lost, inactive, delivered):
            add(tracker, 24 * 5 - 1)
        sync_tracker_state(clock=clock_at(BASE_TIME + timedelta(days=5)))
        assert [Tracker.objects.get(pk=t.pk).current_status for t in (lost, inactive, delivered)] == [
            "in_transit",
            "in_transit",
            "delivered",
        ]


class TestCrashSafety:
    def test_a_crash_mid_batch_resumes_with_nothing_skipped(self, data, monkeypatch):
        real = sync._advance_watermark
        calls = {"n": 0}

        def crash_on_the_second_batch(name, value):
            calls["n"] += 1
            real(name, value)
            if calls["n"] == 2:  # after the state updates and the watermark write, before commit
                raise RuntimeError("simulated crash")

        monkeypatch.setattr(sync, "_advance_watermark", crash_on_the_second_batch)
        with pytest.raises(RuntimeError):
            sync_tracker_state(batch_size=6, clock=clock_at(NOW))
        ids = list(LocationHistory.objects.order_by("pk").values_list("pk", flat=True))
        # The first batch is committed with its watermark; the second rolled back as a whole.
        assert watermark() == ids[5]
        applied = set(
            Tracker.objects.filter(latest_history_id__isnull=False).values_list("latest_history_id", flat=True)
        )
        assert applied and max(applied) <= ids[5]

        monkeypatch.setattr(sync, "_advance_watermark", real)
        result = sync_tracker_state(batch_size=6, clock=clock_at(NOW))
        assert result.rows == len(ids) - 6
        assert watermark() == ids[-1]
        for tracker in Tracker.objects.all():
            newest = LocationHistory.objects.filter(tracker=tracker).order_by("-timestamp").first()
            assert tracker.latest_history_id == newest.pk

    def test_a_stop_request_finishes_the_batch_and_leaves_the_rest_for_later(self, data):
        batches = []
        result = sync_tracker_state(
            batch_size=5, clock=clock_at(NOW), should_stop=lambda: len(batches) >= 2, progress=batches.append
        )
        assert (result.batches, result.rows, result.complete) == (2, 10, False)
        assert watermark() == LocationHistory.objects.order_by("pk").values_list("pk", flat=True)[9]
        assert sync_tracker_state(batch_size=5, clock=clock_at(NOW)).rows == 14


# django_prometheus builds a cursor class per cursor; Python keeps a bounded cache of such classes'
# attributes. That is the library's, bounded, and not what this test is about.
NOT_OURS = [tracemalloc.Filter(False, "*/django_prometheus/*", all_frames=True)]


@pytest.mark.django_db(transaction=True)  # real transactions per batch, as in production (no savepoints)
class TestMemory:
    def test_live_memory_stays_flat_from_batch_to_batch(self, db):
        make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=20, history_per_tracker=0)
        LocationHistory.objects.bulk_create(
            LocationHistory(tracker_id=t, timestamp=BASE_TIME + timedelta(hours=h), latitude=1, longitude=1)
            for t in Tracker.objects.values_list("pk", flat=True)
            for h in range(160)
        )
        snapshots = {}

        def measure(result):
            if result.batches in (5, 64):
                flush_query_timings()  # monitoring queues up to 256 statements (bounded, not ours)
                gc.collect()  # live memory, not garbage waiting for the collector
                snapshots[result.batches] = tracemalloc.take_snapshot().filter_traces(NOT_OURS)

        tracemalloc.start(25)
        try:
            result = sync_tracker_state(batch_size=50, clock=clock_at(NOW), progress=measure)
        finally:
            tracemalloc.stop()
        assert (result.batches, result.rows) == (64, 3200)
        growth = sum(stat.size_diff for stat in snapshots[64].compare_to(snapshots[5], "filename"))
        # 59 batches (2,950 rows) later. Keeping the rows read (a Report with a datetime, two floats
        # and a string: about 250 bytes each) would add ~700 KiB; what remains is a few bytes per
        # query of interpreter caches keyed by those per-cursor classes, bounded and not per row.
        assert growth < 64 * 1024, snapshots[64].compare_to(snapshots[5], "traceback")[:3]


class TestLock:
    def test_a_second_sync_in_another_thread_is_refused(self, data):
        entered, release = threading.Event(), threading.Event()
        refused = []

        def holder():
            with sync_lock():
                entered.set()
                release.wait(5)

        if connection.vendor == "postgresql":
            pytest.skip("the PostgreSQL variant is tested with a second connection below")
        thread = threading.Thread(target=holder)
        thread.start()
        entered.wait(5)
        try:
            with pytest.raises(SyncAlreadyRunning):
                sync_tracker_state(clock=clock_at(NOW))
            refused.append(True)
        finally:
            release.set()
            thread.join()
        assert refused
        assert sync_tracker_state(clock=clock_at(NOW)).rows == 24

    @pytest.mark.postgres
    def test_postgres_advisory_lock_refuses_a_second_sync(self, data):
        import psycopg

        other = psycopg.connect(**_raw_connection_kwargs(), autocommit=True)
        try:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", [sync.ADVISORY_LOCK_KEY]).fetchone()[0]
            with pytest.raises(SyncAlreadyRunning):
                sync_tracker_state(clock=clock_at(NOW))
            assert not Tracker.objects.filter(latest_history_id__isnull=False).exists()
            other.execute("SELECT pg_advisory_unlock(%s)", [sync.ADVISORY_LOCK_KEY])
        finally:
            other.close()
        assert sync_tracker_state(clock=clock_at(NOW)).rows == 24

    @pytest.mark.postgres
    def test_an_idle_run_is_refused_too_while_another_sync_holds_the_lock(self, data):
        import psycopg

        sync_tracker_state(clock=clock_at(NOW))  # the watermark row exists: the idle path is taken
        other = psycopg.connect(**_raw_connection_kwargs(), autocommit=True)
        try:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", [sync.ADVISORY_LOCK_KEY]).fetchone()[0]
            with pytest.raises(SyncAlreadyRunning):
                sync_tracker_state(clock=clock_at(NOW))
            other.execute("SELECT pg_advisory_unlock(%s)", [sync.ADVISORY_LOCK_KEY])
        finally:
            other.close()
        assert sync_tracker_state(clock=clock_at(NOW)).summary().startswith("no changes")

    @pytest.mark.postgres
    def test_the_lock_is_released_after_a_run_and_after_a_crash(self, data, monkeypatch):
        def boom(*args, **kwargs):
            raise RuntimeError("crash")

        monkeypatch.setattr(sync, "apply_batch", boom)
        with pytest.raises(RuntimeError):
            sync_tracker_state(clock=clock_at(NOW))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            assert cursor.fetchone()[0] == 0


def _raw_connection_kwargs() -> dict:
    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"], "dbname": db["NAME"]}


def _insert_uncommitted(writer, tracker, hours: float, city: str) -> int:
    """Insert a history row in ``writer``'s open transaction (another connection); return its id."""
    return writer.execute(
        "INSERT INTO trackers_locationhistory (tracker_id, timestamp, latitude, longitude, nearest_city,"
        " confidence, created_at) VALUES (%s, %s, 1, 1, %s, NULL, now()) RETURNING id",
        [tracker.pk, BASE_TIME + timedelta(hours=hours), city],
    ).fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestIdGapsOnPostgres:
    """A row with a lower id that commits after a higher one must not be skipped."""

    def test_the_watermark_waits_below_an_uncommitted_insert(self, data):
        import psycopg

        sync_tracker_state(clock=clock_at(NOW))
        slow, fast = data.trackers[0], data.trackers[1]
        writer = psycopg.connect(**_raw_connection_kwargs())  # a transaction left open
        try:
            _insert_uncommitted(writer, slow, 7, "Slow")
            before = watermark()
            fast_row = add(fast, 7, "Fast")  # a higher id, committed first
            result = sync_tracker_state(clock=clock_at(NOW))
            assert result.held_at_gap
            assert watermark() == before  # not past the open insert's id
            assert newest_city(fast) == "Fast"  # rows above the gap are still applied
            writer.commit()
        finally:
            writer.close()
        result = sync_tracker_state(clock=clock_at(NOW))
        assert newest_city(slow) == "Slow"
        assert watermark() == fast_row.pk
        assert not result.held_at_gap

    def test_a_rolled_back_insert_leaves_a_gap_that_is_passed(self, data):
        import psycopg

        sync_tracker_state(clock=clock_at(NOW))
        with psycopg.connect(**_raw_connection_kwargs()) as writer:
            _insert_uncommitted(writer, data.trackers[0], 7, "Gone")
            writer.rollback()
        row = add(data.trackers[1], 7)
        result = sync_tracker_state(clock=clock_at(NOW))
        assert not result.held_at_gap
        assert watermark() == row.pk

    def test_a_gap_inside_a_range_holds_the_watermark_below_it_until_it_commits(self, data):
        import psycopg

        sync_tracker_state(clock=clock_at(NOW))
        slow, fast = data.trackers[0], data.trackers[1]
        add(fast, 6, "Below")  # committed, below the gap
        writer = psycopg.connect(**_raw_connection_kwargs())
        try:
            gap_id = _insert_uncommitted(writer, slow, 7, "Slow")
            above = add(fast, 7, "Above")  # committed, above the gap
            result = sync_tracker_state(clock=clock_at(NOW))
            assert result.held_at_gap
            assert watermark() < gap_id  # never past the open insert (set-based: the range start)
            assert newest_city(fast) == "Above"
            writer.commit()
        finally:
            writer.close()
        result = sync_tracker_state(clock=clock_at(NOW))
        assert newest_city(slow) == "Slow"
        assert watermark() == above.pk
        assert not result.held_at_gap


@pytest.mark.postgres
class TestSetBasedOnPostgres:
    """The set-based statement: work in the database, not in Python, and no rewrite of unchanged rows."""

    def test_the_queries_of_a_run_do_not_grow_with_the_rows(self, data):
        sync_tracker_state(clock=clock_at(NOW))
        add(data.trackers[0], 5)
        with QueryCounter() as few:
            assert sync_tracker_state(clock=clock_at(NOW)).rows == 1
        for tracker in data.trackers:
            for hour in range(10, 40):
                add(tracker, hour)
        with QueryCounter() as many:
            result = sync_tracker_state(clock=clock_at(NOW))
        assert (result.rows, result.trackers, result.batches) == (240, 8, 1)
        assert len(many) == len(few), many.sql

    def test_a_tracker_whose_state_does_not_change_is_not_rewritten(self, data):
        sync_tracker_state(clock=clock_at(NOW))
        moved, late, untouched = data.trackers[:3]
        versions = dict(Tracker.objects.extra(select={"v": "xmin::text"}).values_list("pk", "v"))
        add(moved, 8, "Moved")
        add(late, -5, "Late")  # older than its state: stored in the history, not applied
        result = sync_tracker_state(clock=clock_at(NOW))
        assert (result.rows, result.trackers) == (2, 1)
        after = dict(Tracker.objects.extra(select={"v": "xmin::text"}).values_list("pk", "v"))
        assert after[moved.pk] != versions[moved.pk]
        assert after[late.pk] == versions[late.pk]
        assert after[untouched.pk] == versions[untouched.pk]
        assert newest_city(late) == "City 2"


class TestCursor:
    def test_contiguous_ids_move_the_watermark(self):
        cursor = sync._Cursor(watermark=10, position=10)
        cursor.advance([11, 12, 13])
        assert (cursor.watermark, cursor.position, cursor.seen_above) == (13, 13, 0)

    def test_a_gap_keeps_the_watermark_below_it_until_settled(self):
        cursor = sync._Cursor(watermark=10, position=10)
        cursor.advance([11, 13, 14])
        assert (cursor.watermark, cursor.position, cursor.seen_above) == (11, 14, 2)
        cursor.advance([15])
        assert (cursor.watermark, cursor.seen_above) == (11, 3)

    def test_on_sqlite_gaps_are_final(self, db):
        if connection.vendor != "sqlite":
            pytest.skip("SQLite only")
        cursor = sync._Cursor(watermark=10, position=10)
        cursor.advance([12, 20])
        cursor.settle()
        assert (cursor.watermark, cursor.held) == (20, False)


@pytest.mark.django_db(transaction=True)  # invalidation runs at a real commit
class TestCacheInvalidation:
    def test_the_next_tracker_list_and_stats_reflect_a_sync(self, data, staff, no_debounce, settings):
        settings.TRACKERS_LOST_AFTER_HOURS = 10_000_000  # the factory's 2026 reports stay fresh
        client = api_as(staff)
        tracker = data.trackers[0]
        Tracker.objects.filter(pk=tracker.pk).update(current_status=TrackerStatus.LOST)
        sync_tracker_state()
        first = client.get("/api/trackers/", {"size": 100}).json()
        stats = client.get("/api/trackers/stats/").json()
        # Plain querysets (as another service's writes would be): no signal, no outbox row of the
        # ORM's, so only the sync's invalidation can refresh the cached pages (on PostgreSQL the
        # triggers' rows wait for a relay, and tests run no relay thread).
        QuerySet(LocationHistory).bulk_create(
            [LocationHistory(tracker=tracker, timestamp=BASE_TIME + timedelta(hours=30), latitude=3, longitude=4)]
        )
        QuerySet(Tracker).filter(pk=tracker.pk).update(current_status=TrackerStatus.LOST)
        assert client.get("/api/trackers/", {"size": 100}).json() == first
        result = sync_tracker_state()
        assert result.changed
        item = next(i for i in client.get("/api/trackers/", {"size": 100}).json()["items"] if i["id"] == tracker.pk)
        assert item["latest_location"]["latitude"] == 3
        assert item["current_status"] == "in_transit"
        assert client.get("/api/trackers/stats/").json()["by_status"]["lost"] == stats["by_status"]["lost"]

    def test_a_run_without_changes_invalidates_nothing(self, data, monkeypatch):
        sync_tracker_state(clock=clock_at(NOW))
        calls = []
        monkeypatch.setattr(trackers_invalidation, "invalidate", lambda name, **kw: calls.append(name))
        sync_tracker_state(clock=clock_at(NOW))
        assert calls == []
        add(data.trackers[0], 9)
        sync_tracker_state(clock=clock_at(NOW))
        assert sorted(calls) == ["trackers.detail", "trackers.list", "trackers.stats"]
