"""Private service instances for fault tests: started, frozen and killed by one test, never shared.

A fault test must never stop the PostgreSQL or Redis that the rest of the suite (and other
runs on the machine) use, so it starts its own redis-server on a free port and kills only that.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}
APT_PACKAGE = {
    "redis-server": "redis-server",
    "promtool": "prometheus",
    "chromium": "chromium",
    "jq": "jq",
    "curl": "curl",
}


def need_binary(name: str) -> str:
    """Return the path of ``name``, or skip (fail under REQUIRE_SERVICES=1) when it is missing."""
    path = shutil.which(name)
    if not path:
        message = f"{name} is not installed (apt-get install -y {APT_PACKAGE.get(name, name)})"
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
        pytest.skip(message)
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    Each socket stays bound until all are picked: asked one after the other, the kernel can hand
    the same ephemeral port out twice (seen once for two Sentinels of one topology).
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class PrivateRedisServer:
    """A redis-server of one test: start, freeze (SIGSTOP keeps the data), thaw, stop."""

    def __init__(self, *extra_args: str):
        self.binary = need_binary("redis-server")
        self.port = free_port()
        self.process = None
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedisServer":
        """Start the server and wait until it answers PING."""
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--enable-debug-command", "local", *self.extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"private redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def client(self):
        """Return a plain redis-py client of this server (for DEBUG SLEEP, CLIENT PAUSE, CONFIG SET)."""
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def freeze(self) -> None:
        """Stop answering but keep the data (SIGSTOP): clients hit their socket timeout."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Answer again after ``freeze``."""
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server (its data is gone)."""
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def cache_settings(self, default: dict, *, prefix: str = "fault") -> dict:
        """Return CACHES with ``default`` kept and an alias ``fault`` pointing at this server."""
        return {
            "default": default,
            "fault": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": self.url,
                "KEY_PREFIX": prefix,
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": 0.2,
                    "SOCKET_TIMEOUT": 0.2,
                    "SERIALIZER": "django_redis.serializers.pickle.PickleSerializer",
                },
            },
        }


class FrozenTcpProxy:
    """A TCP proxy on a free port in front of ``host:port`` that can stop forwarding (``freeze``).

    A frozen proxy keeps every connection open and its kernel still acknowledges what is sent,
    but no byte goes through: the silently dead connection that TCP keepalives cannot see.
    """

    def __init__(self, host: str, port: int):
        import threading

        self.target = (host, port)
        self.port = free_port()
        self._flowing = threading.Event()
        self._flowing.set()
        self._stop = threading.Event()
        self._sockets: list = []
        self._server = None

    def start(self) -> "FrozenTcpProxy":
        import threading

        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, target) -> None:
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                if self._stop.is_set():
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.close()
                except OSError:
                    pass

    def freeze(self) -> None:
        """Stop forwarding (connections stay open)."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward again."""
        self._flowing.set()

    def stop(self) -> None:
        """Close everything."""
        self._stop.set()
        self._flowing.set()
        for sock in [self._server, *self._sockets]:
            try:
                sock.close()
            except (OSError, AttributeError):
                pass
