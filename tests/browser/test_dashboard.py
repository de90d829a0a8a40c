"""The tracker dashboard in a real browser, against the real API and a small seeded dataset.

Each test drives chromium through one user journey; assertions wait (playwright's ``expect``)
rather than sleep. Set BROWSER_SCREENSHOTS=/tmp/shots to keep screenshots of each step.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD, make_dataset, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(transactional_db):
    """Two clients with 2 brands x 2 runs x 2 trackers each (8 trackers per client)."""
    return make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=2, history_per_tracker=2)


def serials_of(trackers, client):
    return {t.serial for t in trackers if t.production_run.brand.client_id == client.pk}


def tracker_list_calls(api_requests):
    return [path for path in api_requests if path.startswith("/api/trackers/?")]


def rows(page):
    return page.locator("#trackers-body tr")


def shown_serials(page):
    return set(page.locator("#trackers-body td.serial").all_inner_texts())


def test_small_scope_loads_the_users_trackers_at_once(page, login, data, api_requests, screenshot):
    client_a, client_b = data.clients
    login(make_user("ann", clients=[client_a]))

    page.goto("/dashboard/")

    expect(rows(page)).to_have_count(8)
    assert shown_serials(page) == serials_of(data.trackers, client_a)
    assert not shown_serials(page) & serials_of(data.trackers, client_b)
    brand_options = page.locator("#filter-brand option").all_inner_texts()
    assert brand_options == ["T Brand 0.0", "T Brand 0.1"]  # a multi-select: none chosen means all
    expect(page.locator("#results-summary")).to_have_text("Showing 1–8 of 8 trackers")
    expect(page.locator("#stats-strip .stat-total .stat-value")).to_have_text("8")
    [call] = tracker_list_calls(api_requests)
    assert "lazy_load=false" in call and "include_latest_location=true" in call
    screenshot("loaded")


def test_large_scope_waits_for_a_filter_or_show_all(page, login, data, settings, api_requests, screenshot):
    settings.TRACKERS_LAZY_THRESHOLD = 5  # the user's 8 trackers make a "large" scope
    login(make_user("ann", clients=[data.clients[0]]))

    page.goto("/dashboard/")

    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#empty-text")).to_contain_text("Your scope has 8 trackers")
    expect(page.locator("#results")).to_be_hidden()
    screenshot("empty")
    assert tracker_list_calls(api_requests) == []

    page.select_option("#filter-status", "in_transit")

    expect(page).to_have_url(re.compile(r"/dashboard/\?status=in_transit$"))
    expect(rows(page).first).to_be_visible()
    expect(page.locator("#trackers-body .badge")).to_have_text(["In transit"] * rows(page).count())
    assert "lazy_load=true" in tracker_list_calls(api_requests)[-1]

    page.click("#filter-reset")
    expect(page.locator("#empty-state")).to_be_visible()
    page.click("#show-all")

    expect(rows(page)).to_have_count(8)
    expect(page).to_have_url(re.compile(r"/dashboard/\?show=all$"))
    assert "lazy_load=false" in tracker_list_calls(api_requests)[-1]
    assert len(tracker_list_calls(api_requests)) == 2

    page.go_back()  # back to the cleared filters: the empty state again, without a list request
    expect(page.locator("#empty-state")).to_be_visible()
    assert len(tracker_list_calls(api_requests)) == 2


def test_filters_narrow_the_rows_live_in_the_url_and_follow_the_back_button(page, login, data, screenshot):
    client_a = data.clients[0]
    brand = data.brands[0]
    run = data.runs[1]
    login(make_user("ann", clients=[client_a]))
    page.goto("/dashboard/")
    expect(rows(page)).to_have_count(8)

    page.select_option("#filter-brand", str(brand.pk))

    expect(page).to_have_url(re.compile(rf"/dashboard/\?brand={brand.pk}$"))
    expect(rows(page)).to_have_count(4)
    expect(page.locator("#trackers-body td:nth-child(3)")).to_have_text([brand.name] * 4)
    expect(page.locator("#filter-run")).to_be_enabled()
    run_options = page.locator("#filter-run option")
    expect(run_options).to_have_count(2)  # the runs of the chosen brand
    assert sorted(run_options.all_inner_texts()) == sorted(r.name for r in data.runs[:2])

    page.select_option("#filter-run", str(run.pk))

    expect(page).to_have_url(re.compile(rf"\?brand={brand.pk}&run={run.pk}$"))
    expect(rows(page)).to_have_count(2)
    screenshot("run")

    target = next(t for t in data.trackers if t.production_run_id == run.pk)
    page.fill("#filter-search", target.serial)  # debounced: one request after typing stops

    expect(rows(page)).to_have_count(1)
    expect(page.locator("#trackers-body td.serial")).to_have_text(target.serial)
    expect(page).to_have_url(re.compile(rf"&search={target.serial}$"))

    page.go_back()
    expect(rows(page)).to_have_count(2)
    expect(page.locator("#filter-search")).to_have_value("")
    page.go_back()
    expect(rows(page)).to_have_count(4)
    expect(page.locator("#filter-run")).to_have_values([])
    page.go_back()
    expect(rows(page)).to_have_count(8)
    expect(page.locator("#filter-brand")).to_have_values([])


def test_a_shared_link_to_another_clients_brand_shows_none_of_its_trackers(page, login, data, screenshot):
    client_a, client_b = data.clients
    foreign_brand = next(b for b in data.brands if b.client_id == client_b.pk)
    login(make_user("ann", clients=[client_a]))

    page.goto(f"/dashboard/?brand={foreign_brand.pk}")

    # Ids outside the scope match nothing: the page keeps the filter visible and explains it.
    expect(page.locator("#no-results")).to_be_visible()
    expect(rows(page)).to_have_count(0)
    expect(page.locator("#filter-brand option:checked")).to_have_text(f"Unavailable brand (#{foreign_brand.pk})")
    assert foreign_brand.name not in page.content()
    screenshot("foreign")
    assert not set(page.locator("#filter-brand option").all_inner_texts()) & {b.name for b in data.brands[2:]}

    page.select_option("#filter-brand", str(data.brands[0].pk))  # an own brand: the stale choice goes

    expect(rows(page)).to_have_count(4)
    assert not shown_serials(page) & serials_of(data.trackers, client_b)
    assert not page.locator("#filter-brand option", has_text="Unavailable").count()


def test_pagination_pages_through_the_scope_and_lands_in_the_url(page, login, data, settings):
    settings.TRACKERS_PAGE_SIZE = 3
    login(make_user("ann", clients=[data.clients[0]]))
    page.goto("/dashboard/")
    expect(rows(page)).to_have_count(3)
    expect(page.locator("#page-info")).to_have_text("Page 1 of 3")
    expect(page.locator("#page-prev")).to_be_disabled()
    first_page = shown_serials(page)

    page.click("#page-next")
    expect(page.locator("#page-info")).to_have_text("Page 2 of 3")
    page.click("#page-next")

    expect(page).to_have_url(re.compile(r"/dashboard/\?page=3$"))
    expect(page.locator("#results-summary")).to_have_text("Showing 7–8 of 8 trackers")
    expect(page.locator("#page-next")).to_be_disabled()

    page.select_option("#page-size", "25")  # a new size starts again at page 1

    expect(page).to_have_url(re.compile(r"/dashboard/\?size=25$"))
    expect(rows(page)).to_have_count(8)
    assert first_page < shown_serials(page)


def test_an_api_error_shows_its_detail(page, login, data):
    login(make_user("ann", clients=[data.clients[0]]))
    page.route(
        re.compile(r".*/api/trackers/\?.*"),
        lambda route: route.fulfill(
            status=400, content_type="application/json", body=json.dumps({"detail": "size must be at most 500."})
        ),
    )

    page.goto("/dashboard/")

    expect(page.locator("#error")).to_have_text("Could not load trackers: size must be at most 500.")
    expect(page.locator("#results")).to_be_hidden()
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "error")


def test_anonymous_user_logs_in_and_returns_to_the_filtered_dashboard(page, data):
    make_user("ann", clients=[data.clients[0]])

    page.goto("/dashboard/?status=lost")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/%3Fstatus%3Dlost$"))
    page.fill("#id_username", "ann")
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")

    expect(page).to_have_url(re.compile(r"/dashboard/\?status=lost$"))
    expect(page.locator("#filter-status")).to_have_value("lost")
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "ready")
