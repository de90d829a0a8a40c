"""The dashboard page view: login required, the shell and the configuration it hands the script."""

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.factories import make_user
from trackers import pages
from trackers.models import TrackerStatus

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    """Return the JSON configuration embedded in the rendered dashboard."""
    html = response.content.decode()
    start = html.index('<script id="dashboard-config" type="application/json">') + len(
        '<script id="dashboard-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


class TestAccess:
    def test_anonymous_user_is_redirected_to_the_login_with_next(self, client):
        response = client.get("/dashboard/?brand=3")

        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/dashboard/%3Fbrand%3D3"

    def test_client_user_without_staff_status_can_log_in_and_lands_on_next(self, client):
        # The admin login would refuse this user: dashboard users are mostly not staff.
        make_user("ann", password="pw-ann-12345")

        response = client.post(
            "/accounts/login/", {"username": "ann", "password": "pw-ann-12345", "next": "/dashboard/?status=lost"}
        )

        assert response.status_code == 302
        assert response["Location"] == "/dashboard/?status=lost"

    def test_login_without_next_lands_on_the_dashboard(self, client):
        make_user("ann", password="pw-ann-12345")

        response = client.post("/accounts/login/", {"username": "ann", "password": "pw-ann-12345"})

        assert response["Location"] == "/dashboard/"

    def test_wrong_password_shows_the_form_again_with_an_error(self, client):
        make_user("ann", password="pw-ann-12345")

        response = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})

        assert response.status_code == 200
        assert 'role="alert"' in response.content.decode()

    def test_logout_ends_the_session_and_returns_to_the_login(self, client):
        client.force_login(make_user("ann"))

        response = client.post("/accounts/logout/")

        assert response["Location"] == "/accounts/login/"
        assert client.get("/dashboard/").status_code == 302

    def test_logged_in_user_gets_the_page(self, client):
        client.force_login(make_user("ann"))

        response = client.get(reverse("dashboard"))

        assert response.status_code == 200
        assert "dashboard/index.html" in [t.name for t in response.templates]

    def test_page_is_never_cached_by_the_browser(self, client):
        client.force_login(make_user("ann"))

        response = client.get(reverse("dashboard"))

        assert "no-store" in response["Cache-Control"]

    def test_site_root_redirects_to_the_dashboard_keeping_the_query(self, client):
        response = client.get("/?status=lost")

        assert response.status_code == 302
        assert response["Location"] == "/dashboard/?status=lost"

    def test_view_runs_no_query_beyond_session_and_user(self, client, count_queries):
        client.force_login(make_user("ann"))

        with count_queries() as queries:
            client.get(reverse("dashboard"))

        # Session and user only: the data comes from the API, never from this view.
        assert len(queries) == 2, queries.sql


class TestMarkup:
    @pytest.fixture
    def html(self, client):
        client.force_login(make_user("ann"))
        return client.get(reverse("dashboard")).content.decode()

    def test_every_filter_has_a_label(self, html):
        for control in ("filter-brand", "filter-run", "filter-status", "filter-search", "page-size"):
            assert f'<label for="{control}">' in html

    def test_table_has_column_headers(self, html):
        for header in ("Serial", "Name", "Brand", "Status", "Last report", "Latest location"):
            assert f'<th scope="col">{header}</th>' in html

    def test_loading_and_errors_are_announced(self, html):
        assert 'role="status" aria-live="polite"' in html
        assert 'role="alert"' in html

    def test_status_filter_lists_every_status(self, html):
        for value, label in TrackerStatus.choices:
            assert f'<option value="{value}">{label}</option>' in html

    def test_navigation_marks_the_dashboard_current(self, html):
        assert 'href="/dashboard/" aria-current="page">Dashboard</a>' in html
        assert 'href="/monitoring/"' not in html  # a client user: no link to the staff-only page

    def test_script_and_styles_are_local_static_files(self, html):
        assert 'src="/static/trackers/dashboard.js"' in html
        assert 'href="/static/trackers/dashboard.css"' in html
        assert "http://" not in html and "https://" not in html


class TestConfig:
    def test_config_names_the_api_endpoints_of_the_contract(self, client):
        client.force_login(make_user("ann"))

        config = page_config(client.get(reverse("dashboard")))

        assert config["api"] == {
            "scope": "/api/me/scope/",
            "brands": "/api/brands/",
            "productionRuns": "/api/production-runs/",
            "trackers": "/api/trackers/",
            "stats": "/api/trackers/stats/",
            "trackerDetail": "/api/trackers/{id}/",
        }
        assert config["mapOutline"] == "/static/trackers/europe-outline.json"
        assert [s["value"] for s in config["statuses"]] == list(TrackerStatus.values)
        assert config["searchDebounceMs"] == pages.SEARCH_DEBOUNCE_MS

    @override_settings(TRACKERS_STALE_AFTER_HOURS=6)
    def test_stale_window_follows_the_statistics_setting(self, client):
        client.force_login(make_user("ann"))

        assert page_config(client.get(reverse("dashboard")))["staleAfterHours"] == 6

    @override_settings(TRACKERS_PAGE_SIZE=40, TRACKERS_MAX_PAGE_SIZE=100)
    def test_page_sizes_include_the_default_and_respect_the_cap(self, client):
        client.force_login(make_user("ann"))

        config = page_config(client.get(reverse("dashboard")))

        assert config["defaultPageSize"] == 40
        assert config["pageSizes"] == [25, 40, 50, 100]
