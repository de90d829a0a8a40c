"""Session-authenticated writes need the CSRF token, on every URL and method of the matrix.

Every unsafe cell (POST, PUT, PATCH, DELETE) of ``MATRIX`` is sent by every session role with
``enforce_csrf_checks=True``: without the token the answer is a 403 that names CSRF; with the
token (cookie + ``X-CSRFToken``) it is the matrix's own outcome, so the 403 is CSRF's, not the
permission check's. A DRF API token (no session) needs no CSRF token.
"""

import pytest
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from tests.security.matrix_runner import outcome, request, sample_path
from tests.security.test_authz_matrix import MATRIX, ROUTED
from tests.security.urlwalk import UNSAFE_METHODS
from tests.security.world import METRICS_ALLOWED_IPS, MONITORING_TOKEN, ROLES, SESSION_ROLES, make_world

pytestmark = pytest.mark.django_db

UNSAFE_KEYS = sorted(key for key, row in MATRIX.items() if UNSAFE_METHODS & set(row) and key in ROUTED)


@pytest.mark.parametrize("key", UNSAFE_KEYS)
@override_settings(MONITORING_TOKEN=MONITORING_TOKEN, METRICS_ALLOWED_IPS=METRICS_ALLOWED_IPS)
def test_session_writes_need_the_csrf_token(key):
    world = make_world()
    path = sample_path(ROUTED[key], world)
    wrong = []
    for method in sorted(UNSAFE_METHODS & set(MATRIX[key])):
        for role in SESSION_ROLES:
            response = request(world, role, method, path, enforce_csrf_checks=True)
            if response.status_code != 403 or b"CSRF" not in response.content:
                wrong.append(f"{method} as {role} without the token: {response.status_code}")
            expected = MATRIX[key][method][ROLES.index(role)]
            got = outcome(request(world, role, method, path, enforce_csrf_checks=True, csrf=True))
            if got != expected:
                wrong.append(f"{method} as {role} with the token: expected {expected}, got {got}")
    assert not wrong, f"{key}: " + "; ".join(wrong)


def test_an_api_token_needs_no_csrf_token():
    world = make_world()
    key = Token.objects.get(user=world.users["operator"]).key
    api = Client(enforce_csrf_checks=True, headers={"authorization": f"Token {key}"})
    response = api.post("/api/location-reports/", {"reports": []}, content_type="application/json")
    assert response.status_code == 400  # past authentication and CSRF: the empty batch is invalid
    assert b"CSRF" not in response.content
