"""GET /api/health: public vs staff vs token views, dependencies, 503, throttling, no literals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

from cachecore.api import flush_pending
from monitoring import dependencies, health
from monitoring.tests.helpers import STAFF_TOKEN, PrivateRedisServer
from monitoring.throttling import HealthThrottle
from monitoring.views import INVALID_TOKEN_MESSAGE
from tests.factories import make_user

URL = "/api/health"
PUBLIC_KEYS = {"status", "timestamp", "uptime"}
DETAIL_KEYS = PUBLIC_KEYS | {"performance", "cache", "consistency", "dependencies", "deployment"}
PERFORMANCE_KEYS = {
    "totalQueries",
    "totalTime",
    "avgTime",
    "p50",
    "p95",
    "p99",
    "slowQueries",
    "criticalQueries",
    "rating",
    "topSlowest",
    "regressions",
}
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.MONITORING_TOKEN = STAFF_TOKEN
    return STAFF_TOKEN


def bearer(value):
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


class TestViews:
    def test_anyone_gets_status_timestamp_and_uptime_only(self, client):
        response = client.get(URL)
        assert response.status_code == 200
        assert set(response.json()) == PUBLIC_KEYS
        assert response.json()["status"] == "ok"
        assert response["Cache-Control"] == "no-store"

    def test_a_non_staff_user_gets_the_public_view(self, client):
        client.force_login(make_user("plain"))
        assert set(client.get(URL).json()) == PUBLIC_KEYS

    def test_staff_get_performance_cache_and_dependencies(self, client):
        client.force_login(make_user("ops", staff=True))
        # The login's user and session writes recorded invalidations (accounts/) that a real
        # request applies at its commit; the test transaction never commits, so apply them here.
        flush_pending()
        body = client.get(URL).json()
        assert set(body) == DETAIL_KEYS
        assert set(body["performance"]) >= PERFORMANCE_KEYS
        assert body["performance"]["totalQueries"] >= 1  # at least the session and SELECT 1 probes
        assert body["dependencies"]["database"]["status"] == "ok"
        assert body["dependencies"]["database"]["latencyMs"] >= 0
        assert body["cache"]["available"] is True
        assert set(body["cache"]) >= {"hitRate", "namespaces", "tiers", "l1", "breakers", "invalidations"}
        assert set(body["cache"]["l1"]) == {"entries", "expired", "bytes", "maxEntries", "maxBytes"}
        outbox = body["cache"]["outbox"]
        assert (outbox["pending"], outbox["oldestAgeSeconds"]) == (0, 0.0)
        assert {"running", "passes", "lastPassAgeSeconds"} <= set(outbox["relay"])
        assert {"enabled", "connected", "lastSeq", "drops"} <= set(outbox["coherence"])

    def test_the_token_gets_the_detailed_view(self, client, token):
        response = client.get(URL, **bearer(token))
        assert response.status_code == 200
        assert set(response.json()) == DETAIL_KEYS

    def test_a_wrong_token_is_rejected_with_401(self, client, token):
        response = client.get(URL, **bearer("wrong-" + token))
        assert response.status_code == 401
        assert response.json() == {"detail": INVALID_TOKEN_MESSAGE}
        assert response["WWW-Authenticate"] == "Bearer"

    def test_no_token_is_valid_when_none_is_configured(self, client, settings):
        settings.MONITORING_TOKEN = ""
        assert client.get(URL, **bearer("")).status_code == 401
        assert client.get(URL, **bearer("anything")).status_code == 401

    def test_other_authorization_schemes_are_left_to_drf(self, client, token):
        assert set(client.get(URL, HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").json()) == PUBLIC_KEYS

    def test_redis_not_configured_is_reported_and_ok(self, client, token, settings):
        settings.REDIS_URL = ""
        body = client.get(URL, **bearer(token)).json()
        assert body["status"] == "ok"
        assert body["dependencies"]["redis"] == {"status": "not configured"}

    def test_timestamp_and_uptime_come_from_the_injected_clocks(self, client, monkeypatch):
        monkeypatch.setattr(health.Clock, "wall", staticmethod(lambda: 1_767_225_600.0))  # 2026-01-01
        monkeypatch.setattr(health.Clock, "monotonic", staticmethod(lambda: 1000.0))
        monkeypatch.setattr(health.Clock, "started", 400.0)
        body = client.get(URL).json()
        assert body["timestamp"] == "2026-01-01T00:00:00Z"
        assert body["uptime"] == 600.0

    def test_detailed_view_has_no_sql_literals_or_user_data(self, client, token, monkeypatch):
        monkeypatch.setattr(health, "TOP_SLOWEST", 10_000)  # list every name, not only the slowest
        secret_email = "secret-person@example.com"
        get_user_model().objects.create_user("secret-person", email=secret_email)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM auth_user WHERE email = '{secret_email}' AND id > 424242")
        client.force_login(make_user("ops", staff=True))  # staff see SQL fingerprints
        text = client.get(URL).content.decode()
        assert "SELECT id FROM auth_user WHERE email = ? AND id > ?" in text
        assert "secret-person" not in text
        assert "424242" not in text

    def test_the_token_gets_sql_groups_not_sql_text(self, client, token, monkeypatch):
        monkeypatch.setattr(health, "TOP_SLOWEST", 10_000)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM auth_user WHERE id > 424242")
        body = client.get(URL, **bearer(token)).json()
        names = {entry["name"] for entry in body["performance"]["topSlowest"] if entry["kind"] == "sql"}
        assert "select auth_user" in names
        assert not any("WHERE" in name for name in names), names


class TestDatabaseDown:
    @staticmethod
    def break_database(monkeypatch):
        def refuse(self, *args, **kwargs):
            raise OperationalError("connection refused")

        monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)

    @pytest.fixture
    def database_down(self, monkeypatch):
        self.break_database(monkeypatch)

    def test_anonymous_gets_503(self, client, database_down):
        response = client.get(URL)
        assert response.status_code == 503
        assert response.json()["status"] == "down"

    def test_a_staff_session_that_cannot_be_read_still_gets_503_not_500(self, client, monkeypatch):
        client.force_login(make_user("ops", staff=True))
        self.break_database(monkeypatch)
        response = client.get(URL)
        assert response.status_code == 503
        assert set(response.json()) == PUBLIC_KEYS

    def test_token_view_reports_the_database_dependency(self, client, token, database_down):
        body = client.get(URL, **bearer(token)).json()
        assert body["dependencies"]["database"] == {
            "status": "down",
            "error": "OperationalError",
            "vendor": connection.vendor,
        }


def test_503_when_the_configured_database_is_unreachable():
    """A real outage: a fresh process whose DATABASE_URL points at a port nobody listens on."""
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5449/nowhere?connect_timeout=2",
        "DATABASE_POOL": "0",
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "MONITORING_TOKEN": STAFF_TOKEN,
    }
    env.pop("REDIS_URL", None)
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        f"r = Client().get('/api/health', HTTP_AUTHORIZATION='Bearer {STAFF_TOKEN}')\n"
        "print(json.dumps({'code': r.status_code, 'body': r.json()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 503
    assert outcome["body"]["status"] == "down"
    assert outcome["body"]["dependencies"]["database"]["status"] == "down"


class TestRedisDown:
    def test_degraded_with_200_while_redis_is_down(self, client, token, settings, monkeypatch):
        # Generous timeouts for the "up" half on a loaded machine; "down" is a refused connection.
        monkeypatch.setattr(dependencies, "REDIS_TIMEOUT_SECONDS", 5.0)
        server = PrivateRedisServer().start()
        try:
            settings.REDIS_URL = server.url
            # The default cache (throttle history, L2) lives on the same server, as in production.
            settings.CACHES = {
                "default": {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": server.url,
                    "KEY_PREFIX": "h6health",
                    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5},
                }
            }
            up = client.get(URL, **bearer(token))
            assert up.status_code == 200
            assert up.json()["status"] == "ok", up.json()["dependencies"]
            assert up.json()["dependencies"]["redis"]["status"] == "ok"
        finally:
            server.stop()
        down = client.get(URL, **bearer(token))
        assert down.status_code == 200
        assert down.json()["status"] == "degraded"
        assert down.json()["dependencies"]["redis"] == {"status": "down", "error": "ConnectionError"}
        assert client.get(URL).json()["status"] == "degraded"


class TestThrottling:
    @pytest.fixture
    def three_per_minute(self, settings, monkeypatch):
        settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"health": "3/min"}}
        now = [1_000_000.0]
        monkeypatch.setattr(HealthThrottle, "timer", lambda self: now[0])
        return now

    def test_the_fourth_request_in_a_minute_gets_429(self, client, three_per_minute):
        assert [client.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]
        response = client.get(URL)
        assert response.status_code == 429
        assert "throttled" in response.json()["detail"]

    def test_requests_are_allowed_again_after_the_window(self, client, three_per_minute):
        for _ in range(3):
            client.get(URL)
        assert client.get(URL).status_code == 429
        three_per_minute[0] += 61
        assert client.get(URL).status_code == 200

    def test_wrong_tokens_are_throttled_too(self, client, token, three_per_minute):
        codes = [client.get(URL, **bearer("guess")).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]

    def test_an_unreachable_throttle_cache_lets_requests_through(self, client, three_per_minute, monkeypatch):
        class BrokenCache:
            def get(self, *args, **kwargs):
                raise ConnectionError("cache down")

            set = get

        monkeypatch.setattr(HealthThrottle, "cache", BrokenCache())
        assert [client.get(URL).status_code for _ in range(5)] == [200] * 5
