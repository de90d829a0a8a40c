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


@pytest.mark.parametrize("method", ["options", "put", "post", "delete"])
def test_schema_docs_refuse_other_methods_with_405(admin_client, method):
    # OPTIONS used to render DRF's metadata through the Swagger template: a 500.
    assert getattr(admin_client, method)("/api/schema/docs/").status_code == 405


def test_schema_docs_page_is_served(admin_client):
    response = admin_client.get("/api/schema/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize("url", ["/api/", "/api/trackers/", "/api/health"])
def test_an_unknown_format_is_404_naming_format(admin_client, url):
    response = admin_client.get(url, {"format": "xml"})
    assert response.status_code == 404
    assert response.json()["detail"] == "format: 'xml' is not offered here; choose from api, json."
