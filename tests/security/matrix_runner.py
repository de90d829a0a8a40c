"""Request one URL with one method as every role and collect the statuses (the matrix's I/O)."""

from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from tests.security.urlwalk import UNSAFE_METHODS, Endpoint, concrete_path
from tests.security.world import ROLES, World
from trackers.models import Tracker

LOGIN = "login"  # a 302 to a login page
LOGIN_PATHS = frozenset({"/admin/login/", "/accounts/login/"})
CSRF_SECRET = "matrixcsrfsecret0123456789abcdef"  # noqa: S105 - 32 characters, as Django's secrets
# Sample values of path arguments that do not name an admin object.
PATH_SAMPLES = {"step": "goals", "app_label": "trackers", "url": "no-such-page/"}


def sample_path(endpoint: Endpoint, world: World) -> str:
    """Return a concrete path for ``endpoint`` naming real objects of ``world``."""
    values = dict(PATH_SAMPLES)
    if "user_id" in endpoint.arg_names or "id" in endpoint.arg_names:
        values["user_id"] = values["id"] = world.users["viewer"].pk
    if "tracker_id" in endpoint.arg_names:
        values["tracker_id"] = world.dataset.trackers[0].pk  # client A's
    if "content_type_id" in endpoint.arg_names:
        values["content_type_id"] = ContentType.objects.get_for_model(Tracker).pk
        values["object_id"] = world.dataset.trackers[0].pk
    elif "object_id" in endpoint.arg_names:
        values["object_id"] = _admin_sample_pk(endpoint.pattern)
    return concrete_path(endpoint.pattern, values)


def _admin_sample_pk(pattern: str) -> int:
    # Admin model URLs are admin/<app_label>/<model_name>/...; the world holds a row of each model.
    _, app_label, model_name, *_ = pattern.split("/")
    row = apps.get_model(app_label, model_name)._default_manager.order_by("pk").first()
    assert row is not None, f"tests/security/world.py creates no {app_label}.{model_name} for {pattern}"
    return row.pk


def request(world: World, role: str, method: str, path: str, *, enforce_csrf_checks: bool = False, csrf: bool = False):
    """Send one request as ``role``; unsafe methods carry an empty JSON object."""
    client = world.client_for(role, enforce_csrf_checks=enforce_csrf_checks)
    headers = {}
    if csrf:  # what a page's script sends: the cookie's secret echoed in the header
        client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
        headers["X-CSRFToken"] = CSRF_SECRET
    body = b"{}" if method in UNSAFE_METHODS else b""
    return client.generic(method, path, body, content_type="application/json", headers=headers)


def outcome(response) -> int | str:
    """Return the response's status, or LOGIN for a redirect to a login page."""
    if response.status_code == 302 and urlsplit(response["Location"]).path in LOGIN_PATHS:
        return LOGIN
    return response.status_code


def outcomes(world: World, endpoint: Endpoint, method: str) -> tuple[int | str, ...]:
    """Return what each role gets for ``method`` on ``endpoint``, in ROLES order."""
    path = sample_path(endpoint, world)
    return tuple(outcome(request(world, role, method, path)) for role in ROLES)
