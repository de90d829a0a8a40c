"""Secrets and internals stay inside.

Every URL, method and role of the authorisation matrix is requested once more while every log
record is captured; no response body or header (but ``Set-Cookie``, whose job is to carry the
session), no log line and no /metrics label contains ``SECRET_KEY``, ``MONITORING_TOKEN``, a
session key, a password hash or a database or Redis URL's password. SQL text is shown only to
staff; error responses with DEBUG off carry no traceback.
"""

import logging

import pytest
from django.db import connection
from django.test import Client, override_settings

from monitoring.performance import tracker
from tests.security.matrix_runner import request, sample_path
from tests.security.test_authz_matrix import MATRIX, ROUTED
from tests.security.world import METRICS_ALLOWED_IPS, MONITORING_TOKEN, ROLES, make_world

pytestmark = pytest.mark.django_db

DB_PASSWORD = "Db-Pass-Leak-Check-5150"  # noqa: S105 - test value
REDIS_PASSWORD = "Redis-Pass-Leak-Check-8088"  # noqa: S105 - test value
LEAKY_SETTINGS = {
    "MONITORING_TOKEN": MONITORING_TOKEN,
    "METRICS_ALLOWED_IPS": METRICS_ALLOWED_IPS,
    "DATABASE_URL": f"postgres://app:{DB_PASSWORD}@db.internal:5432/cachewarden",
    # /api/health probes this Redis: nothing listens there, so the error path is exercised too.
    "REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:9/0",
}


def secrets_of(world, clients) -> dict[str, str]:
    from django.conf import settings

    found = {
        "SECRET_KEY": settings.SECRET_KEY,
        "MONITORING_TOKEN": MONITORING_TOKEN,
        "database password": DB_PASSWORD,
        "redis password": REDIS_PASSWORD,
    }
    if settings.DATABASES["default"].get("PASSWORD"):
        found["real database password"] = settings.DATABASES["default"]["PASSWORD"]
    for role, user in world.users.items():
        user.refresh_from_db()
        found[f"{role}'s password hash"] = user.password.rsplit("$", 1)[-1]
    for role, client in clients.items():
        if settings.SESSION_COOKIE_NAME in client.cookies:
            found[f"{role}'s session key"] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value and value in text]


def exposed_text(response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.items() if k.lower() != "set-cookie")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return headers + "\n" + body.decode("utf-8", "replace")


@override_settings(**LEAKY_SETTINGS)
def test_no_response_log_line_or_metric_carries_a_secret(caplog):
    caplog.set_level(logging.DEBUG)
    world = make_world()
    clients = {role: world.client_for(role) for role in ROLES}
    secrets = secrets_of(world, clients)
    found = []
    for key, row in MATRIX.items():
        if key not in ROUTED:
            continue
        path = sample_path(ROUTED[key], world)
        for method in row:
            for role in ("viewer", "staff", "superuser", "token"):
                response = request(world, role, method, path)
                found += [f"{method} {path} as {role}: {name}" for name in leaks(exposed_text(response), secrets)]
    metrics = world.client_for("token").get("/metrics")
    assert metrics.status_code == 200
    found += [f"/metrics: {name}" for name in leaks(exposed_text(metrics), secrets)]
    log_text = "\n".join(caplog.messages + [r.exc_text or "" for r in caplog.records])
    found += [f"log: {name}" for name in leaks(log_text, secrets)]
    assert not found, found
    assert len(caplog.records) > 0  # the capture works: 4xx answers are logged by django.request


def test_the_check_can_fail():
    assert leaks("Authorization: Bearer x-token-x", {"MONITORING_TOKEN": "x-token-x"}) == ["MONITORING_TOKEN"]


@pytest.fixture
def recorded_sql():
    tracker.reset()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM trackers_client WHERE name = %s", ["secret-client-name"])
    from monitoring.query_timing import flush

    flush()
    yield
    tracker.reset()


@override_settings(MONITORING_TOKEN=MONITORING_TOKEN)
def test_sql_text_is_shown_only_to_staff(recorded_sql, monkeypatch):
    from monitoring import health

    monkeypatch.setattr(health, "TOP_SLOWEST", 10_000)  # every name, not only the ten slowest
    world = make_world()
    as_token = world.client_for("token").get("/api/health").json()
    as_staff = world.client_for("staff").get("/api/health").json()
    staff_names = {entry["name"] for entry in as_staff["performance"]["topSlowest"]}
    token_names = {entry["name"] for entry in as_token["performance"]["topSlowest"]}
    assert any("FROM" in name and "trackers_client" in name for name in staff_names), staff_names
    assert "select trackers_client" in token_names, token_names
    assert not any("FROM" in name or "WHERE" in name for name in token_names), token_names


@override_settings(DEBUG=False)
def test_errors_carry_no_traceback_with_debug_off(monkeypatch):
    from trackers import views

    def explode(*args, **kwargs):
        raise RuntimeError("internal detail: /srv/app/trackers/selectors.py line 42")

    monkeypatch.setattr(views.selectors, "tracker_stats", explode)
    world = make_world()
    browser = Client(raise_request_exception=False)
    browser.force_login(world.users["viewer"])
    for path in ("/api/trackers/stats/", "/api/trackers/stats/?format=api"):
        response = browser.get(path)
        assert response.status_code == 500
        text = response.content.decode()
        assert "Traceback" not in text and "internal detail" not in text and "selectors.py" not in text
    missing = browser.get("/no-such-page/")
    assert missing.status_code == 404
    assert b"URLconf" not in missing.content  # the DEBUG 404 page lists the URL patterns
