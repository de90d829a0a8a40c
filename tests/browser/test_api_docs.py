"""The API docs page works offline: Swagger UI comes from the project's static files (pinned sidecar).

The ``page`` fixture refuses and reports every request to a host other than the live server's, so
these tests fail if the page reaches for a CDN.
"""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_swagger_ui_renders_the_schema_from_local_files(page, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    local_assets = []
    page.on("request", lambda request: local_assets.append(request.url) if "/static/" in request.url else None)

    page.goto("/api/schema/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Cachewarden API")
    expect(page.locator(".opblock-summary-path", has_text="/api/trackers/").first).to_be_visible()
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in url for url in local_assets)
    screenshot(f"{width}")
