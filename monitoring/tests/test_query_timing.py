"""The execute wrapper: installed on every connection, records fingerprints and the histogram."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections
from django.test import override_settings
from prometheus_client import REGISTRY

from monitoring import query_timing
from monitoring.performance import SQL
from monitoring.query_timing import install_wrapper, timed_execute


def user_query_names(tracker):
    return [n for n in tracker.names() if 'FROM "auth_user"' in n]


def histogram_count(group):
    return REGISTRY.get_sample_value("db_query_seconds_count", {"group": group}) or 0.0


pytestmark = pytest.mark.django_db


def test_wrapper_is_installed_on_the_test_connection():
    connection.ensure_connection()
    assert connection.execute_wrappers.count(timed_execute) == 1


def test_orm_queries_are_grouped_by_fingerprint(fresh_tracker, own_metric_groups):
    User = get_user_model()
    before = histogram_count("select auth_user")
    list(User.objects.filter(id__in=[1, 2, 3]))
    list(User.objects.filter(id__in=[7]))
    list(User.objects.filter(id__in=list(range(50))))
    (name,) = user_query_names(fresh_tracker)
    assert "IN (?)" in name
    stats = fresh_tracker.stats_for(name)
    assert (stats["count"], stats["kind"]) == (3, SQL)
    assert histogram_count("select auth_user") == before + 3


def test_failed_statements_are_timed_too(fresh_tracker):
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM monitoring_no_such_table WHERE id = 1")
    assert fresh_tracker.stats_for("SELECT * FROM monitoring_no_such_table WHERE id = ?")["count"] == 1


def test_switched_off_by_setting(fresh_tracker):
    User = get_user_model()
    with override_settings(MONITORING_QUERY_TIMING=False):
        list(User.objects.all())
        assert user_query_names(fresh_tracker) == []
    list(User.objects.all())
    assert len(user_query_names(fresh_tracker)) == 1


@pytest.mark.django_db(transaction=True)
def test_connections_of_other_threads_are_covered(fresh_tracker):
    User = get_user_model()
    seen = {}

    def in_thread():
        list(User.objects.filter(username="x"))
        seen["wrappers"] = list(connections["default"].execute_wrappers)
        connections.close_all()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen["wrappers"].count(timed_execute) == 1
    assert len(user_query_names(fresh_tracker)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pooled_reconnects_keep_one_wrapper(fresh_tracker):
    User = get_user_model()
    for _ in range(3):
        list(User.objects.all())
        connection.close()  # back to the pool; the next query takes a connection again
    assert connection.execute_wrappers.count(timed_execute) == 1
    assert fresh_tracker.stats_for(user_query_names(fresh_tracker)[0])["count"] == 3


class FakeConnection:
    def __init__(self, wrappers):
        self.execute_wrappers = list(wrappers)


def test_installed_first_so_a_later_execute_wrapper_block_pops_its_own():
    def other(execute, sql, params, many, context):
        return execute(sql, params, many, context)

    conn = FakeConnection([other])
    install_wrapper(connection=conn)
    install_wrapper(connection=conn)
    assert conn.execute_wrappers == [timed_execute, other]
    conn.execute_wrappers.pop()  # what `with connection.execute_wrapper(other)` does on exit
    assert conn.execute_wrappers == [timed_execute]


@pytest.fixture
def own_metric_groups(monkeypatch):
    """Give the test an empty label budget (a long run may have used the process's), then restore it."""
    monkeypatch.setattr(query_timing, "_children", {})
    query_timing._classify.cache_clear()
    yield
    query_timing._classify.cache_clear()


def test_metric_groups_are_capped(settings, own_metric_groups):
    settings.MONITORING_MAX_METRIC_GROUPS = 2
    for i in range(5):
        query_timing.record_statement(f'SELECT 1 FROM "capped_table_{i}"', 0.001)
    assert set(query_timing._children) == {"select capped_table_0", "select capped_table_1", "other"}
    assert histogram_count("other") >= 3


def test_a_recording_failure_never_breaks_the_statement(monkeypatch, caplog):
    def broken(sql, seconds):
        raise RuntimeError("metrics backend broke")

    monkeypatch.setattr(query_timing, "record_statement", broken)
    monkeypatch.setattr(query_timing, "_failure_logged", False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT 2")
    query_timing.flush()
    assert [r.message for r in caplog.records if r.name == "monitoring"] == [
        "monitoring could not record a SQL statement; further failures are not logged"
    ]


class TestQueue:
    def test_statements_wait_in_the_queue_until_a_read(self, fresh_tracker):
        query_timing.flush()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 11")
            cursor.execute("SELECT 12")
        assert len(query_timing._pending) == 2
        assert fresh_tracker.stats_for("SELECT ?")["count"] == 2  # the read applied them
        assert len(query_timing._pending) == 0

    def test_a_full_queue_is_applied_by_the_statement_that_fills_it(self, fresh_tracker, monkeypatch):
        monkeypatch.setattr(query_timing, "FLUSH_AT", 3)
        query_timing.flush()
        with connection.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT 1")
        assert len(query_timing._pending) == 0

    def test_the_end_of_a_request_applies_timings_older_than_flush_seconds(self, client, monkeypatch):
        query_timing.flush()
        client.get("/api/health")
        assert len(query_timing._pending) > 0  # fresh timings wait to be applied in a batch
        monkeypatch.setattr(query_timing, "FLUSH_SECONDS", 0.0)
        client.get("/api/health")
        assert len(query_timing._pending) == 0

    def test_metrics_include_queued_statements(self, client, own_metric_groups):
        before = histogram_count("select")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 5")
        text = client.get("/metrics").content.decode()
        line = next(line for line in text.splitlines() if line.startswith('db_query_seconds_count{group="select"}'))
        assert float(line.split()[-1]) >= before + 1
