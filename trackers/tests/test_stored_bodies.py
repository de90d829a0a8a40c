"""A hit writes the stored body as it is; If-None-Match with its ETag is a 304 without a body."""

import pytest
from django.test import Client

from tests.factories import make_dataset, make_user
from trackers import stored

pytestmark = pytest.mark.django_db

URLS = ["/api/trackers/?size=100&include_latest_location=true", "/api/brands/", "/api/production-runs/"]


@pytest.fixture
def world(db):
    ds = make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=1)
    return {"ds": ds, "user": make_user("alice", clients=[ds.clients[0]]), "boss": make_user("boss", staff=True)}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)  # django-axes refuses authenticate() without a request
    return client


@pytest.fixture
def no_encoding(monkeypatch):
    """Make any JSON encoding by the API's renderer fail the test."""
    from config.renderers import ORJSONRenderer

    def refuse(*args, **kwargs):
        raise AssertionError("a cache hit encoded JSON")

    monkeypatch.setattr(ORJSONRenderer, "render", refuse)


@pytest.mark.parametrize("url", URLS)
class TestStoredBodies:
    def test_a_hit_writes_the_stored_bytes_without_encoding(self, world, url, request):
        client = logged_in(world["user"])
        first = client.get(url)
        assert first.status_code == 200
        request.getfixturevalue("no_encoding")
        again = client.get(url)
        assert again.status_code == 200
        assert again.content == first.content
        assert again["ETag"] == stored.etag_of(first.content.decode())

    def test_if_none_match_is_a_304_from_the_stored_hash(self, world, url, request):
        client = logged_in(world["user"])
        etag = client.get(url)["ETag"]
        request.getfixturevalue("no_encoding")
        response = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag
        assert client.get(url, HTTP_IF_NONE_MATCH=f'W/{etag}, "other"').status_code == 304

    def test_another_etag_gets_the_body(self, world, url):
        client = logged_in(world["user"])
        client.get(url)
        response = client.get(url, HTTP_IF_NONE_MATCH='"not-the-current-one"')
        assert response.status_code == 200 and response.content

    def test_per_user_bodies_are_private_and_vary_on_cookie(self, world, url):
        response = logged_in(world["user"]).get(url)
        assert response["Cache-Control"] == "private, no-cache"
        vary = {v.strip() for v in response["Vary"].split(",")}
        assert {"Cookie", "Authorization"} <= vary

    def test_another_scope_has_another_etag(self, world, url):
        mine = logged_in(world["user"]).get(url)
        boss = logged_in(world["boss"]).get(url)
        assert mine.content != boss.content
        assert mine["ETag"] != boss["ETag"]
        assert logged_in(world["boss"]).get(url, HTTP_IF_NONE_MATCH=mine["ETag"]).status_code == 200

    def test_the_browsable_api_still_renders(self, world, url):
        client = logged_in(world["user"])
        client.get(url)  # warm: the browsable API renders the data decoded from the stored body
        response = client.get(url + ("&" if "?" in url else "?") + "format=api")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db(transaction=True)
def test_a_write_changes_the_etag(world, settings):
    settings.CACHECORE_DEBOUNCE_SECONDS = 0
    client = logged_in(world["boss"])
    before = client.get("/api/brands/")
    brand = world["ds"].brands[0]
    brand.name = "Renamed"
    brand.save()  # committed: the invalidation fires
    after = client.get("/api/brands/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert b"Renamed" in after.content and after["ETag"] != before["ETag"]
