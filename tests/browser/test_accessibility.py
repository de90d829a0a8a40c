"""axe-core on every page of the product, at 1280 and 390 px: no serious or critical violation."""

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import axe_violations
from tests.factories import make_dataset, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = [1280, 390]


@pytest.fixture
def data(transactional_db):
    return make_dataset(clients=1, brands_per_client=2, runs_per_brand=2, trackers_per_run=2, history_per_tracker=2)


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_with_the_detail_open(page, login, data, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(make_user("ann", clients=data.clients))
    page.goto("/dashboard/")
    expect(page.locator("#trackers-body tr")).to_have_count(8)
    assert axe_violations(page) == []

    page.locator("#tracker-map .map-point").first.click()
    expect(page.locator("#detail-body .detail-facts")).to_be_visible()
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_empty_state(page, login, data, settings, width):
    settings.TRACKERS_LAZY_THRESHOLD = 1
    page.set_viewport_size({"width": width, "height": 900})
    login(make_user("ann", clients=data.clients))
    page.goto("/dashboard/")
    expect(page.locator("#empty-state")).to_be_visible()
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_monitoring_page(page, login, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(make_user("ops", staff=True))
    page.goto("/monitoring/")
    expect(page.locator("#monitoring-charts")).to_have_attribute("aria-busy", "false")
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_login_page(page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/accounts/login/")
    assert axe_violations(page) == []


def test_filters_and_map_points_work_with_the_keyboard_alone(page, login, data):
    login(make_user("ann", clients=data.clients))
    page.goto("/dashboard/")
    expect(page.locator("#trackers-body tr")).to_have_count(8)

    page.locator("#filter-brand").focus()
    page.keyboard.press("ArrowDown")  # the first brand is selected with the keyboard

    expect(page.locator("#trackers-body tr")).to_have_count(4)
    point = page.locator("#tracker-map .map-point").first
    point.focus()
    page.keyboard.press(" ")
    expect(page.locator("#tracker-detail")).to_be_visible()
    expect(page.locator("#tracker-detail")).to_be_focused()
