"""The PostgreSQL path: outbox triggers, the NOTIFY listener that wakes relays, the relay command."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from cachalot.api import get_last_invalidation
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from cachecore import invalidation, pgnotify, relay
from cachecore.backoff import Backoff
from cachecore.models import InvalidationOutbox
from cachecore.pgnotify import InstallNotifyTriggers, Listener, parse_payload
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import BumpSpy, pending_tables, temporary_namespace
from cachecore.tests.test_coherence import wait_until
from cachecore.tests.testapp.models import Item, Owner

TRIGGERED_TABLES = ["cachecore_testapp_item", "cachecore_testapp_owner", "cachecore_testapp_part"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_test_apps_migration_installed_its_triggers():
    assert set(TRIGGERED_TABLES) <= set(pgnotify.installed_triggers())


class TestPayloads:
    def test_a_table_name(self):
        assert parse_payload("cachecore_testapp_item") == "cachecore_testapp_item"

    def test_the_first_waves_json_payload(self):
        assert parse_payload('{"table": "cachecore_testapp_item", "op": "UPDATE"}') == "cachecore_testapp_item"

    @pytest.mark.parametrize("payload", ["", "{}", "{not json", '{"op": "UPDATE"}'])
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
            self.notified.append,
            self.connected.append,
            backoff=Backoff(initial=0, maximum=0),
            **kwargs,
        )

    def test_notifications_reach_the_callback_after_listen(self):
        conn = FakeConnection(
            [[FakeNotify("cachecore_testapp_item"), FakeNotify("cachecore_testapp_part", "TRUNCATE")]], pid=7
        )
        listener = self.make([conn])
        stats = listener.run(max_notifications=2)
        assert conn.executed == ["LISTEN cachecore_invalidate"]
        assert self.notified == ["cachecore_testapp_item", "cachecore_testapp_part"]
        assert self.connected == [True]
        assert (stats.notifications, stats.connects) == (2, 1)
        assert conn.closed

    def test_lost_connection_reconnects_and_catches_up(self):
        first = FakeConnection(
            [[FakeNotify("cachecore_testapp_item")]], pid=1, error=OSError("server closed the connection")
        )
        second = FakeConnection([[FakeNotify("cachecore_testapp_owner")]], pid=2)
        listener = self.make([first, second])
        stats = listener.run(max_notifications=2)
        assert self.connected == [True, False]  # the second connect is a reconnect
        assert self.notified == ["cachecore_testapp_item", "cachecore_testapp_owner"]
        assert (stats.connects, stats.lost_connections) == (2, 1)
        assert listener.backend_pid == 2
        assert first.closed and second.closed

    def test_failed_connects_are_retried(self):
        attempts = []

        def connect():
            attempts.append(1)
            if len(attempts) < 3:
                raise OSError("connection refused")
            return FakeConnection([[FakeNotify("cachecore_testapp_item")]], pid=3)

        listener = Listener(connect, lambda table: None, lambda first: None, backoff=Backoff(initial=0, maximum=0))
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
class TestTriggerRows:
    @pytest.fixture
    def cachalot_caches_items(self):
        from cachalot.settings import cachalot_settings

        try:
            with override_settings(CACHALOT_ONLY_CACHABLE_TABLES=["cachecore_testapp_item"]):
                cachalot_settings.reload()  # cachalot reads its settings once
                yield
        finally:
            cachalot_settings.reload()

    def test_a_trigger_row_is_mapped_to_the_watching_namespaces_and_cachalot(self, monkeypatch, cachalot_caches_items):
        bumps = BumpSpy(monkeypatch)
        with temporary_namespace("test.pg.brands", watch=[Item]):
            InvalidationOutbox.objects.create(
                table="cachecore_testapp_item", source="trigger:update", created_at=timezone.now()
            )
            before = get_last_invalidation("cachecore_testapp_item")
            invalidation.flush_pending()
            assert bumps.count("test.pg.brands") == 1
            assert get_last_invalidation("cachecore_testapp_item") > before
            assert pending_tables() == set()

    def test_a_row_for_an_unwatched_table_is_dropped(self, monkeypatch):
        InvalidationOutbox.objects.create(table="some_table", source="trigger:insert", created_at=timezone.now())
        invalidation.flush_pending()
        assert pending_tables() == set()

    def test_registry_maps_tables_to_namespaces(self):
        with temporary_namespace("test.pg.reg", watch=[Item]):
            assert "test.pg.reg" in invalidation.watched_tables()["cachecore_testapp_item"]


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
            InstallNotifyTriggers(["cachecore_testapp_item"]).database_forwards("cachecore_testapp", editor, None, None)
            InstallNotifyTriggers(["cachecore_testapp_item"]).database_backwards(
                "cachecore_testapp", editor, None, None
            )
        assert pgnotify.installed_triggers() == []

    @pytest.mark.django_db(transaction=True)
    def test_relay_command_polls_elsewhere_than_postgresql(self, capsys):
        if connection.vendor == "postgresql":
            pytest.skip("checks the non-PostgreSQL path")
        call_command("cache_relay", max_seconds=0.3)
        assert "(polling every" in capsys.readouterr().out


@pytest.fixture
def relay_thread():
    """A running relay thread of this process (LISTEN + poll), as every web process has."""
    running = relay.RelayThread(relay.Relay(), poll=5.0, listen=True).start()
    assert wait_until(lambda: running._listener is not None and running._listener.listening.is_set(), timeout=10)
    yield running
    running.stop(timeout=10)


def brand_names():
    return sorted(Item.objects.values_list("name", flat=True))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
class TestOnPostgres:
    def test_operation_reverses_and_reapplies(self):
        operation = InstallNotifyTriggers(["cachecore_testapp_part"])
        with connection.schema_editor() as editor:
            operation.database_backwards("cachecore_testapp", editor, None, None)
        assert "cachecore_testapp_part" not in pgnotify.installed_triggers()
        assert "cachecore_testapp_item" in pgnotify.installed_triggers()  # the shared function survived
        with connection.schema_editor() as editor:
            operation.database_forwards("cachecore_testapp", editor, None, None)
        assert "cachecore_testapp_part" in pgnotify.installed_triggers()

    def test_a_raw_sql_write_records_one_row_per_table_and_transaction(self):
        brand = Item.objects.create(owner=Owner.objects.create(name="c"), name="old")
        InvalidationOutbox.objects.all().delete()
        with connection.cursor() as cursor:  # bypasses the ORM: no signal, only the trigger
            cursor.execute("BEGIN")
            for _ in range(5):
                cursor.execute("UPDATE cachecore_testapp_item SET name = 'new' WHERE id = %s", [brand.pk])
            cursor.execute("COMMIT")
        rows = list(InvalidationOutbox.objects.filter(table="cachecore_testapp_item").values_list("source", flat=True))
        assert rows == ["trigger:update"]

    def test_a_rolled_back_raw_write_leaves_no_row(self):
        Item.objects.create(owner=Owner.objects.create(name="c"), name="old")
        InvalidationOutbox.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("UPDATE cachecore_testapp_item SET name = 'gone'")
            cursor.execute("ROLLBACK")
        assert InvalidationOutbox.objects.count() == 0

    def test_raw_sql_update_is_applied_by_a_relay_woken_by_notify(self, relay_thread):
        brand = Item.objects.create(owner=Owner.objects.create(name="c"), name="old")
        with temporary_namespace("test.pg.raw", watch=[Item], l1_ttl=300, l2_ttl=300, debounce=0):
            invalidation.flush_pending()
            assert get_or_compute("test.pg.raw", {}, brand_names)[0] == ["old"]
            with connection.cursor() as cursor:
                cursor.execute("UPDATE cachecore_testapp_item SET name = 'new' WHERE id = %s", [brand.pk])
            # The relay polls every 5 s here: well before that, NOTIFY has woken it.
            assert wait_until(lambda: get_or_compute("test.pg.raw", {}, brand_names)[0] == ["new"], timeout=3)
        assert relay_thread._listener.stats.notifications >= 1

    def test_a_reconnect_invalidates_nothing_and_loses_nothing(self, relay_thread, monkeypatch):
        # Finding 6: the first wave invalidated every namespace on each (re)connect.
        bumps = BumpSpy(monkeypatch)
        listener = relay_thread._listener
        brand = Item.objects.create(owner=Owner.objects.create(name="c"), name="old")
        with temporary_namespace("test.pg.kill", watch=[Item], l1_ttl=300, l2_ttl=300, debounce=0):
            invalidation.flush_pending()
            # The create's rows may be leased by the fixture's relay (another Relay, which the
            # drain skips): count from the moment they are all applied, not from the drain.
            assert wait_until(lambda: not InvalidationOutbox.objects.exists(), timeout=10)
            bumps.calls.clear()
            assert get_or_compute("test.pg.kill", {}, brand_names)[0] == ["old"]
            old_pid = listener.backend_pid
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
                # Written while the listener is away: the row waits in the outbox.
                cursor.execute("UPDATE cachecore_testapp_item SET name = 'new' WHERE id = %s", [brand.pk])
            assert wait_until(lambda: listener.stats.connects >= 2 and listener.listening.is_set(), timeout=15)
            assert listener.backend_pid != old_pid
            assert wait_until(lambda: get_or_compute("test.pg.kill", {}, brand_names)[0] == ["new"], timeout=10)
            assert bumps.count("test.pg.kill") == 1  # the raw write's row, not a reconnect sweep
            assert all(name.startswith("test.pg.kill") for name, _ in bumps.calls if name.startswith("test."))

    def test_command_bounded_run(self, capsys):
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            call_command("listen_invalidations", max_seconds=0.5)  # the alias of cache_relay
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        out = capsys.readouterr().out
        assert "(LISTEN/NOTIFY + polling every" in out
        assert "Stopped:" in out and "0 row(s) pending" in out

    def test_command_rejects_bad_bounds(self):
        with pytest.raises(CommandError, match="--max-seconds must be greater than 0"):
            call_command("cache_relay", max_seconds=0)

    def test_sigterm_stops_the_command_cleanly(self):
        db = connection.settings_dict
        from urllib.parse import quote

        auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": url}
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "cache_relay"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().startswith("Relay running"), proc.stderr.read()
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
    def broken(table):
        raise LookupError("unregistered namespace")

    conn = FakeConnection([[FakeNotify("a"), FakeNotify("b")]], pid=9)
    listener = Listener(lambda: conn, broken, lambda first: None, backoff=Backoff(initial=0, maximum=0))
    stats = listener.run(max_notifications=2)
    assert (stats.notifications, stats.connects, stats.lost_connections) == (2, 1, 0)
