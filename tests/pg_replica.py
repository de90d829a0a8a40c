"""A private PostgreSQL primary and one streaming replica, for the read-replica tests and benchmark.

Both servers run from ``/usr/lib/postgresql/<version>/bin`` (``PG_BIN`` overrides it) in one
temporary directory, on free loopback ports, never touching the machine's shared server:
``initdb`` makes the primary, ``pg_basebackup -R`` makes the replica (standby.signal and the
connection to the primary written by pg_basebackup itself). Cheap to start (small
shared_buffers, fsync off, no autovacuum): about two seconds. ``set_apply_delay(s)`` sets the
replica's ``recovery_min_apply_delay`` and reloads it, so one cluster serves both a lagging and a
caught-up replica. PostgreSQL refuses to run as root: when the tests run as root every command
runs as the ``postgres`` user (``runuser``), in a directory it owns.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.services import REQUIRE_SERVICES, free_ports

PG_VERSIONS = ("17", "16", "15")
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_buffers": "'16MB'",
    "fsync": "off",
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "autovacuum": "off",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "max_connections": "40",
    "logging_collector": "off",
}


def pg_bin_dir() -> Path | None:
    """Return the directory holding initdb, pg_ctl and pg_basebackup, or None."""
    configured = os.environ.get("PG_BIN")
    candidates = [Path(configured)] if configured else [Path(f"/usr/lib/postgresql/{v}/bin") for v in PG_VERSIONS]
    for path in candidates:
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres")):
            return path
    return None


def missing_reason() -> str | None:
    """Return why a private primary + replica cannot be started here, or None when it can."""
    if pg_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found: apt-get install -y postgresql"
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            return "running as root and runuser is missing (PostgreSQL refuses to run as root)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the servers as"
    return None


def skip_or_fail_without_binaries() -> None:
    """Skip the calling test (fail under REQUIRE_SERVICES=1) when the cluster cannot be started."""
    import pytest

    reason = missing_reason()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


class ReplicaCluster:
    """A primary and one streaming replica in a temporary directory; ``stop()`` removes both."""

    def __init__(self, *, database: str = "cw"):
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError(missing_reason())
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="cw-replica-"))
        self.primary_dir = self.root / "primary"
        self.replica_dir = self.root / "replica"
        self.primary_port, self.replica_port = free_ports(2)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def primary_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.primary_port}/{self.database}"

    @property
    def replica_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.replica_port}/{self.database}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "ReplicaCluster":
        """Create and start the primary, create the database, then clone and start the replica."""
        try:
            self._run("initdb", "-D", self.primary_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            self._configure(self.primary_dir, self.primary_port)
            self._append(self.primary_dir / "pg_hba.conf", "host replication postgres 127.0.0.1/32 trust\n")
            self._pg_ctl(self.primary_dir, "start")
            self.sql_primary(f'CREATE DATABASE "{self.database}"', database="postgres")
            self._run(
                "pg_basebackup",
                "-D",
                self.replica_dir,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary_port),
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "-c",
                "fast",
            )
            self._configure(self.replica_dir, self.replica_port)
            self._pg_ctl(self.replica_dir, "start")
            self.wait_caught_up()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers (immediate shutdown) and remove the directory."""
        for data in (self.replica_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                self._pg_ctl(data, "stop", "-m", "immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def set_apply_delay(self, seconds: float) -> None:
        """Make the replica apply each commit ``seconds`` after the primary made it (0: at once).

        ALTER SYSTEM works on a standby (it writes postgresql.auto.conf, not WAL); the reload
        makes the startup process use the new delay for the next commit record it meets.
        """
        millis = int(seconds * 1000)
        self.sql_replica(f"ALTER SYSTEM SET recovery_min_apply_delay = '{millis}ms'")
        self.sql_replica("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while self._apply_delay_ms() != millis:
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not take the new recovery_min_apply_delay")
            time.sleep(0.02)

    def _apply_delay_ms(self) -> int:
        return int(self.sql_replica("SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'"))

    def django_env(self, *, replica_url: str | None = None, **extra: str) -> dict:
        """Return an environment that runs the project on this primary with this replica.

        The embedded local-memory L2 (one process), no relay thread (the scenarios apply the
        outbox themselves), no connection pool (short-lived processes).
        """
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "TEST_DATABASE_NAME"}}
        env.update(
            DJANGO_SETTINGS_MODULE="config.test_settings",
            DATABASE_URL=self.primary_url,
            DATABASE_REPLICA_URLS=replica_url or self.replica_url,
            DATABASE_POOL="0",
            CACHECORE_RELAY_THREAD="0",
            ENV_FILE="",
        )
        env.update(extra)
        return env

    def migrate(self) -> None:
        """Create the project's tables (the test settings' apps) on the primary; the replica follows."""
        self.manage("migrate", "-v", "0", timeout=300)

    def manage(self, *args: str, timeout: float = 600) -> None:
        """Run ``manage.py <args>`` against the private primary, then wait for the replica to catch up."""
        root = Path(__file__).resolve().parent.parent
        done = subprocess.run(
            [sys.executable, str(root / "manage.py"), *args],
            cwd=root,
            env=self.django_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} on the private primary failed: {done.stderr[-3000:]}")
        self.wait_caught_up()

    def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        target = self.sql_primary("SELECT pg_current_wal_insert_lsn()")
        # An idle primary's insert position may lie past the end of its last record (a page
        # header): write one record after it, so the replica can reach it.
        self.sql_primary("SELECT pg_logical_emit_message(false, 'cw', 'sync')")
        deadline = time.monotonic() + timeout
        while self.sql_replica(f"SELECT coalesce(pg_last_wal_replay_lsn() >= '{target}'::pg_lsn, false)") != "t":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not replay up to {target} within {timeout} s")
            time.sleep(0.05)

    # -- SQL ----------------------------------------------------------------------------------

    def sql_primary(self, statement: str, *, database: str | None = None) -> str:
        """Run one statement on the primary with psql; return its output (unaligned, no header)."""
        return self._psql(self.primary_port, statement, database or self.database)

    def sql_replica(self, statement: str) -> str:
        """Run one statement on the replica with psql; return its output."""
        return self._psql(self.replica_port, statement, "postgres")

    def _psql(self, port: int, statement: str, database: str) -> str:
        psql = shutil.which("psql") or str(self.bin / "psql")
        done = subprocess.run(
            [psql, "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database]
            + ["-v", "ON_ERROR_STOP=1", "-c", statement],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"psql on port {port} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    # -- helpers ------------------------------------------------------------------------------

    def _configure(self, data: Path, port: int) -> None:
        lines = [f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items()]
        self._append(data / "postgresql.conf", f"port = {port}\n" + "".join(lines))

    def _append(self, path: Path, text: str) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)

    def _pg_ctl(self, data: Path, *args: str, check: bool = True) -> None:
        log = data.parent / f"{data.name}.log"
        extra = ("-w", "-t", "30", "-l", log) if args[0] in {"start", "stop"} else ()
        self._run("pg_ctl", "-D", data, *extra, *args, check=check)

    def _run(self, tool: str, *args, check: bool = True) -> None:
        command = [str(self.bin / tool), *(str(a) for a in args)]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if check and done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
