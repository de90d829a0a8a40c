"""The /monitoring/ page: staff only; renders the figures and refreshes them from /api/health."""

import re

import pytest
from playwright.sync_api import expect

from cachecore.api import Namespace, get_or_compute, register_namespace
from monitoring.performance import OPERATION, tracker
from tests.factories import make_user

URL = "/monitoring/"
NS = "h6.monitoring_page"


def warm_cache():
    register_namespace(Namespace(name=NS, params=("x",), l1_ttl=60, l2_ttl=60))
    for _ in range(3):
        get_or_compute(NS, {"x": 1}, lambda: {"v": 1})


@pytest.mark.django_db
class TestAccess:
    def test_anonymous_users_are_sent_to_the_login(self, client):
        response = client.get(URL)
        assert response.status_code == 302
        assert "/login/" in response["Location"]

    def test_non_staff_users_are_sent_to_the_login(self, client):
        client.force_login(make_user("plain"))
        response = client.get(URL)
        assert response.status_code == 302

    def test_staff_see_the_figures_rendered_on_the_server(self, client, fresh_tracker):
        fresh_tracker.record("report.build", 250.0, OPERATION)
        warm_cache()
        client.force_login(make_user("ops", staff=True))
        response = client.get(URL)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-status="ok"' in html
        assert re.search(r'data-field="totalQueries">[1-9]\d*<', html)
        assert "<code>report.build</code>" in html
        assert f"<code>{NS}</code>" in html
        assert 'data-dependency="database" data-status="ok"' in html
        assert 'id="monitoring-config"' in html
        assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.browser
class TestInBrowser:
    def test_staff_page_renders_and_refreshes_from_the_health_api(
        self, page, login, screenshot, settings, fresh_tracker
    ):
        # fresh_tracker: SQL timed by earlier tests of the run (under load) can show as regressions too.
        settings.MONITORING_PAGE_REFRESH_SECONDS = 1
        tracker.reset()  # earlier tests' statements must not add regressions of their own
        tracker.record("report.build", 250.0, OPERATION)
        config = tracker.config
        for ms in [5.0] * config.baseline_window + [12.0] * config.recent_window:
            tracker.record("report.regressed", ms, OPERATION)
        warm_cache()
        login(make_user("ops", staff=True))
        health_calls = []
        page.on("response", lambda r: health_calls.append(r.status) if r.url.endswith("/api/health") else None)

        page.goto(URL)
        assert page.title() == "Monitoring · Cachewarden"
        assert page.locator("#status").get_attribute("data-status") == "ok"
        assert page.locator("#status").text_content() == "ok"
        assert int(page.locator('#perf-figures [data-field="totalQueries"]').inner_text()) > 0
        assert page.locator("#slowest tbody tr").count() >= 1
        assert page.locator("#cache-namespaces").get_by_text(NS).count() == 1

        page.wait_for_function("Number(document.getElementById('monitoring').dataset.refreshed || 0) >= 2")
        assert health_calls and set(health_calls) == {200}
        assert re.fullmatch(r"\d+ s|\d+ min \d+ s", page.locator("#uptime").inner_text())
        assert re.fullmatch(r"ok · [\d.]+ ms", page.locator('[data-dependency="database"]').inner_text())
        assert page.locator("#slowest").get_by_text("report.build").count() == 1
        assert page.locator("#refresh-state").inner_text() == ""
        assert re.match(r"L1 \d+ of \d+ entries, ", page.locator("#cache-state").inner_text())
        assert page.locator("#regressions li").inner_text() == "report.regressed: median 5.00 ms → 12.00 ms (×2.4)"
        screenshot("refreshed")  # the harness fails the test on any script error

    def test_non_staff_users_never_see_the_figures(self, page, login):
        login(make_user("plain"))
        page.goto(URL)
        assert "/login/" in page.url
        assert page.locator("#perf-figures").count() == 0


@pytest.mark.browser
class TestChartsAndNarrowScreens:
    def populate(self):
        from monitoring import shared_stats

        tracker.record("SELECT " + ", ".join(f'"t"."column_{i}"' for i in range(40)) + ' FROM "t"', 12.0, "sql")
        warm_cache()
        shared_stats.publish()

    @pytest.mark.parametrize("width", [1280, 390])
    def test_charts_are_drawn_and_the_page_fits_the_width(self, page, login, screenshot, width):
        page.set_viewport_size({"width": width, "height": 900})
        self.populate()
        login(make_user("ops", staff=True))

        page.goto(URL)

        charts = page.locator("#monitoring-charts")
        expect(charts.locator("figure.chart-figure")).to_have_count(5)
        expect(charts.locator('[data-chart="outbox-age"] svg circle')).to_have_count(1)  # published once
        expect(charts).to_have_attribute("aria-busy", "false")
        expect(
            charts.locator('[data-chart="hit-rate-tier"] svg .chart-line, [data-chart="hit-rate-tier"] svg circle')
        ).not_to_have_count(0)
        long_sql = page.locator("#slowest td.name details").first
        expect(long_sql.locator("summary")).to_contain_text("…")
        long_sql.locator("summary").click()
        expect(long_sql).to_have_attribute("open", "")
        expect(page.locator("#cache-hit-rate")).to_have_text(re.compile(r"hit rate [\d.]+%$"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(str(width))
