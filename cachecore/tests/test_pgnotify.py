"""The PostgreSQL path: NOTIFY triggers, the listener (reconnects, catch-up), the command."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from cachalot.api import get_last_invalidation
from django.core.management import CommandError, call_command
from django.db import connection, connections

from cachecore import invalidation, pgnotify
from cachecore.backoff import Backoff
from cachecore.invalidation import get_debouncer
from cachecore.pgnotify import InstallNotifyTriggers, Listener, invalidation_handlers, parse_payload
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import BumpSpy, temporary_namespace
from cachecore.tests.test_coherence import wait_until
from trackers.models import Brand, Client

NOTIFIED_TABLES = [
    "trackers_brand",
    "trackers_client",
    "trackers_deliverylocation",
    "trackers_image",
    "trackers_locationhistory",
    "trackers_productionrun",
    "trackers_storagelocation",
    "trackers_tracker",
]


class TestPayloads:
    def test_valid_payload(self):
        assert parse_payload('{"table": "trackers_brand", "op": "UPDATE"}') == ("trackers_brand", "UPDATE")

    @pytest.mark.parametrize("payload", ["", "not json", "{}", "[1]", '{"op": "UPDATE"}'])
    def test_malformed_payload_is_ignored(self, payload):
        assert parse_payload(payload) is None


class FakeNotify:
    def __init__(self, table, op="UPDATE"):
        self.payload = json.dumps({"table": table, "op": op})


class FakeConnection:
    """Enough of a psycopg connection: scripted batches of notifications, then an optional error."""

    def __init__(self, batches, pid, error=None):
        self.batches = list(batches)
        self.error = error
        self.executed = []
        self.closed = False
        self.info = type("Info", (), {"backend_pid": pid})()

    def execute(self, sql):
        self.executed.append(sql)

    def notifies(self, timeout=None):
        if self.batches:
            yield from self.batches.pop(0)
        elif self.error is not None:
            raise self.error
        else:
            threading.Event().wait(0.01)

    def close(self):
        self.closed = True


class TestListenerLoop:
    def make(self, connections_, **kwargs):
        self.notified, self.connected = [], []
        pending = list(connections_)
        return Listener(
            lambda: pending.pop(0),
            lambda table, op: self.notified.append((table, op)),
            self.connected.append,
            backoff=Backoff(initial=0, maximum=0),
            **kwargs,
        )

    def test_notifications_reach_the_callback_after_listen(self):
        conn = FakeConnection([[FakeNotify("trackers_brand"), FakeNotify("trackers_image", "TRUNCATE")]], pid=7)
        listener = self.make([conn])
        stats = listener.run(max_notifications=2)
        assert conn.executed == ["LISTEN cachecore_invalidate"]
        assert self.notified == [("trackers_brand", "UPDATE"), ("trackers_image", "TRUNCATE")]
        assert self.connected == [True]
        assert (stats.notifications, stats.connects) == (2, 1)
        assert conn.closed

    def test_lost_connection_reconnects_and_catches_up(self):
        first = FakeConnection([[FakeNotify("trackers_brand")]], pid=1, error=OSError("server closed the connection"))
        second = FakeConnection([[FakeNotify("trackers_client")]], pid=2)
        listener = self.make([first, second])
        stats = listener.run(max_notifications=2)
        assert self.connected == [True, False]  # the second connect is a reconnect
        assert self.notified == [("trackers_brand", "UPDATE"), ("trackers_client", "UPDATE")]
        assert (stats.connects, stats.lost_connections) == (2, 1)
        assert listener.backend_pid == 2
        assert first.closed and second.closed

    def test_failed_connects_are_retried(self):
        attempts = []

        def connect():
            attempts.append(1)
            if len(attempts) < 3:
                raise OSError("connection refused")
            return FakeConnection([[FakeNotify("trackers_brand")]], pid=3)

        listener = Listener(connect, lambda t, o: None, lambda first: None, backoff=Backoff(initial=0, maximum=0))
        stats = listener.run(max_notifications=1)
        assert len(attempts) == 3
        assert (stats.connects, stats.lost_connections) == (1, 0)

    def test_stop_ends_the_run(self):
        listener = self.make([FakeConnection([], pid=4)])
        thread = threading.Thread(target=listener.run)
        thread.start()
        assert listener.listening.wait(5)
        listener.stop()
        thread.join(5)
        assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
class TestHandlers:
    def test_notification_feeds_the_debouncer_and_cachalot(self):
        with temporary_namespace("test.pg.brands"):
            on_notify, _ = invalidation_handlers({"trackers_brand": ("test.pg.brands",)})
            before = get_last_invalidation("trackers_brand")
            on_notify("trackers_brand", "UPDATE")
            assert ("test.pg.brands", None) in get_debouncer().pending()
            assert get_last_invalidation("trackers_brand") > before

    def test_unwatched_table_is_ignored(self):
        on_notify, _ = invalidation_handlers({})
        on_notify("some_table", "INSERT")
        assert get_debouncer().pending() == {}

    def test_connect_invalidates_everything_watched_now(self, monkeypatch):
        bumps = BumpSpy(monkeypatch)
        with temporary_namespace("test.pg.a"), temporary_namespace("test.pg.b"):
            tables = {"trackers_brand": ("test.pg.a",), "trackers_tracker": ("test.pg.b",)}
            _, on_connect = invalidation_handlers(tables)
            on_connect(False)
        assert bumps.count("test.pg.a") == 1 and bumps.count("test.pg.b") == 1

    def test_registry_maps_tables_to_namespaces(self):
        with temporary_namespace("test.pg.reg", watch=[Brand]):
            assert "test.pg.reg" in invalidation.watched_tables()["trackers_brand"]


class TestOperation:
    def test_deconstruct_round_trips(self):
        name, args, kwargs = InstallNotifyTriggers(["a", "b"]).deconstruct()
        assert (name, args, kwargs) == ("InstallNotifyTriggers", [["a", "b"]], {})
        assert InstallNotifyTriggers(*args).tables == ("a", "b")

    @pytest.mark.django_db(transaction=True)
    def test_is_a_no_op_elsewhere_than_postgresql(self):
        if connection.vendor == "postgresql":
            pytest.skip("checks the non-PostgreSQL path")
        with connection.schema_editor() as editor:
            InstallNotifyTriggers(["trackers_brand"]).database_forwards("trackers", editor, None, None)
            InstallNotifyTriggers(["trackers_brand"]).database_backwards("trackers", editor, None, None)
        assert pgnotify.installed_triggers() == []

    @pytest.mark.django_db
    def test_command_needs_postgresql(self):
        if connection.vendor == "postgresql":
            pytest.skip("checks the non-PostgreSQL path")
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("listen_invalidations", max_seconds=1)


def run_listener(listener: Listener) -> threading.Thread:
    def target():
        try:
            listener.run()
        finally:
            connections.close_all()  # the thread's Django connections (firing deletes L3 rows)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def listener():
    on_notify, on_connect = invalidation_handlers()
    running = Listener(pgnotify.psycopg_connector(), on_notify, on_connect, backoff=Backoff(initial=0.05, maximum=0.2))
    running.poll_seconds = 0.05
    thread = run_listener(running)
    assert running.listening.wait(10), "the listener did not connect"
    yield running
    running.stop()
    thread.join(10)


def brand_names():
    return sorted(Brand.objects.values_list("name", flat=True))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
class TestOnPostgres:
    def test_migration_installed_the_triggers(self):
        assert set(NOTIFIED_TABLES) <= set(pgnotify.installed_triggers())

    def test_membership_edits_are_notified_too(self):
        # trackers 0003: a raw SQL membership change must refresh the user's cached client set.
        assert "trackers_clientmembership" in pgnotify.installed_triggers()

    def test_the_trackers_migration_reverses_and_reapplies(self):
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(connection)
        migration = loader.get_migration("trackers", "0002_notify_triggers")
        with connection.schema_editor() as editor:
            migration.unapply(loader.project_state(("trackers", "0002_notify_triggers")), editor)
        remaining = pgnotify.installed_triggers()
        assert not set(NOTIFIED_TABLES) & set(remaining)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regproc('cachecore_notify') IS NULL")
            # The shared function goes with its last trigger (other apps' migrations may keep it).
            assert cursor.fetchone()[0] is (not remaining)
        with connection.schema_editor() as editor:
            migration.apply(loader.project_state(("trackers", "0001_initial")), editor)
        assert set(NOTIFIED_TABLES) <= set(pgnotify.installed_triggers())

    def test_operation_reverses_and_reapplies(self):
        operation = InstallNotifyTriggers(["trackers_image"])
        with connection.schema_editor() as editor:
            operation.database_backwards("trackers", editor, None, None)
        assert "trackers_image" not in pgnotify.installed_triggers()
        assert "trackers_brand" in pgnotify.installed_triggers()  # the shared function survived
        with connection.schema_editor() as editor:
            operation.database_forwards("trackers", editor, None, None)
        assert "trackers_image" in pgnotify.installed_triggers()

    def test_raw_sql_update_is_invalidated_through_the_listener(self, listener):
        brand = Brand.objects.create(client=Client.objects.create(name="c"), name="old")
        with temporary_namespace("test.pg.raw", watch=[Brand], l1_ttl=300, l2_ttl=300, debounce=0):
            assert get_or_compute("test.pg.raw", {}, brand_names)[0] == ["old"]
            with connection.cursor() as cursor:  # bypasses the ORM: no signal, only the trigger
                cursor.execute("UPDATE trackers_brand SET name = 'new' WHERE id = %s", [brand.pk])
            assert wait_until(lambda: get_or_compute("test.pg.raw", {}, brand_names)[0] == ["new"], timeout=10)
        assert listener.stats.notifications >= 1

    def test_terminated_connection_reconnects_and_invalidates_everything(self, listener, monkeypatch):
        bumps = BumpSpy(monkeypatch)
        with temporary_namespace("test.pg.kill", watch=[Brand], l1_ttl=300, l2_ttl=300):
            get_or_compute("test.pg.kill", {}, lambda: "cached")
            old_pid = listener.backend_pid
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
            assert wait_until(lambda: listener.stats.connects >= 2 and listener.listening.is_set(), timeout=15)
            assert listener.backend_pid != old_pid
            assert listener.stats.lost_connections >= 1
            assert wait_until(lambda: bumps.count("test.pg.kill") >= 1)  # the catch-up invalidation
            assert get_or_compute("test.pg.kill", {}, lambda: "recomputed")[0] == "recomputed"
            # And it still listens: a raw write after the reconnect is delivered.
            before = listener.stats.notifications
            with connection.cursor() as cursor:
                cursor.execute("UPDATE trackers_brand SET name = name")
            assert wait_until(lambda: listener.stats.notifications > before, timeout=10)

    def test_command_bounded_run(self, capsys):
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            call_command("listen_invalidations", max_seconds=0.5)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        out = capsys.readouterr().out
        assert "Listening on cachecore_invalidate" in out
        assert "Stopped: 0 notification(s), 1 connection(s), 0 lost" in out

    def test_command_rejects_bad_bounds(self):
        with pytest.raises(CommandError, match="--max-seconds must be greater than 0"):
            call_command("listen_invalidations", max_seconds=0)

    def test_sigterm_stops_the_command_cleanly(self):
        db = connection.settings_dict
        from urllib.parse import quote

        auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": url}
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "listen_invalidations"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().startswith("Listening on"), proc.stderr.read()
            assert wait_until(lambda: _listening_backends(db["NAME"]) > 0, timeout=10)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        assert proc.returncode == 0, err
        assert "Stopped:" in out


def _listening_backends(dbname: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN cachecore_invalidate%%'",
            [dbname],
        )
        return cursor.fetchone()[0]


def test_a_failing_handler_does_not_drop_the_connection():
    def broken(table, op):
        raise LookupError("unregistered namespace")

    conn = FakeConnection([[FakeNotify("a"), FakeNotify("b")]], pid=9)
    listener = Listener(lambda: conn, broken, lambda first: None, backoff=Backoff(initial=0, maximum=0))
    stats = listener.run(max_notifications=2)
    assert (stats.notifications, stats.connects, stats.lost_connections) == (2, 1, 0)
