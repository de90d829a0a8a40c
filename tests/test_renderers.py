"""The orjson renderer gives the same JSON as DRF's JSONRenderer, and the API uses it."""

import datetime as dt
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from config.renderers import ORJSONRenderer

SAMPLES = [
    {"items": [{"id": 1, "name": "Pallet ü", "latest_location": None, "ok": True}], "total": 1},
    [1, 2.5, "x", None, False],
    {"when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "day": dt.date(2026, 1, 2)},
    {"naive": dt.datetime(2026, 1, 2, 3, 4, 5, 678000), "time": dt.time(1, 2, 3)},
    {"price": decimal.Decimal("12.50"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"label": gettext_lazy("Delivered"), "nested": {"a": [{"b": []}]}},
    {"big": 2**70},
]


@pytest.mark.parametrize("data", SAMPLES)
def test_same_bytes_as_drf(data):
    assert ORJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indent_requests_use_drf_formatting():
    data = {"a": [1, 2]}
    media = "application/json; indent=2"
    assert ORJSONRenderer().render(data, media) == JSONRenderer().render(data, media)
    assert b"\n" in ORJSONRenderer().render(data, media)


def test_none_renders_empty_body():
    assert ORJSONRenderer().render(None) == b""


def test_nan_renders_as_null_instead_of_failing():
    assert ORJSONRenderer().render({"x": float("nan")}) == b'{"x":null}'


@pytest.mark.django_db
def test_api_answers_through_the_orjson_renderer(client):
    response = client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, ORJSONRenderer)
