"""The authorisation matrix: every URL of the URLconf, every method its view answers, every role.

``MATRIX`` below is the one place where the expected answer of each cell is written. A URL or a
method the URLconf routes but the table does not name fails ``test_every_routed_url_and_method_has_a_row``,
so a new endpoint cannot ship without its rule; a row the URLconf no longer routes fails too.

How to add a URL (one row): find its key (its URL name, ``namespace:name`` inside a namespace,
or its full pattern when it has no name: ``python -m pytest tests/security -k every_routed`` prints
the missing keys and methods), then add ``"key": {method: OUTCOMES, ...}`` to ``MATRIX``, reusing a
profile below (``SIGNED_IN``, ``STAFF_API``...) or writing the tuple out: one outcome per role in
``ROLES`` order (anon, viewer, operator, other, nomember, staff, superuser, token). ``api_read(P)``
is the row of a DRF read endpoint (GET, HEAD and OPTIONS answered alike). A path argument needs a
sample value in ``tests/security/matrix_runner.py`` (``PATH_SAMPLES``, or the object id logic);
a new admin model is one ``**admin_model(app, model)`` line.

Outcomes: an HTTP status, or ``LOGIN`` for a 302 to a login page. A 400 means "past the
authorisation check, the (empty) request was rejected": unsafe methods send an empty JSON object.
Roles are described in tests/security/world.py. CSRF on session writes: see test_csrf.py.
"""

import pytest
from django.test import override_settings

from tests.security.matrix_runner import LOGIN, outcomes
from tests.security.urlwalk import endpoints
from tests.security.world import METRICS_ALLOWED_IPS, MONITORING_TOKEN, ROLES, make_world

pytestmark = pytest.mark.django_db
L = LOGIN

# fmt: off
#                anon viewer oper other nomem staff super token
PUBLIC       = (200, 200,  200, 200,  200,  200,  200,  200)
SIGNED_IN    = (403, 200,  200, 200,  200,  200,  200,  403)   # DRF IsAuthenticated (session or API token)
STAFF_API    = (403, 403,  403, 403,  403,  200,  200,  403)   # DRF IsAdminUser: cache management
STAFF_PAGE   = (L,   L,    L,   L,    L,    200,  200,  L)     # staff_member_required / admin site pages
STAFF_405    = (L,   L,    L,   L,    L,    405,  405,  L)
STAFF_404    = (L,   L,    L,   L,    L,    404,  404,  L)
STAFF_403    = (L,   L,    L,   L,    L,    403,  403,  L)     # no one may (read-only models, bare autocomplete)
ADMIN_PERM   = (L,   L,    L,   L,    L,    403,  200,  L)     # needs the model permission (superuser has all)
ADMIN_DONE   = (L,   L,    L,   L,    L,    403,  302,  L)     # permission needed; saved -> redirect
ADMIN_APP    = (L,   L,    L,   L,    L,    404,  200,  L)     # an app the staff user has no permission in
ADMIN_MOVED  = (L,   L,    L,   L,    L,    302,  302,  L)     # the admin's old <id>/ URL -> <id>/change/
LOGGED_IN    = (L,   200,  200, 200,  200,  200,  200,  L)     # LoginRequiredMixin pages
REDIRECT     = (302, 302,  302, 302,  302,  302,  302,  302)
LOGIN_FORM   = (200, 302,  302, 302,  302,  302,  302,  200)   # a signed-in user is sent on to the dashboard
ADMIN_LOGIN  = (200, 200,  200, 200,  200,  302,  302,  200)   # the admin login form; staff are sent on
TOKEN_ONLY   = (403, 403,  403, 403,  403,  403,  403,  200)   # /metrics from outside METRICS_ALLOWED_IPS
# fmt: on


def api_read(outcomes_):
    """Return the row of a DRF read endpoint: GET, HEAD and OPTIONS answer alike."""
    return {"GET": outcomes_, "HEAD": outcomes_, "OPTIONS": outcomes_}


