"""Fixtures shared by the trackers tests."""

import pytest

from tests.factories import make_user


@pytest.fixture
def no_debounce(settings):
    """Make cache invalidations fire as soon as their transaction commits."""
    settings.CACHECORE_DEBOUNCE_SECONDS = 0


@pytest.fixture
def staff(db):
    """Return a staff user (sees every client)."""
    return make_user("staff", staff=True)
