"""Seed 003's scripts (scripts/*.sh) against a gunicorn started here: exit codes, never a shell error."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live_server import LiveServer
from tests.services import need_binary

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
TOKEN = "script-test-token-0123456789"  # noqa: S105 - a test's own token
SHELL_ERRORS = ("integer expression expected", "unary operator expected", "command not found", "syntax error")

pytestmark = pytest.mark.slow
SLOW = {"MONITORING_EXCELLENT_MS": "0.0001", "MONITORING_SLOW_MS": "0.0001", "MONITORING_CRITICAL_MS": "0.0001"}


def run_script(name: str, server: LiveServer | None, **env: str) -> subprocess.CompletedProcess:
    """Run one script with HEALTH_URL/MONITORING_TOKEN pointing at ``server``; assert no shell error."""
    base = {k: v for k, v in os.environ.items() if k not in ("HEALTH_URL", "MONITORING_TOKEN")}
    if server is not None:
        base.update(HEALTH_URL=f"{server.url}/api/health", MONITORING_TOKEN=TOKEN)
    done = subprocess.run(
        ["bash", str(SCRIPTS / name)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )
    output = done.stdout + done.stderr
    assert not any(error in output for error in SHELL_ERRORS), output
    return done


def get(server: LiveServer, path: str, token: str | None = None):
    return server.get_json(path, f"Token {token}" if token else None)


@pytest.fixture(scope="module")
def tools():
    need_binary("curl")
    need_binary("jq")
    assert shutil.which("gunicorn") or Path(os.sys.executable).with_name("gunicorn").exists()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tools):
    live = LiveServer(tmp_path_factory.mktemp("live"), MONITORING_TOKEN=TOKEN).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory, tools):
    """A server on which every statement counts as slow (bounds of a microsecond)."""
    live = LiveServer(tmp_path_factory.mktemp("slow"), MONITORING_TOKEN=TOKEN, **SLOW).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def api_token(server) -> str:
    """A staff user of the server and its DRF token (to make cache traffic)."""
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        "u = get_user_model().objects.create_user('ops', password='pw-ops-12345', is_staff=True); "
        f"Token.objects.create(user=u, key='{'a' * 40}')",
    )
    return "a" * 40


class TestHealthCheck:
    def test_a_healthy_server_exits_0(self, server):
        done = run_script("health-check.sh", server)
        assert done.returncode == 0, done.stdout
        assert "Health check passed" in done.stdout

    def test_an_unreachable_server_exits_1(self, tools):
        done = run_script("health-check.sh", None, HEALTH_URL="http://127.0.0.1:9/api/health")
        assert done.returncode == 1
        assert "HEALTH CHECK FAILED" in done.stdout


class TestPerformanceAlert:
    def test_no_slow_queries_exits_0(self, server):
        done = run_script("performance-alert.sh", server)
        assert done.returncode == 0, done.stdout
        assert "No slow queries" in done.stdout

    def test_slow_queries_present_exit_1(self, slow_server):
        get(slow_server, "/api/health")  # its probes are statements, all slow on this server
        done = run_script("performance-alert.sh", slow_server)
        assert done.returncode == 1, done.stdout
        assert "Slow queries detected" in done.stdout

    def test_without_the_token_the_section_is_missing_exit_2(self, server):
        done = run_script("performance-alert.sh", server, MONITORING_TOKEN="")
        assert done.returncode == 2, done.stdout
        assert "MONITORING_TOKEN" in done.stdout

    def test_a_wrong_token_exits_2(self, server):
        assert run_script("performance-alert.sh", server, MONITORING_TOKEN="wrong").returncode == 2


class TestCacheAlert:
    def test_hit_rate_under_the_threshold_exits_1_then_over_it_exits_0(self, server, api_token):
        get(server, "/api/brands/", api_token)  # cold: every lookup misses
        low = run_script("cache-alert.sh", server)
        assert low.returncode == 1, low.stdout
        assert "Low cache hit rate" in low.stdout
        for _ in range(30):
            get(server, "/api/brands/", api_token)  # warm: L1 hits
        good = run_script("cache-alert.sh", server)
        assert good.returncode == 0, good.stdout
        assert "Cache hit rate good" in good.stdout
        assert run_script("cache-alert.sh", server, CACHE_HIT_RATE_MIN="99.9").returncode == 1

    def test_a_bad_threshold_exits_2(self, server):
        done = run_script("cache-alert.sh", server, CACHE_HIT_RATE_MIN="seventy")
        assert done.returncode == 2
        assert "CACHE_HIT_RATE_MIN" in done.stdout

    def test_without_the_token_exits_2(self, server):
        assert run_script("cache-alert.sh", server, MONITORING_TOKEN="").returncode == 2

    def test_the_health_report_has_seed_003s_cache_fields(self, server):
        cache = server.get_json("/api/health", f"Bearer {TOKEN}")["cache"]
        assert {"total", "valid", "expired", "ttl", "hitRate", "trackersStatsCache"} <= set(cache)