def admin_model(app_label: str, model_name: str, **overrides):
    """Return the rows of one ModelAdmin's six URLs (``overrides``: suffix -> {method: outcomes})."""
    prefix = f"admin:{app_label}_{model_name}_"
    rows = {prefix + suffix: {"GET": ADMIN_PERM, "POST": ADMIN_PERM} for suffix in _ADMIN_SUFFIXES}
    for suffix, methods in overrides.items():
        rows[prefix + suffix] = {**rows[prefix + suffix], **methods}
    moved = f"admin/{app_label}/{model_name}/<path:object_id>/"
    rows[moved] = dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"), ADMIN_MOVED)
    return rows


_ADMIN_SUFFIXES = ("changelist", "add", "history", "delete", "change")
READ_ONLY = {"GET": STAFF_403, "POST": STAFF_403}
NO_EDIT = {"GET": ADMIN_PERM, "POST": STAFF_403}
SAVED = {"GET": ADMIN_PERM, "POST": ADMIN_DONE}

MATRIX = {
    # --- the API (DRF) ----------------------------------------------------------------------
    "api-root": {"GET": PUBLIC, "OPTIONS": PUBLIC},
    "schema": api_read(PUBLIC),
    "schema-docs": {"GET": PUBLIC, "HEAD": PUBLIC},
    "clients": api_read(SIGNED_IN),
    "brands": api_read(SIGNED_IN),
    "production-runs": api_read(SIGNED_IN),
    "storage-locations": api_read(SIGNED_IN),
    "delivery-locations": api_read(SIGNED_IN),
    "images": api_read(SIGNED_IN),
    "trackers": api_read(SIGNED_IN),
    "tracker-stats": api_read(SIGNED_IN),
    "me-scope": api_read(SIGNED_IN),
    # A tracker of client A: its members and staff see it; another tenant and no membership get 404
    # (OPTIONS describes the endpoint, not the tracker).
    "tracker-detail": {
        "GET": (403, 200, 200, 404, 404, 200, 200, 403),
        "HEAD": (403, 200, 200, 404, 404, 200, 200, 403),
        "OPTIONS": SIGNED_IN,
    },
    # Token authentication first: 401 with WWW-Authenticate; viewers are 403; operators and staff
    # get past the role check to the 400 of the empty batch.
    "location-reports": {
        "OPTIONS": (401, 200, 200, 200, 200, 200, 200, 401),
        "POST": (401, 403, 400, 403, 403, 400, 400, 401),
    },
    "comprehensive-user-data": api_read(SIGNED_IN),
    "strategy-draft": api_read(SIGNED_IN),
    "calendar-draft": api_read(SIGNED_IN),
    "calendar-wizard-step": api_read(SIGNED_IN),
    "content-framework": api_read(SIGNED_IN),
    "user-data-cache-stats": api_read(STAFF_API),
    "user-data-cache-invalidate": {"OPTIONS": STAFF_API, "DELETE": STAFF_API},
    "user-data-cache-cleanup": {"OPTIONS": STAFF_API, "POST": STAFF_API},
    # --- monitoring -------------------------------------------------------------------------
    "health": api_read(PUBLIC),  # details only for staff and the token: test_health.py
    "metrics": {"GET": TOKEN_ONLY, "POST": TOKEN_ONLY},
    "monitoring": {"GET": STAFF_PAGE, "POST": STAFF_PAGE},
    "monitoring-history": {"GET": STAFF_PAGE, "POST": STAFF_PAGE},
    # --- pages ------------------------------------------------------------------------------
    "favicon.ico": dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"), (301,) * 8),
    "home": dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"), REDIRECT),
    "dashboard": {"GET": LOGGED_IN, "HEAD": LOGGED_IN, "OPTIONS": LOGGED_IN},
    "login": dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "PUT"), LOGIN_FORM),
    "logout": {"OPTIONS": PUBLIC, "POST": (L, L, L, L, L, L, L, L)},  # then to the site login
    # --- the admin site ---------------------------------------------------------------------
    "admin:index": {"GET": STAFF_PAGE, "POST": STAFF_PAGE},
    "admin:login": {"GET": ADMIN_LOGIN, "POST": PUBLIC},
    "admin:logout": {"GET": (302, 302, 302, 302, 302, 405, 405, 302), "POST": (302, 302, 302, 302, 302, 200, 200, 302)},
    "admin:password_change": {"GET": STAFF_PAGE, "POST": STAFF_PAGE},
    "admin:password_change_done": {"GET": STAFF_PAGE, "POST": STAFF_405},
    "admin:autocomplete": {"GET": STAFF_403, "POST": STAFF_405},
    "admin:jsi18n": {"GET": STAFF_PAGE, "POST": STAFF_405},
    "admin:view_on_site": {"GET": STAFF_404, "POST": STAFF_404},  # no model has get_absolute_url
    "admin:app_list": {"GET": ADMIN_APP, "POST": ADMIN_APP},
    "admin/(?P<url>.*)$": {"GET": STAFF_404, "POST": STAFF_404},
    **admin_model("auth", "group"),
    **admin_model("auth", "user"),
    "admin:auth_user_password_change": {"GET": ADMIN_PERM, "POST": ADMIN_PERM},
    **admin_model("authtoken", "tokenproxy"),
    **admin_model("axes", "accessattempt", add=READ_ONLY, change=SAVED),
    **admin_model("axes", "accesslog", add=READ_ONLY, change=SAVED),
    **admin_model("axes", "accessfailurelog", add=READ_ONLY, change=SAVED),
    **admin_model("cachecore", "cacheentry", add=READ_ONLY, change=NO_EDIT),
    **admin_model("cachecore", "cachegeneration", add=READ_ONLY, delete=READ_ONLY, change=NO_EDIT),
    **admin_model("trackers", "client"),
    **admin_model("trackers", "clientmembership"),
    **admin_model("trackers", "brand"),
    **admin_model("trackers", "productionrun"),
    **admin_model("trackers", "storagelocation"),
    **admin_model("trackers", "deliverylocation"),
    **admin_model("trackers", "image"),
    **admin_model("trackers", "tracker"),
    **admin_model("trackers", "locationhistory"),
    **admin_model("trackers", "syncwatermark", add=SAVED, change=SAVED),
    "admin:trackers_syncwatermark_sync_now": {"GET": ADMIN_PERM, "POST": ADMIN_DONE},
    **admin_model("contentplanning", "onboardingprofile"),
    **admin_model("contentplanning", "contentstrategy"),
    **admin_model("contentplanning", "calendarentry"),
    **admin_model("contentplanning", "contentperformance"),
}

