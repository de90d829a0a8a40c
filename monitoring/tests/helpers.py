"""Helpers of the monitoring tests: a private redis-server the test starts and stops."""

import os
import shutil
import subprocess
import time

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}
STAFF_TOKEN = "monitoring-test-token-0123456789abcdef"


def need_binary(name: str) -> str:
    """Return the path of ``name``, or skip (fail under REQUIRE_SERVICES=1) when it is missing."""
    path = shutil.which(name)
    if not path:
        message = f"{name} is not installed (apt-get install -y {'redis-server' if 'redis' in name else 'prometheus'})"
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
        pytest.skip(message)
    return path


class RedisServer:
    """A throwaway redis-server on a private port, owned by one test."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self) -> "RedisServer":
        binary = need_binary("redis-server")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
