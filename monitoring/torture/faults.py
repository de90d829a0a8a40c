"""The torture run's own redis-server and the faults injected into the run.

The command never touches the configured Redis: with faults (or several processes on the
local-memory default) the workers use a redis-server started here on a free port, which is the
only server stalled, restarted or filled.
"""

import shutil
import signal
import socket
import subprocess
import threading
import time

KINDS = ("stall", "restart", "full", "kill-writer", "kill-relay")
STALL_SECONDS = 1.5
FULL_SECONDS = 3.0


def parse_faults(value: str) -> tuple[str, ...]:
    """Return the fault kinds of ``--faults`` (all, none, or a comma-separated list); ValueError names it."""
    value = (value or "none").strip().lower()
    if value == "all":
        return KINDS
    if value == "none":
        return ()
    kinds = tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"--faults: unknown kind {', '.join(unknown) or value!r}; use all, none or {','.join(KINDS)}")
    return kinds


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this run only: start, restart empty, stall, fill, stop."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, timeout: float = 5.0):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def start(self) -> "PrivateRedis":
        """Start the server (no persistence: a restart comes back empty) and wait for PING."""
        import redis

        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--enable-debug-command", "local"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client(0.2).ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the private redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server (its data is gone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart_empty(self) -> None:
        """Kill the server and start it again on the same port, with no data."""
        self.stop()
        self.start()

    def stall(self, seconds: float = STALL_SECONDS) -> threading.Thread:
        """Block the server for ``seconds`` (DEBUG SLEEP) from a background thread."""

        def sleep():
            import redis

            try:
                self.client(seconds + 5).execute_command("DEBUG", "SLEEP", seconds)
            except redis.RedisError:
                pass  # the server went away meanwhile (a restart): the stall is over anyway

        thread = threading.Thread(target=sleep, daemon=True)
        thread.start()
        return thread

    def fill(self) -> None:
        """Refuse every write from now on (maxmemory at the memory in use, noeviction); reads go on."""
        client = self.client()
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", str(used))

    def unfill(self) -> None:
        """Accept writes again."""
        self.client().config_set("maxmemory", "0")


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a child process and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
