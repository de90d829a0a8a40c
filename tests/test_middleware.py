"""A malformed Content-Length is a 400 naming the header on every URL, never a 500."""

import pytest

from config.middleware import CONTENT_LENGTH_INVALID

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "１２"])
@pytest.mark.parametrize("url", ["/api/", "/api/location-reports/", "/api/health"])
def test_malformed_content_length_is_a_400(client, url, value):
    client.raise_request_exception = False
    response = client.generic("POST", url, b"{}", content_type="application/json", CONTENT_LENGTH=value)
    assert response.status_code == 400
    assert response.json() == {"detail": CONTENT_LENGTH_INVALID}


def test_a_valid_content_length_passes(client):
    response = client.generic("GET", "/api/", CONTENT_LENGTH="0", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
