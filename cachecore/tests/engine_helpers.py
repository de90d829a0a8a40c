"""Helpers shared by the engine tests: throwaway namespaces, a fake clock, a counting compute."""

import itertools
import threading

import pytest

from cachecore.namespaces import Namespace, register_namespace, unregister_namespace
from tests.services import PrivateRedisServer

_names = itertools.count()


class FakeClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Counter:
    """A compute() that returns a fresh value per call and counts its calls (thread-safe)."""

    def __init__(self, make=None):
        self.calls = 0
        self._lock = threading.Lock()
        self._make = make or (lambda n: {"n": n})

    def __call__(self):
        with self._lock:
            self.calls += 1
            n = self.calls
        return self._make(n)


@pytest.fixture
def make_ns():
    """Return a factory registering a uniquely named namespace, unregistered after the test."""
    created = []

    def factory(**kwargs):
        kwargs.setdefault("params", ("user_id", "strategy_id", "ids"))
        kwargs.setdefault("unordered", ("ids",))
        ns = Namespace(name=kwargs.pop("name", f"test.ns{next(_names)}"), **kwargs)
        register_namespace(ns)
        created.append(ns.name)
        return ns

    yield factory
    for name in created:
        unregister_namespace(name)


def user_scope(params: dict) -> str | None:
    """Scope by user, as the comprehensive user data does."""
    return None if params.get("user_id") is None else f"user:{params['user_id']}"


RedisServer = PrivateRedisServer  # the fault tests' private server (tests/services.py)


@pytest.fixture
def breaker_clock():
    """Put the L2 circuit breaker on a fake clock (``advance`` it past the cooldown)."""
    from cachecore import tiers

    tiers.l2_breaker.clock = clock = FakeClock()
    return clock


def run_sqlite_worker(db_path, action: str, value: str = ""):
    """Run ``cachecore/tests/sqlite_worker.py`` (a separate process on a shared SQLite file); return it done."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).with_name("sqlite_worker.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "PROMETHEUS_MIDDLEWARE": "0"}
    return subprocess.run(
        [sys.executable, str(worker), str(db_path), action, value], env=env, capture_output=True, text=True, timeout=120
    )
