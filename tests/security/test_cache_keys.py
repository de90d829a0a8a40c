"""What is cached is keyed by what changes the answer, and nothing else.

A warm request is repeated with request headers, cookies, unknown parameters, and case, order and
duplicate variants of its parameters. Each variant either answers from the entry the plain
request filled (no compute, same body) or is a 400 naming the parameter (no compute either): no
header, cookie or unknown parameter can create a cache entry or select another one. Responses
that differ by user say so to shared caches: ``Cache-Control: private`` and ``Vary: Cookie,
Authorization``.
"""

import pytest
from rest_framework.test import APIClient

from cachecore.api import stats
from contentplanning.tests.factories import make_content_user
from tests.factories import make_dataset, make_user
from trackers.models import ClientMembership

pytestmark = pytest.mark.django_db

HEADER_VARIANTS = [
    {"Accept": "application/json"},
    {"Accept": "*/*"},
    {"Accept": "application/json; indent=4"},
    {"Accept-Language": "de-DE,de;q=0.9"},
    {"Accept-Encoding": "gzip, br"},
    {"X-Forwarded-For": "203.0.113.9"},
    {"X-Forwarded-Host": "other-tenant.example"},
    {"X-Forwarded-Proto": "https"},
    {"X-Real-IP": "203.0.113.9"},
    {"Cookie": "tenant=2; client_id=2; theme=dark"},
    {"X-Client-Id": "2"},
    {"Cache-Control": "no-cache"},
    {"Pragma": "no-cache"},
    {"User-Agent": "curl/8.0"},
]
TRACKERS = "/api/trackers/"
TRACKER_QUERY = "brand_ids=1,2&status=lost,in_transit&page=1&size=5"
SAME_TRACKER_QUERIES = [
    "size=5&page=1&status=in_transit,lost&brand_ids=2,1",  # parameter and value order
    "brand_ids=2&brand_ids=1&status=lost&status=in_transit&page=1&size=5",  # repeated list parameters
    "brand_ids=1,2,2,1&status=lost,in_transit,lost&page=1&size=5",  # duplicated values
    "brand_ids=1,2&status=lost,in_transit&page=1&page=1&size=5",  # a scalar given twice, same value
    "brand_ids=1,2&status=lost,in_transit&size=5",  # page=1 is the default
]
REFUSED_TRACKER_QUERIES = {
    "foo=1&" + TRACKER_QUERY: "foo",  # unknown
    "Brand_Ids=1,2&status=lost,in_transit&page=1&size=5": "Brand_Ids",  # a name in another case
    "BRAND_IDS=1,2&status=lost,in_transit&page=1&size=5": "BRAND_IDS",
    "brand_ids=1,2&status=LOST,in_transit&page=1&size=5": "status",  # values are case-sensitive
    TRACKER_QUERY + "&page=2": "page",  # a scalar given twice with different values
    TRACKER_QUERY + "&size=50": "size",
    "client_id=2&" + TRACKER_QUERY: "client_id",  # scope never comes from the request
    "scope=all&" + TRACKER_QUERY: "scope",
}
OTHER_URLS = ["/api/trackers/stats/", "/api/me/scope/", "/api/clients/", "/api/brands/", "/api/production-runs/"]


@pytest.fixture
def viewer():
    ds = make_dataset(clients=2, brands_per_client=2, runs_per_brand=1, trackers_per_run=3)
    user = make_content_user("keys-viewer")
    ClientMembership.objects.create(user=user, client=ds.clients[0])
    make_user("keys-other", clients=[ds.clients[1]])
    return user


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def computes() -> int:
    return sum(namespace["computes"] for namespace in stats()["namespaces"].values())


def get(api, url, query="", headers=None):
    headers = dict(headers or {})
    for pair in headers.pop("Cookie", "").split(";"):  # cookies are added to the session's, not instead
        if pair.strip():
            name, _, value = pair.strip().partition("=")
            api.cookies[name] = value
    return api.get(f"{url}?{query}" if query else url, headers=headers)


@pytest.mark.parametrize("url", [TRACKERS, *OTHER_URLS])
@pytest.mark.parametrize("headers", HEADER_VARIANTS, ids=lambda h: next(iter(h)))
def test_no_request_header_creates_or_selects_an_entry(viewer, url, headers):
    api = api_for(viewer)
    query = TRACKER_QUERY if url == TRACKERS else ""
    warm = get(api, url, query)
    assert warm.status_code == 200
    before = computes()
    response = get(api, url, query, headers)
    assert response.status_code == 200, response.content
    assert computes() == before, f"{headers} computed a new entry"
    assert response["X-Cache"] in ("l1", "l2", "l3")
    assert response.json() == warm.json()


@pytest.mark.parametrize("query", SAME_TRACKER_QUERIES)
def test_variants_of_the_same_question_share_one_entry(viewer, query):
    api = api_for(viewer)
    warm = get(api, TRACKERS, TRACKER_QUERY)
    before = computes()
    response = get(api, TRACKERS, query)
    assert response.status_code == 200, response.content
    assert computes() == before
    assert response.json() == warm.json()


@pytest.mark.parametrize("query, parameter", REFUSED_TRACKER_QUERIES.items())
def test_unknown_or_ambiguous_parameters_are_refused_before_the_cache(viewer, query, parameter):
    api = api_for(viewer)
    get(api, TRACKERS, TRACKER_QUERY)
    before = computes()
    response = get(api, TRACKERS, query)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}:"), response.json()
    assert computes() == before


def test_a_different_answer_is_a_different_entry(viewer):
    """The test above can fail: a parameter that changes the answer does compute."""
    api = api_for(viewer)
    get(api, TRACKERS, TRACKER_QUERY)
    before = computes()
    assert get(api, TRACKERS, TRACKER_QUERY.replace("size=5", "size=6"))["X-Cache"] == "miss"
    assert computes() == before + 1


@pytest.mark.parametrize(
    "headers", [{}, {"Cookie": "tenant=2"}, {"Accept-Language": "fr"}, {"X-Forwarded-For": "203.0.113.9"}]
)
def test_user_data_is_keyed_by_the_user_not_the_request(viewer, headers):
    api = api_for(viewer)
    url = "/api/content-planning/calendar-generation/comprehensive-user-data/"
    warm = api.get(url)
    before = computes()
    assert get(api, url, "unknown=1", headers).status_code == 400  # refused before the cache
    response = get(api, url, "", headers)
    assert response.status_code == 200
    assert computes() == before
    assert response.json()["cache_info"]["is_cached"] is True
    assert response.json()["data"] == warm.json()["data"]


PER_USER_URLS = [
    TRACKERS,
    *OTHER_URLS,
    "/api/content-planning/calendar-generation/comprehensive-user-data/",
    "/api/health",
    "/dashboard/",
]


@pytest.mark.parametrize("url", PER_USER_URLS)
def test_per_user_answers_are_private_to_shared_caches(viewer, url):
    response = api_for(viewer).get(url)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    vary = {v.strip().lower() for v in response.get("Vary", "").split(",")}
    assert {"cookie", "authorization"} <= vary, response.get("Vary")


def test_token_authenticated_answers_are_private_too(viewer):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=viewer)
    response = APIClient().get(TRACKERS, headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert "authorization" in response["Vary"].lower()
