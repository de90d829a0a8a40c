"""Fixtures of the content-planning tests: a counting AI provider and users with data."""

import threading

import pytest
from rest_framework.test import APIClient

from contentplanning import providers
from contentplanning.tests.analysis_service import running_service
from contentplanning.tests.factories import make_content_user


class CountingProvider:
    """Wrap the local provider, count calls, and fail on demand."""

    name = "local"

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()  # prewarming calls from worker threads
        self.failure: Exception | None = None
        self.inner = providers.LocalAnalysisProvider(latency=0)

    def analyse(self, context: dict) -> dict:
        with self._lock:
            self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.inner.analyse(context)


@pytest.fixture
def provider(monkeypatch):
    """Return the counting provider every computation in the test uses."""
    counting = CountingProvider()
    monkeypatch.setattr(providers, "_provider", counting)
    return counting


@pytest.fixture
def alice(db):
    return make_content_user("alice")


@pytest.fixture
def bob(db):
    return make_content_user("bob")


@pytest.fixture
def staff(db):
    return make_content_user("staff", staff=True, strategies=0, onboarding=False)


@pytest.fixture
def api():
    """Return a DRF test client; ``api.force_authenticate(user)`` picks the caller."""
    return APIClient()


@pytest.fixture
def analysis_service():
    """Start a real HTTP analysis service on this helper's port; stop it after the test."""
    with running_service() as server:
        yield server
