"""Browser-test harness: Debian's chromium driven by playwright against pytest-django's live_server.

Tests marked ``browser`` get a fresh ``page`` (its own context, so no cookie leaks between tests)
from one chromium process per test module. Without ``/usr/bin/chromium`` they skip with a reason,
unless REQUIRE_SERVICES=1, where a missing browser fails the run. Never ``playwright install``:
the machine has no internet beyond package registries; install Debian's ``chromium`` instead.
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}
TIMEOUT_MS = 10_000


def chromium_problem() -> str | None:
    """Return why chromium cannot be driven here, or None when it can."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


# Module scope, not session: while playwright runs, its event loop counts as running in this
# thread, so the async-unsafe override below must not outlive the browser tests into other tests.
@pytest.fixture(scope="module")
def browser():
    """Launch one headless chromium for the test module."""
    problem = chromium_problem()
    if problem:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but browser: {problem}")
        pytest.skip(f"browser: {problem}")
    from playwright.sync_api import sync_playwright

    # playwright's sync API runs an event loop in this thread; Django would then refuse ORM calls
    # made from the test body (factories, force_login) as "async unsafe". They are safe here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, transactional_db):
    """Return a fresh page in its own browser context, pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    # Offline product: any request to a host other than the server's is refused and fails the test.
    foreign_requests = []
    local = urlsplit(live_server.url).netloc

    def refuse_foreign(route):
        foreign_requests.append(route.request.url)
        route.abort()

    context.route(
        lambda url: urlsplit(url).scheme in {"http", "https"} and urlsplit(url).netloc != local, refuse_foreign
    )
    page = context.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    yield page
    context.close()
    assert not script_errors, f"the page raised script errors: {script_errors}"
    assert not foreign_requests, f"the page requested other hosts: {foreign_requests}"


SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"  # git-ignored


@pytest.fixture
def screenshot(page, request):
    """Return a function that saves a full-page screenshot under artifacts/screenshots/.

    ``BROWSER_SCREENSHOTS`` names another folder; set it empty to save none.
    """
    folder = os.environ.get("BROWSER_SCREENSHOTS", str(SCREENSHOTS))

    def save(label: str) -> None:
        if folder:
            os.makedirs(folder, exist_ok=True)
            page.screenshot(path=os.path.join(folder, f"{request.node.name}-{label}.png"), full_page=True)

    return save


@pytest.fixture
def login(page, live_server):
    """Return a function that logs ``user`` into ``page`` by handing it a real session cookie."""

    def login_as(user):
        django_client = Client()
        django_client.force_login(user)
        cookie = django_client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        return user

    return login_as


@pytest.fixture
def api_requests(page):
    """Record the paths (with query) of every /api/ request the page makes."""
    seen: list[str] = []

    def record(request):
        parts = urlsplit(request.url)
        if parts.path.startswith("/api/"):
            seen.append(parts.path + ("?" + parts.query if parts.query else ""))

    page.on("request", record)
    return seen