ROUTED = {endpoint.key: endpoint for endpoint in endpoints()}


def cells() -> int:
    """Return how many URL x method x role cells the matrix checks."""
    return sum(len(methods) for methods in MATRIX.values()) * len(ROLES)


def test_every_routed_url_and_method_has_a_row():
    routed = {(key, method) for key, endpoint in ROUTED.items() for method in endpoint.methods}
    written = {(key, method) for key, methods in MATRIX.items() for method in methods}
    assert not routed - written, f"routed, but no rule in MATRIX: {sorted(routed - written)}"
    assert not written - routed, (
        f"rules for what is not routed (or a method its view lacks): {sorted(written - routed)}"
    )


def test_every_row_has_one_outcome_per_role():
    wrong = [
        (key, method) for key, row in MATRIX.items() for method, cells_ in row.items() if len(cells_) != len(ROLES)
    ]
    assert not wrong


@pytest.mark.parametrize("key", sorted(set(MATRIX) & set(ROUTED)))
@override_settings(MONITORING_TOKEN=MONITORING_TOKEN, METRICS_ALLOWED_IPS=METRICS_ALLOWED_IPS)
def test_authorisation_matrix(key):
    world = make_world()
    endpoint = ROUTED[key]
    wrong = []
    for method, expected in MATRIX[key].items():
        got = outcomes(world, endpoint, method)
        wrong += [
            f"{method} as {role}: expected {e}, got {g}"
            for role, e, g in zip(ROLES, expected, got, strict=True)
            if e != g
        ]
    assert not wrong, f"{key}: " + "; ".join(wrong)
