"""The project's DRF exception handler: a detail that names the field, however deep."""

import json

import pytest

from config.exceptions import BODY_TOO_LARGE, field_messages


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
