"""The API root and the OpenAPI schema are served."""

import pytest

pytestmark = pytest.mark.django_db


def test_api_root_lists_endpoints(client):
    response = client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "schema" in response.json()


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Cachewarden API"
