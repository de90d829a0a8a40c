"""The dashboard's map, tracker detail, multi-select filters, status cards, loading bar and 390 px.

Screenshots land in artifacts/screenshots/ (see conftest); every request stays on the server.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import make_dataset, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(transactional_db):
    return make_dataset(clients=2, brands_per_client=2, runs_per_brand=2, trackers_per_run=2, history_per_tracker=3)


def rows(page):
    return page.locator("#trackers-body tr")


def own(data, client):
    return [t for t in data.trackers if t.production_run.brand.client_id == client.pk]


def test_map_points_are_coloured_by_status_and_open_the_tracker_detail(page, login, data, screenshot):
    client_a = data.clients[0]
    login(make_user("ann", clients=[client_a]))
    page.goto("/dashboard/")

    points = page.locator("#tracker-map .map-point")
    expect(points).to_have_count(8)
    ids = {int(i) for i in points.evaluate_all("nodes => nodes.map(n => n.dataset.trackerId)")}
    assert ids == {t.pk for t in own(data, client_a)}
    tracker = own(data, client_a)[0]
    point = page.locator(f'#tracker-map .map-point[data-tracker-id="{tracker.pk}"]')
    expect(point).to_have_class(re.compile(rf"status-{tracker.current_status}"))
    assert point.locator("title").text_content().startswith(f"{tracker.serial}: ")  # the hover text

    point.click()

    detail = page.locator("#tracker-detail")
    expect(detail).to_be_visible()
    expect(page.locator("#detail-heading")).to_have_text(f"Tracker {tracker.serial}")
    expect(page.locator("#detail-body .detail-history li")).to_have_count(3)
    expect(page.locator("#tracker-map .trail-line")).to_have_count(1)
    expect(point).to_have_class(re.compile("is-selected"))
    screenshot("detail")

    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    expect(page.locator("#tracker-map .trail-line")).to_have_count(0)


def test_a_serial_and_a_focused_map_point_open_the_detail_with_the_keyboard(page, login, data):
    login(make_user("ann", clients=[data.clients[0]]))
    page.goto("/dashboard/")
    expect(rows(page)).to_have_count(8)
    first_serial = page.locator("#trackers-body .serial-link").first
    serial = first_serial.inner_text()

    first_serial.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-heading")).to_have_text(f"Tracker {serial}")
    page.click("#detail-close")
    expect(first_serial).to_be_focused()  # focus returns to what opened the detail

    page.locator("#tracker-map .map-point").last.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tracker-detail")).to_be_visible()


def test_two_brands_at_once_and_the_statistics_follow_the_filters(page, login, data, api_requests, screenshot):
    login(make_user("ann", clients=data.clients))
    page.goto("/dashboard/")
    expect(page.locator("#stats-strip .stat-total .stat-value")).to_have_text("16")
    picked = [data.brands[0], data.brands[2]]  # one brand of each client

    page.select_option("#filter-brand", [str(b.pk) for b in picked])

    expect(page).to_have_url(re.compile(rf"\?brand={picked[0].pk}(,|%2C){picked[1].pk}$"))
    expect(rows(page)).to_have_count(8)
    expect(page.locator("#stats-strip .stat-total .stat-value")).to_have_text("8")
    assert any(p.startswith("/api/trackers/stats/?brand_ids=") for p in api_requests)
    expect(page.locator("#filter-run option")).to_have_count(4)  # the runs of both brands
    screenshot("two-brands")


def test_a_status_card_filters_the_list_and_a_second_click_clears_it(page, login, data):
    client_a = data.clients[0]
    lost = [t for t in own(data, client_a) if t.current_status == "lost"]
    login(make_user("ann", clients=[client_a]))
    page.goto("/dashboard/")
    card = page.locator("#stats-strip .stat-button.stat-lost")

    card.click()

    expect(page).to_have_url(re.compile(r"\?status=lost$"))
    expect(rows(page)).to_have_count(len(lost))
    expect(page.locator("#filter-status")).to_have_value("lost")
    expect(page.locator("#stats-strip .stat-button.stat-lost")).to_have_attribute("aria-pressed", "true")

    page.locator("#stats-strip .stat-button.stat-lost").click()
    expect(rows(page)).to_have_count(8)


def test_a_slow_request_shows_the_loading_bar(page, login, data):
    login(make_user("ann", clients=[data.clients[0]]))
    held = []
    page.route(re.compile(r".*/api/trackers/\?.*"), lambda route: held.append(route))

    page.goto("/dashboard/")
    # The route handler runs when Playwright dispatches the browser's event, which can come after
    # the loading bar is already drawn (the page shows it before it sends the request): wait for it.
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the tracker request should be held"

    expect(page.locator("#loading")).to_be_visible()
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "loading")
    held[0].continue_()
    expect(rows(page)).to_have_count(8)
    expect(page.locator("#loading")).to_be_hidden()


def test_lazy_mode_shows_the_empty_state_over_the_map_and_in_the_list(page, login, data, settings, screenshot):
    settings.TRACKERS_LAZY_THRESHOLD = 5
    login(make_user("ann", clients=[data.clients[0]]))
    page.goto("/dashboard/")

    expect(page.locator("#map-empty")).to_have_text("Select filters to view trackers")
    expect(page.locator("#map-empty")).to_be_visible()
    expect(page.locator("#empty-heading")).to_have_text("Select filters to view trackers")
    expect(page.locator("#tracker-map .map-point")).to_have_count(0)
    screenshot("empty")

    page.select_option("#filter-status", "in_transit")
    expect(page.locator("#map-empty")).to_be_hidden()
    expect(page.locator("#tracker-map .map-point")).to_have_count(rows(page).count())


def test_at_390_px_the_list_is_cards_with_status_and_last_report_and_no_sideways_scroll(page, login, data, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    login(make_user("ann", clients=[data.clients[0]]))
    page.goto("/dashboard/")
    expect(rows(page)).to_have_count(8)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first = rows(page).first
    for label in ("Status", "Last report", "Location"):
        cell = first.locator(f'td[data-label="{label}"]')
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
        expect(cell).to_be_visible()
    screenshot("390")

    first.locator(".serial-link").click()
    expect(page.locator("#detail-body .detail-facts")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("390-detail")
