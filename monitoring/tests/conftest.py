"""Shared fixtures of the monitoring tests (the browser harness is reused from tests/browser)."""

import pytest

from monitoring.performance import tracker
from tests.browser.conftest import browser, login, page, screenshot  # noqa: F401 - fixtures for test_page.py


@pytest.fixture
def fresh_tracker():
    """Return the process tracker, emptied before and after the test."""
    tracker.reset()
    yield tracker
    tracker.reset()
