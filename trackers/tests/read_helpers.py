"""Shared helpers of the trackers read-API tests (reference data, tracker list, stats, scope)."""

from contextlib import contextmanager

from rest_framework.test import APIClient

from tests.helpers import QueryCounter


def api_as(user=None) -> APIClient:
    """Return an APIClient authenticated as ``user`` (anonymous when None); no auth SQL."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@contextmanager
def assert_queries(expected: int):
    """Assert the block runs exactly ``expected`` SQL statements."""
    with QueryCounter() as q:
        yield q
    assert len(q) == expected, f"expected {expected} queries, got {len(q)}:\n{q.sql}"


def queries_of(client: APIClient, url: str, **params) -> tuple[int, object]:
    """Return (query count, response) of one GET."""
    with QueryCounter() as q:
        response = client.get(url, params)
    return len(q), response


def assert_bad_param(response, param: str) -> None:
    """Assert a 400 whose detail names ``param`` first."""
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"{param}:"), response.json()


def cold_caches() -> None:
    """Empty every cache tier, as after a restart with an empty Redis."""
    from django.core.cache import caches

    from cachecore import testing

    for cache in caches.all():
        cache.clear()
    testing.reset()
