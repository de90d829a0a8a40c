"""Rate limits where abuse is cheap: ingest, cache management, the login forms. 429 + Retry-After."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from config.throttling import ScopedThrottle
from monitoring.throttling import HealthThrottle
from tests.factories import TEST_PASSWORD, make_dataset, make_user
from trackers.models import ClientMembership

pytestmark = pytest.mark.django_db

INGEST = "/api/location-reports/"
CACHE = "/api/content-planning/calendar-generation/cache/"


@pytest.fixture
def rates(settings, monkeypatch):
    """Set every scope to 3 requests a minute, on a clock the test moves."""
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"health": "3/min", "ingest": "3/min", "cache_management": "3/min"},
    }
    now = [1_000_000.0]
    monkeypatch.setattr(ScopedThrottle, "timer", lambda self: now[0])
    return now


@pytest.fixture
def operator():
    ds = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=1)
    return make_user("throttle-operator", clients=ds.clients, role=ClientMembership.Role.OPERATOR)


def as_user(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"]


def test_ingest_is_throttled_per_user(operator, rates):
    api = as_user(operator)
    codes = [api.post(INGEST, {"reports": []}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 400]  # counted even when the batch is rejected
    assert_throttled(api.post(INGEST, {"reports": []}, format="json"))
    other = make_user("throttle-other-operator", clients=[operator.client_memberships.get().client], role="operator")
    assert as_user(other).post(INGEST, {"reports": []}, format="json").status_code == 400  # per user
    rates[0] += 61
    assert api.post(INGEST, {"reports": []}, format="json").status_code == 400


@pytest.mark.parametrize(
    "method, path", [("get", CACHE + "stats"), ("post", CACHE + "cleanup"), ("delete", CACHE + "invalidate/{id}")]
)
def test_cache_management_is_throttled(rates, method, path):
    staff = make_user("throttle-staff", staff=True)
    api = as_user(staff)
    url = path.format(id=staff.pk)
    assert [getattr(api, method)(url).status_code for _ in range(3)] == [200] * 3
    assert_throttled(getattr(api, method)(url))


def test_the_three_cache_endpoints_share_one_budget(rates):
    api = as_user(make_user("throttle-staff", staff=True))
    api.get(CACHE + "stats")
    api.post(CACHE + "cleanup")
    api.get(CACHE + "stats")
    assert_throttled(api.post(CACHE + "cleanup"))


def test_the_rates_come_from_the_settings(settings):
    assert django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["ingest"] == settings.INGEST_THROTTLE_RATE
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["cache_management"] == settings.CACHE_MANAGEMENT_THROTTLE_RATE


def test_a_forged_forwarded_for_is_not_a_new_identity(client, rates, monkeypatch):
    monkeypatch.setattr(HealthThrottle, "timer", lambda self: rates[0])
    codes = [client.get("/api/health", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_login_locks_out_after_the_failure_limit(settings, url):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user("throttle-login", staff=True)
    browser = Client()
    codes = [browser.post(url, {"username": user.username, "password": "wrong"}).status_code for _ in range(3)]
    assert codes[:2] == [200, 200]  # the form again, with its error
    locked = browser.post(url, {"username": user.username, "password": TEST_PASSWORD})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert b"Too many failed logins" in locked.content


def test_lockout_is_per_username_and_address(settings):
    settings.AXES_FAILURE_LIMIT = 2
    victim = make_user("throttle-victim")
    for _ in range(2):
        Client(REMOTE_ADDR="198.51.100.7").post("/accounts/login/", {"username": victim.username, "password": "x"})
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    assert attacker.post("/accounts/login/", {"username": victim.username, "password": "x"}).status_code == 429
    owner = Client(REMOTE_ADDR="203.0.113.5")
    response = owner.post("/accounts/login/", {"username": victim.username, "password": TEST_PASSWORD})
    assert response.status_code == 302  # the owner, from elsewhere, still gets in


def test_a_successful_login_resets_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user("throttle-reset")
    browser = Client()
    for _ in range(2):
        browser.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert browser.post("/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    browser.post("/accounts/logout/")
    for _ in range(2):
        assert browser.post("/accounts/login/", {"username": user.username, "password": "wrong"}).status_code == 200
