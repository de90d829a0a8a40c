"""GET /metrics: the project's metrics, the restriction, and gunicorn's multi-process mode."""

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from monitoring import metrics
from monitoring.tests.helpers import STAFF_TOKEN

URL = "/metrics"
ROOT = Path(__file__).resolve().parents[2]
PROJECT_METRICS = [
    "dashboard_load_seconds",
    "db_query_seconds",
    "cache_requests_total",
    "cache_hit_rate_percent",
    "cache_invalidations_total",
    "cache_invalidation_failures_total",
    "cache_tier_errors_total",
    "filter_applications_total",
    "lazy_load_triggers_total",
    "empty_state_views_total",
    "sync_duration_seconds",
    "sync_rows_total",
    "cachecore_outbox_pending",
    "cachecore_outbox_oldest_age_seconds",
    "cachecore_verified_reads_total",
    "cachecore_inconsistent_reads_total",
    "cachecore_verify_dropped_total",
    "cachecore_replica_reads_total",
    "cachecore_replica_fallbacks_total",
]

pytestmark = pytest.mark.django_db


def type_line(name):
    kind = {
        "cache_hit_rate_percent": "gauge",
        "cachecore_outbox_pending": "gauge",
        "cachecore_outbox_oldest_age_seconds": "gauge",
    }.get(name)
    if kind is None:
        kind = "histogram" if name.endswith("_seconds") else "counter"
    return f"# TYPE {name} {kind}"


class TestExport:
    def test_exposes_every_project_metric_and_django_prometheus(self, client):
        response = client.get(URL)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        text = response.content.decode()
        for name in PROJECT_METRICS:
            assert type_line(name) in text, name
        assert "django_http_requests_total_by_method_total" in text  # the middleware
        assert "django_db_execute_total" in text  # the database backend wrappers

    def test_the_outbox_gauges_are_read_at_scrape_time(self, client):
        from django.utils import timezone

        from cachecore.models import InvalidationOutbox

        InvalidationOutbox.objects.create(
            namespace="x", created_at=timezone.now() - timezone.timedelta(seconds=30), source="test"
        )
        text = client.get(URL).content.decode()
        pending = next(line for line in text.splitlines() if line.startswith("cachecore_outbox_pending"))
        age = next(line for line in text.splitlines() if line.startswith("cachecore_outbox_oldest_age_seconds"))
        assert float(pending.split()[-1]) == 1.0
        assert 30.0 <= float(age.split()[-1]) < 60.0

    def test_db_query_seconds_carries_the_statement_groups(self, client):
        client.get(URL)
        text = client.get(URL).content.decode()
        assert 'db_query_seconds_count{group="select' in text


class TestRestriction:
    def test_other_addresses_are_refused(self, client):
        response = client.get(URL, REMOTE_ADDR="10.1.2.3")
        assert response.status_code == 403
        assert "METRICS_ALLOWED_IPS" in response.content.decode()

    def test_the_token_opens_it_from_anywhere(self, client, settings):
        settings.MONITORING_TOKEN = STAFF_TOKEN
        ok = client.get(URL, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {STAFF_TOKEN}")
        assert ok.status_code == 200
        assert client.get(URL, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope").status_code == 403

    def test_networks_in_the_allow_list(self, client, settings):
        settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
        assert client.get(URL, REMOTE_ADDR="10.1.2.3").status_code == 200
        assert client.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 403

    def test_staff_sessions_are_not_enough(self, client, settings, admin_user):
        client.force_login(admin_user)
        assert client.get(URL, REMOTE_ADDR="192.0.2.1").status_code == 403


WORKER = """
import sys
from monitoring.metrics import CACHE_HIT_RATE_PERCENT, CACHE_REQUESTS_TOTAL, SYNC_ROWS_TOTAL
n = int(sys.argv[1])
SYNC_ROWS_TOTAL.inc(n)
CACHE_REQUESTS_TOTAL.labels(namespace="h6.ns", tier="l1", result="hit").inc(n)
CACHE_HIT_RATE_PERCENT.labels(namespace="h6.ns").set(10 * n)
import os
print(os.getpid())
"""


def run_worker(directory, n):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(n)], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip())


def load_gunicorn_conf():
    spec = importlib.util.spec_from_file_location("cachewarden_gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestMultiprocess:
    def test_two_workers_counters_are_both_visible(self, client, tmp_path, monkeypatch):
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        conf = load_gunicorn_conf()
        conf.on_starting(server=None)
        first, second = run_worker(tmp_path, 3), run_worker(tmp_path, 4)
        assert first != second

        text = client.get(URL).content.decode()
        assert "sync_rows_total 7.0" in text
        assert 'cache_requests_total{namespace="h6.ns",result="hit",tier="l1"} 7.0' in text
        assert 'cache_hit_rate_percent{namespace="h6.ns"} 40.0' in text  # livemax over live workers

        conf.child_exit(server=None, worker=SimpleNamespace(pid=second))
        text = client.get(URL).content.decode()
        assert 'cache_hit_rate_percent{namespace="h6.ns"} 30.0' in text  # the dead worker's gauge is gone
        assert "sync_rows_total 7.0" in text  # counters never go backwards

    def test_gunicorn_conf_clears_files_of_a_previous_run(self, tmp_path, monkeypatch):
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        run_worker(tmp_path, 1)
        assert list(tmp_path.glob("*.db"))
        load_gunicorn_conf().on_starting(server=None)
        assert list(tmp_path.glob("*.db")) == []

    def test_gunicorn_conf_uses_a_private_directory_when_unset(self, monkeypatch):
        # setenv first, so monkeypatch restores the original state after the module sets the variable.
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "placeholder")
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
        conf = load_gunicorn_conf()
        try:
            assert conf._PRIVATE_DIR
            conf.on_starting(server=None)
            assert conf.MULTIPROC_DIR.is_dir()
        finally:
            conf.on_exit(server=None)
        assert not conf.MULTIPROC_DIR.exists()


def test_metric_objects_are_defined_once_in_metrics_py():
    for name in PROJECT_METRICS:
        defined = [obj for obj in vars(metrics).values() if getattr(obj, "_name", None) == name.removesuffix("_total")]
        assert len(defined) == 1, name
