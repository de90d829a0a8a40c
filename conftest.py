"""Shared test configuration: service markers, cache isolation and query-count helpers.

Tests marked ``postgres`` need the suite to run on PostgreSQL (DATABASE_URL=postgres://...);
tests marked ``redis`` need REDIS_URL. Elsewhere they skip with a one-line reason, unless
REQUIRE_SERVICES=1, where a missing or unreachable service fails the run instead.
"""

import os
from functools import cache

import pytest
from django.conf import settings

from tests.helpers import QueryCounter

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


@cache
def redis_problem() -> str | None:
    """Return why Redis cannot be used by this run, or None when it can."""
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    from config.redis_sentinel import redis_client

    try:
        redis_client(settings.REDIS_URL, settings.REDIS_SENTINELS, timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} is unreachable: {exc}"
    return None


def postgres_problem() -> str | None:
    """Return why PostgreSQL cannot be used by this run, or None when it can."""
    if not settings.IS_POSTGRES:
        return "the suite is not running on PostgreSQL (DATABASE_URL is not postgres://)"
    return None


def pytest_collection_modifyitems(config, items):
    problems = {"postgres": postgres_problem(), "redis": redis_problem()}
    for item in items:
        for marker, problem in problems.items():
            # With REQUIRE_SERVICES=1 a problem already stopped the session in pytest_sessionstart.
            if problem and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"{marker}: {problem}"))


def pytest_sessionstart(session):
    if not REQUIRE_SERVICES:
        return
    missing = [p for p in (postgres_problem(), redis_problem()) if p]
    if missing:
        raise pytest.UsageError("REQUIRE_SERVICES=1 but: " + "; ".join(missing))


@pytest.fixture(autouse=True)
def _isolated_caches():
    """Start every test with empty caches so no test sees another's cached values."""
    from django.core.cache import caches

    for alias in settings.CACHES:
        caches[alias].clear()
    _reset_cachecore()
    yield
    _reset_cachecore()


def _reset_cachecore():
    try:
        from cachecore import testing
    except ImportError:  # the engine's test hooks are optional
        return
    testing.reset()
    from monitoring import shared_stats

    shared_stats.forget()  # history deltas are taken against counters that reset() just zeroed


@pytest.fixture
def count_queries():
    """Return a context manager that records the SQL queries run inside it."""
    return QueryCounter


def _empty_outbox_after_flush(sender=None, using="default", **kwargs):
    # A transactional test ends with a flush: one TRUNCATE of every table, which fires the
    # PostgreSQL triggers of the watched tables, whose rows land in the freshly emptied outbox.
    # Those rows describe no write of the next test; drop them (tests only: in production a
    # migration's post_migrate must never discard pending invalidations).
    if getattr(sender, "label", None) != "cachecore":
        return  # post_migrate is sent once per app
    from cachecore.models import InvalidationOutbox

    # cachecore's post_migrate comes after its own migrations ran: the table exists.
    InvalidationOutbox.objects.using(using).all()._raw_delete(using)


def pytest_configure(config):
    from django.db.models.signals import post_migrate

    post_migrate.connect(_empty_outbox_after_flush, dispatch_uid="tests.empty_outbox_after_flush")


@pytest.fixture(scope="session")
def replica_cluster():
    """A private PostgreSQL primary and streaming replica with the project's tables, shared by the session.

    Skipped (failed under REQUIRE_SERVICES=1) where the server binaries are missing.
    """
    from tests.pg_replica import ReplicaCluster, skip_or_fail_without_binaries

    skip_or_fail_without_binaries()
    cluster = ReplicaCluster().start()
    try:
        cluster.migrate()
        yield cluster
    finally:
        cluster.stop()
