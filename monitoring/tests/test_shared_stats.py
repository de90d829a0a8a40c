"""Deployment-wide figures: every process's counters, shared through the ProcessStats table."""

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cachecore import stats as cache_stats
from cachecore.api import deployment_stats, encode_totals
from monitoring import shared_stats
from monitoring.models import ProcessStats
from monitoring.performance import PerformanceTracker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def other_process(name="host-b:42:1", *, hits=5, timings=(10.0, 20.0), age_seconds=0):
    """Store the row another process would have written."""
    timing = PerformanceTracker()
    for ms in timings:
        timing.record("shared.op", ms)
    now = datetime.now(UTC) - timedelta(seconds=age_seconds)
    counters = {("req", "shared.ns", "l1", "hit"): hits, ("req", "shared.ns", "miss", "miss"): 1}
    return ProcessStats.objects.create(
        process=name,
        host=name.split(":")[0],
        pid=42,
        started_at=now - timedelta(minutes=5),
        updated_at=now,
        cache=encode_totals(counters),
        performance=timing.to_snapshot(windows=False),
    )


def test_deployment_stats_sum_this_process_and_the_stored_ones(fresh_tracker):
    cache_stats.record_request("shared.ns", "l1", "hit")
    other_process(hits=5)

    found = deployment_stats()

    assert found["namespaces"]["shared.ns"]["hits"] == 6
    assert found["namespaces"]["shared.ns"]["misses"] == 1
    assert found["deployment"]["processes"] == 2
    assert found["deployment"]["source"] == "shared store"


def test_rows_past_the_maximum_age_are_left_out_and_deleted_on_publish(settings):
    settings.MONITORING_SHARED_STATS_MAX_AGE = 60
    other_process("old:1:1", hits=100, age_seconds=120)
    assert deployment_stats()["deployment"]["processes"] == 1

    assert shared_stats.publish()

    assert list(ProcessStats.objects.values_list("process", flat=True)) == [shared_stats.PROCESS_ID]


def test_publish_if_due_writes_at_most_once_per_interval(settings, monkeypatch):
    settings.MONITORING_SHARED_STATS_SECONDS = 10
    now = [1_000_000.0]
    monkeypatch.setattr(shared_stats.Clock, "now", staticmethod(lambda: now[0]))
    monkeypatch.setitem(shared_stats._state, "last", 0.0)

    shared_stats.publish_if_due()
    first = ProcessStats.objects.get().updated_at
    now[0] += 5
    shared_stats.publish_if_due()
    assert ProcessStats.objects.get().updated_at == first
    now[0] += 6
    shared_stats.publish_if_due()
    assert ProcessStats.objects.get().updated_at > first


def test_perf_report_and_health_report_the_deployment(client, django_user_model, fresh_tracker):
    fresh_tracker.record("shared.op", 30.0)
    other_process(timings=(10.0, 20.0))

    out = StringIO()
    call_command("perf_report", "--kind", "operation", stdout=out)
    assert "2 process(es)" in out.getvalue()
    row = next(line for line in out.getvalue().splitlines() if line.startswith("shared.op"))
    assert row.split()[2] == "3"  # the count column: 2 stored samples + 1 of this process

    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    body = client.get("/api/health").json()
    assert body["deployment"]["processes"] == 2
    assert body["performance"]["operations"]["totalQueries"] == 3
    assert body["cache"]["namespaces"]["shared.ns"]["hits"] == 5


WORKER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from cachecore import stats
    from monitoring import shared_stats
    from monitoring.performance import tracker
    for _ in range(int(sys.argv[1])):
        stats.record_request("two.ns", "l1", "hit")
    tracker.record("two.op", float(sys.argv[2]))
    assert shared_stats.publish()
    """
)


@pytest.mark.slow
def test_cache_stats_and_perf_report_sum_two_real_processes(tmp_path):
    (tmp_path / "two_process_settings.py").write_text(
        "from config.test_settings import *  # noqa\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(tmp_path / 'db')!r}}}}}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "two_process_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }

    def run(*args):
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("manage.py", "migrate", "--noinput", "-v0")
    run("-c", WORKER, "3", "10")
    run("-c", WORKER, "4", "30")

    cache = json.loads(run("manage.py", "cache_stats", "--json"))
    perf = json.loads(run("manage.py", "perf_report", "--json", "--kind", "operation"))

    assert cache["namespaces"]["two.ns"]["hits"] == 7
    assert cache["deployment"]["processes"] == 3  # two workers and the command itself
    assert perf["operations"]["totalQueries"] == 2
    assert {row["name"] for row in perf["topSlowest"]} >= {"two.op"}
