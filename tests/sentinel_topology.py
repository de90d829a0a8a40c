"""A private Redis Sentinel topology of one test: a master, a replica and three Sentinels.

Everything runs from ``redis-server`` (``--sentinel`` for the Sentinels) on free loopback ports,
with its files in a temporary directory, and is stopped (only it) by the test that started it.
Sentinel timings are low (``down-after-milliseconds`` 1000, ``failover-timeout`` 5000), so killing
the master promotes the replica within a few seconds. Missing binaries skip the test (fail under
REQUIRE_SERVICES=1), as for ``tests.services.PrivateRedisServer``.

    topology = SentinelTopology(tmp_path).start()
    env = topology.env(db=0)          # REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_SERVICE
    old = topology.kill_master()      # SIGKILL (or topology.switchover(): SENTINEL FAILOVER)
    topology.wait_for_failover(old)   # the replica is the master the Sentinels name
    topology.stop()
"""

import secrets
import signal
import subprocess
import time
from pathlib import Path

from tests.services import free_ports, need_binary

SERVICE = "cwsentinel"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def _client(port: int, timeout: float = 1.0):
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=timeout, socket_timeout=timeout)


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):
    import redis

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"sentinel topology: {what} within {timeout} s")
        time.sleep(interval)


class SentinelTopology:
    """One master, one replica and three Sentinels (quorum 2) monitoring them as ``service``."""

    def __init__(self, directory: Path, service: str | None = None):
        self.binary = need_binary("redis-server")
        self.directory = Path(directory)
        self.master_port, self.replica_port, *self.sentinel_ports = free_ports(5)
        # One name per topology: django-redis keeps its connection pools per URL for the process.
        self.service = service or f"{SERVICE}{self.master_port}"
        self.sentinel_ids = {port: secrets.token_hex(20) for port in self.sentinel_ports}
        self.processes: dict[int, subprocess.Popen] = {}

    # --- start / stop -------------------------------------------------------------------------
    def start(self) -> "SentinelTopology":
        """Start everything and wait until the Sentinels know the replica and each other."""
        try:
            self._start_data(self.master_port)
            self._start_data(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
            _wait(self._replica_in_sync, 15, "the replica did not sync")
            for port in self.sentinel_ports:
                self._start_sentinel(port)
            _wait(self._sentinels_ready, 20, "the Sentinels did not discover the replica and each other")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill every process of the topology."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(5)
        self.processes.clear()

    def _start_data(self, port: int, *extra: str) -> None:
        directory = self.directory / f"redis-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
        command += ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra]
        self._spawn(port, command)
        _wait(lambda: _client(port, 0.2).ping(), 10, f"redis-server on port {port} did not start")

    def _start_sentinel(self, port: int) -> None:
        conf = self.directory / f"sentinel-{port}.conf"  # Sentinel rewrites its file: one each
        # The replica and the other Sentinels are written in the file (with fixed ids) instead of
        # discovered (INFO every 10 s, hellos every 2 s): the topology is ready in a fraction of that.
        known = "".join(
            f"sentinel known-sentinel {self.service} 127.0.0.1 {other} {self.sentinel_ids[other]}\n"
            for other in self.sentinel_ports
            if other != port
        )
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel myid {self.sentinel_ids[port]}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {self.service} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {self.service} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {self.service} 1\n"
            f"sentinel known-replica {self.service} 127.0.0.1 {self.replica_port}\n" + known
        )
        self._spawn(port, [self.binary, str(conf), "--sentinel"])
        _wait(lambda: _client(port, 0.2).ping(), 10, f"the Sentinel on port {port} did not start")

    def _spawn(self, port: int, command: list[str]) -> None:
        log = (self.directory / f"{port}.log").open("wb")
        self.processes[port] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _replica_in_sync(self) -> bool:
        info = _client(self.replica_port).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for port in self.sentinel_ports:
            state = _client(port).sentinel_master(self.service)
            if int(state.get("num-slaves", 0)) < 1 or int(state.get("num-other-sentinels", 0)) < 2:
                return False
        return True

    # --- configuration ------------------------------------------------------------------------
    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """Return the Sentinels' addresses."""
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    def url(self, db: int = 0) -> str:
        """Return the REDIS_URL naming the service."""
        return f"redis://{self.service}/{db}"

    def env(self, db: int = 0) -> dict[str, str]:
        """Return the environment that points the settings at this topology."""
        return {
            "REDIS_URL": self.url(db),
            "REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in self.sentinels),
            "REDIS_SENTINEL_SERVICE": self.service,
        }

    def cache_options(self, timeout: float = 0.5) -> dict:
        """Return the django-redis OPTIONS that config/settings.py builds for this topology."""
        return {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": timeout,
            "SOCKET_TIMEOUT": timeout,
            "SERIALIZER": "django_redis.serializers.pickle.PickleSerializer",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": self.sentinels,
            "SENTINEL_KWARGS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }

    # --- faults -------------------------------------------------------------------------------
    def master_address(self) -> tuple[str, int] | None:
        """Return the master the first Sentinel that answers names, or None."""
        import redis

        for port in self.sentinel_ports:
            try:
                host, master_port = _client(port, 0.5).sentinel_get_master_addr_by_name(self.service)
                return host.decode() if isinstance(host, bytes) else host, int(master_port)
            except (redis.RedisError, TypeError):
                continue
        return None

    def master_client(self):
        """Return a plain client of the current master (by the Sentinels' answer)."""
        _host, port = self.master_address()
        return _client(port, 2.0)

    def freeze(self, port: int) -> None:
        """Stop a server answering without closing its connections (SIGSTOP)."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def thaw(self, port: int) -> None:
        """Let a frozen server answer again (SIGCONT)."""
        self.processes[port].send_signal(signal.SIGCONT)

    def switchover(self) -> int:
        """Ask a Sentinel for a planned failover (the master stays up and is demoted); return its port."""
        _host, port = self.master_address()
        _client(self.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", self.service)
        return port

    def kill_master(self) -> int:
        """SIGKILL the current master; return its port."""
        _host, port = self.master_address()
        process = self.processes[port]
        process.kill()
        process.wait(5)
        return port

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until every Sentinel names another master that answers as master; return its port."""

        def promoted():
            ports = set()
            for port in self.sentinel_ports:
                _host, master_port = _client(port, 0.5).sentinel_get_master_addr_by_name(self.service)
                ports.add(int(master_port))
            if len(ports) != 1 or old_port in ports:
                return None
            (port,) = ports
            return port if _client(port).info("replication").get("role") == "master" else None

        return _wait(promoted, timeout, "no failover", interval=0.1)
