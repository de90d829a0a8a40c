"""The project's DRF exception handler: a detail that names the field, however deep."""

import json

import pytest

from config.exceptions import BODY_TOO_LARGE, TOO_MANY_FIELDS, field_messages


def test_flat_errors_keep_their_form():
    assert list(field_messages({"page": ["too big.", "not even."]})) == [("page", "too big.; not even.")]


def test_nested_errors_are_named_by_their_path():
    errors = {"reports": {0: ["This field may not be null."]}, "meta": {"owner": {"id": ["bad."]}}}
    assert list(field_messages(errors)) == [
        ("reports.0", "This field may not be null."),
        ("meta.owner.id", "bad."),
    ]


def test_a_list_serializers_errors_skip_the_valid_items():
    errors = {"items": [{}, {"serial": ["required."]}, {}]}
    assert list(field_messages(errors)) == [("items.1.serial", "required.")]


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413_json(admin_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"reports": [{"serial": "x" * 50}] * 50})
    response = admin_client.post("/api/location-reports/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": BODY_TOO_LARGE.format(limit=1000)}


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/trackers/", "/api/content-planning/calendar-generation/framework/"])
def test_too_many_query_fields_is_400_json(admin_client, settings, debug, url):
    # With DEBUG on this was a 500 (DRF's debug path reads request.accepted_renderer, never set).
    settings.DEBUG = debug
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    response = admin_client.get(url + "?" + "&".join(["brand_ids=1"] * 11))
    assert response.status_code == 400
    assert response.json() == {"detail": TOO_MANY_FIELDS.format(limit=10)}
