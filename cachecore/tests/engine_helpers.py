"""Helpers shared by the engine tests: throwaway namespaces, a fake clock, a counting compute."""

import itertools
import threading

import pytest

from cachecore.namespaces import Namespace, register_namespace, unregister_namespace

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


class RedisServer:
    """A private redis-server the fault tests start, freeze, kill and restart (never the shared one)."""

    PORTS = range(6390, 6395)

    def __init__(self):
        import shutil

        self.binary = shutil.which("redis-server")
        self.port = self._free_port()
        self.process = None

    @classmethod
    def _free_port(cls) -> int:
        import socket

        for port in cls.PORTS:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return port
        raise RuntimeError(f"no free port for a private redis-server in {cls.PORTS}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def freeze(self) -> None:
        """Stop answering but keep the data (SIGSTOP): clients hit their socket timeout."""
        import signal

        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        import signal

        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def cache_settings(self, default: dict) -> dict:
        """Return CACHES with an extra alias ``fault`` pointing at this server."""
        return {
            "default": default,
            "fault": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": self.url,
                "KEY_PREFIX": "h1fault",
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": 0.2,
                    "SOCKET_TIMEOUT": 0.2,
                    "SERIALIZER": "django_redis.serializers.pickle.PickleSerializer",
                },
            },
        }
