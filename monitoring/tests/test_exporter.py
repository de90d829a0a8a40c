"""Metrics of long-running commands, workers' CPU and memory, and alerting counters at zero."""

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import override_settings

from cachecore.api import all_namespaces, long_running_started
from monitoring import exporter, process_metrics
from monitoring.cache_observer import KNOWN_TIERS
from tests.live_server import ROOT, LiveServer
from tests.services import free_port

pytestmark = pytest.mark.django_db


def scrape(port: int, timeout: float = 20.0) -> str:
    """Return the text of http://127.0.0.1:port/metrics, waiting for the server to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:  # noqa: S310
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def sample(text: str, name: str, labels: str = "") -> float | None:
    """Return the value of one sample line ``name{labels} value`` of an exposition, or None."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


class TestCommandExporter:
    def test_off_unless_a_port_is_configured(self):
        assert exporter.serve_metrics("anything") is None

    @pytest.mark.slow
    def test_sync_tracker_state_watch_serves_its_own_metrics(self, tmp_path):
        """The real command in its own process: sync durations, CPU, memory, zero counters, on METRICS_PORT."""
        live = LiveServer(tmp_path)
        live.manage("migrate", "--noinput", "-v0")
        port = free_port()
        env = {**live.env, "METRICS_PORT": str(port), "MONITORING_MEMORY_LIMIT_BYTES": str(2**30)}
        env.pop("PROMETHEUS_MULTIPROC_DIR")  # a command outside gunicorn: the ordinary registry
        command = [sys.executable, "manage.py", "sync_tracker_state", "--watch", "--interval", "0.2"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            text = scrape(port)
            while (sample(text, "sync_duration_seconds_count") or 0) < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
                text = scrape(port)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err.decode()[-2000:]
        assert f"Serving metrics on port {port}" in out.decode()
        assert sample(text, "sync_duration_seconds_count") >= 1
        assert sample(text, "cachewarden_command_info", 'command="sync_tracker_state"') == 1
        assert sample(text, "process_cpu_seconds_total") > 0
        assert sample(text, "process_resident_memory_bytes") > 0
        assert sample(text, "process_memory_limit_bytes") == 2**30
        assert sample(text, "cache_tier_errors_total", 'tier="l2"') == 0
        assert sample(text, "cache_invalidation_failures_total", 'namespace="trackers.stats"') == 0


class TestCachecoreHook:
    def test_a_cachecore_command_reaches_the_exporter_through_the_setting(self, settings):
        assert settings.CACHECORE_LONG_RUNNING_HOOK == "monitoring.exporter.serve_metrics"
        assert long_running_started("cache_relay") is None  # METRICS_PORT unset: nothing served

    def test_the_hook_receives_the_role(self, settings):
        settings.CACHECORE_LONG_RUNNING_HOOK = "monitoring.tests.test_exporter.remember_role"
        assert long_running_started("cache_relay") == "started cache_relay"

    def test_no_hook_configured_does_nothing(self, settings):
        settings.CACHECORE_LONG_RUNNING_HOOK = ""
        assert long_running_started("cache_relay") is None

    def test_cache_relay_calls_the_hook_once_at_start(self, settings):
        from io import StringIO

        from django.core.management import call_command

        settings.CACHECORE_LONG_RUNNING_HOOK = "monitoring.tests.test_exporter.remember_role"
        STARTED.clear()
        call_command("cache_relay", "--max-seconds", "0.2", stdout=StringIO())
        assert STARTED == ["cache_relay"]


STARTED: list[str] = []


def remember_role(role: str) -> str:
    STARTED.append(role)
    return f"started {role}"


class TestZeroCounters:
    def test_alerting_counters_exist_at_zero_before_any_failure(self, client):
        text = client.get("/metrics").content.decode()
        for ns in all_namespaces():
            assert sample(text, "cache_invalidation_failures_total", f'namespace="{ns.name}"') is not None, ns.name
        for tier in KNOWN_TIERS:
            assert sample(text, "cache_tier_errors_total", f'tier="{tier}"') is not None, tier


class TestProcessMetrics:
    def test_the_configured_limit_wins(self, tmp_path):
        cgroup = tmp_path / "memory.max"
        cgroup.write_text("4096\n")
        assert process_metrics.memory_limit_bytes(1000, cgroup) == 1000
        assert process_metrics.memory_limit_bytes(0, cgroup) == 4096

    @pytest.mark.parametrize("content", ["max\n", None])
    def test_no_limit_known(self, tmp_path, content):
        cgroup = tmp_path / "memory.max"
        if content is not None:
            cgroup.write_text(content)
        assert process_metrics.memory_limit_bytes(0, cgroup) is None

    @pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the process collector reads /proc (Linux)")
    def test_reads_cpu_and_memory_of_this_process(self):
        figures = process_metrics.read_process()
        assert figures["process_cpu_seconds_total"] > 0
        assert figures["process_resident_memory_bytes"] > 1_000_000

    @override_settings(MONITORING_MEMORY_LIMIT_BYTES=123456)
    def test_the_limit_is_exported(self, client):
        process_metrics.publish_limit()
        assert sample(client.get("/metrics").content.decode(), "process_memory_limit_bytes") == 123456

    @pytest.mark.slow
    @pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the process collector reads /proc (Linux)")
    def test_every_gunicorn_worker_exports_its_cpu_and_memory(self, tmp_path):
        """Multi-process mode has no process_* collector: each worker's gauges, one series per pid."""
        live = LiveServer(tmp_path, WEB_CONCURRENCY="2", MONITORING_PROCESS_METRICS_SECONDS="0.2").start()

        def series(text, name):
            return [line for line in text.splitlines() if line.startswith(name + "{")]

        try:
            deadline = time.monotonic() + 20  # until both workers booted (post_worker_init starts each)
            text = scrape(live.port)
            while len(series(text, "process_resident_memory_bytes")) < 2 and time.monotonic() < deadline:
                time.sleep(0.3)
                text = scrape(live.port)
            time.sleep(0.5)  # one more refresh of both
            text = scrape(live.port)
        finally:
            live.stop()
        cpu = series(text, "process_cpu_seconds_total")
        memory = series(text, "process_resident_memory_bytes")
        assert cpu and memory, text[:2000]
        assert all('pid="' in line for line in cpu + memory)
        assert all(float(line.rsplit(" ", 1)[1]) > 0 for line in memory)  # no worker left at 0
        assert len({line.split('pid="')[1].split('"')[0] for line in memory}) == 2  # both workers
